// Package hdrref asks HdrHistogram's reference implementation (the Java
// library, Debian's libhdrhistogram-java) what it reads from histograms
// bestbefore wrote, so that tests hold bestbefore's percentiles to an
// independent implementation rather than to its own reading of the rule.
package hdrref

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// Jar is where Debian's libhdrhistogram-java installs the library.
const Jar = "/usr/share/java/hdrhistogram.jar"

// Reading is what the reference reports for one histogram, in the
// histogram's unit (µs for bestbefore's).
type Reading struct {
	Count  int64
	Values []int64 // at each requested percentile, in order
	Max    int64
}

// Available says whether java and the library are installed. Under CI
// (CI=true) a missing one fails the test instead of skipping it, so the
// cross-check cannot silently stop running.
func Available(t testing.TB) {
	t.Helper()
	_, jerr := exec.LookPath("java")
	_, ferr := os.Stat(Jar)
	if jerr == nil && ferr == nil {
		return
	}
	msg := fmt.Sprintf("HdrHistogram reference check needs java and %s (apt-get install default-jre-headless libhdrhistogram-java)", Jar)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Read returns the reference's reading of each base64 histogram at the
// given percentiles (0-100).
func Read(t testing.TB, hists []string, percentiles []float64) []Reading {
	t.Helper()
	Available(t)
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "HdrPercentiles.java")
	args := []string{"-cp", Jar, src}
	for _, p := range percentiles {
		args = append(args, strconv.FormatFloat(p, 'g', -1, 64))
	}
	cmd := exec.Command("java", args...)
	cmd.Stdin = strings.NewReader(strings.Join(hists, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java HdrPercentiles: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(hists) {
		t.Fatalf("java read %d histograms of %d:\n%s", len(lines), len(hists), out)
	}
	rs := make([]Reading, len(lines))
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) != len(percentiles)+2 {
			t.Fatalf("java line %d: %q", i+1, l)
		}
		v := make([]int64, len(f))
		for j, s := range f {
			if v[j], err = strconv.ParseInt(s, 10, 64); err != nil {
				t.Fatalf("java line %d: %v", i+1, err)
			}
		}
		rs[i] = Reading{Count: v[0], Values: v[1 : len(v)-1], Max: v[len(v)-1]}
	}
	return rs
}

// SummaryPercentiles are the percentiles a step summary reports besides
// its max, in the order of Latency's fields.
var SummaryPercentiles = []float64{50, 90, 99, 99.9}

// MatchSummaries checks that each summary (p50, p90, p99, p99.9, max) is
// what the reference reads from the histogram it was computed from, and
// reports each difference as a test error named by name(i). It returns
// how many values it compared and how many differed.
func MatchSummaries(t testing.TB, hists []string, sums []result.Latency, name func(i int) string) (compared, differ int) {
	t.Helper()
	ref := Read(t, hists, SummaryPercentiles)
	labels := []string{"p50", "p90", "p99", "p99.9", "max"}
	for i, l := range sums {
		if ref[i].Count == 0 {
			t.Errorf("%s: empty histogram", name(i))
			continue
		}
		got := []float64{l.P50, l.P90, l.P99, l.P999, l.Max}
		want := append(append([]int64(nil), ref[i].Values...), ref[i].Max)
		for j, g := range got {
			compared++
			if us := int64(math.Round(g * 1000)); us != want[j] {
				differ++
				t.Errorf("%s %s: bestbefore %d µs, HdrHistogram Java %d µs (n=%d)", name(i), labels[j], us, want[j], ref[i].Count)
			}
		}
	}
	return compared, differ
}

// LogInterval is one interval as HdrHistogram's HistogramLogProcessor
// reads it from an interval log.
type LogInterval struct {
	Timestamp float64 // seconds after the log's StartTime
	Count     int64
}

// ProcessLog runs HdrHistogram's own HistogramLogProcessor on the
// interval log at path with no option but CSV output, as a user would
// (`HistogramLogProcessor -i FILE`), and returns the intervals it read and
// the count of its overall histogram.
func ProcessLog(t testing.TB, path string) (intervals []LogInterval, total int64) {
	t.Helper()
	Available(t)
	out := filepath.Join(t.TempDir(), "processed")
	cmd := exec.Command("java", "-cp", Jar, "org.HdrHistogram.HistogramLogProcessor", "-i", path, "-csv", "-o", out)
	b, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(b, []byte("Exception")) {
		t.Fatalf("HistogramLogProcessor -i %s: %v\n%s", path, err, b)
	}
	csv, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("HistogramLogProcessor wrote no interval file: %v\n%s", err, b)
	}
	for _, l := range strings.Split(string(csv), "\n") {
		f := strings.Split(l, ",")
		if len(f) < 6 || strings.HasPrefix(l, "#") || strings.HasPrefix(l, `"`) {
			continue
		}
		ts, err1 := strconv.ParseFloat(f[0], 64)
		n, err2 := strconv.ParseInt(f[1], 10, 64)
		tot, err3 := strconv.ParseInt(f[5], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("HistogramLogProcessor line %q", l)
		}
		intervals = append(intervals, LogInterval{Timestamp: ts, Count: n})
		total = tot
	}
	return intervals, total
}
