package probe

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// fuzzSpecs exercises every kind of monitor.metrics entry.
var fuzzSpecs = []string{
	"target_requests_total",
	`target_requests_total{code="503"}`,
	"target_latency_seconds",
	"go_gc_duration_seconds",
	"go_threads",
	"weird_metric",
	"inf_gauge",
	"ratio:target_cache_hits_total/(target_cache_hits_total+target_cache_misses_total)",
	"ratio:target_requests_total/process_cpu_seconds_total",
}

// FuzzStepFromMetrics feeds two arbitrary /metrics bodies (a step's first
// and last scrape) through the per-step computations: whatever a target
// serves, they must not panic nor produce NaN or infinite figures that
// would break result.json.
func FuzzStepFromMetrics(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "metrics", "*.txt"))
	var seeds []string
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, string(b))
	}
	for _, a := range seeds {
		for _, b := range seeds {
			f.Add(a, b)
		}
	}
	f.Add("", "")
	m := NewMonitor(Config{Metrics: fuzzSpecs})
	f.Fuzz(func(t *testing.T, first, last string) {
		a, errA := ParseMetrics(strings.NewReader(first))
		b, errB := ParseMetrics(strings.NewReader(last))
		if errA != nil || errB != nil {
			return
		}
		var tgt result.TargetResources
		st := newStepState(0)
		wins := []window{{first: &Scrape{Families: a}, last: &Scrape{Families: b}, dt: 1.5}}
		m.targetFromMetrics(&tgt, wins, false, st)
		for name, v := range map[string]float64{
			"cpu": tgt.CPUPercent, "max cpu": tgt.MaxCPUPercent, "rss": tgt.RSSMB, "heap": tgt.HeapMB,
			"gc rate": tgt.GCCyclesPerS, "gc pause": tgt.GCPauseP99MS,
		} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%s = %v", name, v)
			}
		}
		for k, v := range tgt.Metrics {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("metric %s = %v", k, v)
			}
		}
	})
}

// TestStepFromMetricsSeeds checks the seed pair's figures by hand.
func TestStepFromMetricsSeeds(t *testing.T) {
	read := func(name string) *Scrape {
		b, err := os.ReadFile(filepath.Join("testdata", "metrics", name))
		if err != nil {
			t.Fatal(err)
		}
		fams, err := ParseMetrics(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		return &Scrape{Families: fams}
	}
	m := NewMonitor(Config{Metrics: fuzzSpecs[:3]})
	var tgt result.TargetResources
	st := newStepState(0)
	m.targetFromMetrics(&tgt, []window{{first: read("go_service.txt"), last: read("go_service_later.txt"), dt: 10}}, false, st)
	// process_cpu_seconds_total went from 12.34 to 3.1: the target
	// restarted, and 3.1 s of CPU in 10 s is 31 %.
	if math.Abs(tgt.CPUPercent-31) > 1e-9 {
		t.Errorf("cpu %g, want 31 after a restart", tgt.CPUPercent)
	}
	if math.Abs(tgt.GCCyclesPerS-2.3) > 1e-9 {
		t.Errorf("gc %g/s, want 2.3", tgt.GCCyclesPerS)
	}
	// The pause histogram is absent from the first scrape: all 280 pauses
	// count, p99 is in (0.1 ms, 1 ms] → interpolated ≤ 1 ms. It is not the
	// summary's 0.733 ms maximum, since the histogram is preferred.
	if tgt.GCPauseP99MS <= 0.1 || tgt.GCPauseP99MS > 1 || tgt.GCPauseP99MS == 0.733 {
		t.Errorf("gc pause p99 %g ms", tgt.GCPauseP99MS)
	}
	if got := tgt.Metrics["target_requests_total"]; math.Abs(got-1000.3) > 1e-9 {
		t.Errorf("requests %g/s, want 1000.3", got)
	}
	if got := tgt.Metrics[`target_requests_total{code="503"}`]; math.Abs(got-0.3) > 1e-9 {
		t.Errorf("503s %g/s, want 0.3", got)
	}
	// The latency buckets changed layout between scrapes (le=0.1 dropped):
	// the step's 10000 observations are still counted.
	if got := tgt.Metrics["target_latency_seconds.rate"]; math.Abs(got-1000) > 1e-9 {
		t.Errorf("latency rate %g/s, want 1000", got)
	}
	if got, ok := tgt.Metrics["target_latency_seconds.p99"]; !ok || got <= 0 || got > 0.1 {
		t.Errorf("latency p99 %g", got)
	}
}
