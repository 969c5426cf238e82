//go:build gaterates

package scripts_test

// The gate's measured error rates, on the bundled target, live: how often
// `compare` calls two runs of the same service a regression (A/A), how
// often it catches the service made 20% slower (A/B), and whether it
// catches a 2× slowdown with single runs on 2 s steps. It runs the shipped
// CI scenario the way scripts/ci-gate.sh does (a 5-run baseline against a
// 1-run candidate, the scenario's gate thresholds), and judges the same
// runs one a side too (the baseline's first run against each candidate;
// GATE_RATES_ONE_SIDE=1 runs only those, about 40 s a pair); it takes
// about 100 s a pair on a 2-core machine:
//
//	go test -tags gaterates -run TestGateRates -timeout 3h -v ./scripts
//
// GATE_RATES_PAIRS (default 20) sets the number of pairs; GATE_RATES_DIR
// keeps the runs (default a temporary directory), and with
// GATE_RATES_REUSE=1 the verdicts are computed again from the runs kept
// there, without running anything: after a change to the statistics.
// The rates measured, the machine and the date are in docs/ci.md.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/compare"
	"github.com/bestbefore/bestbefore/pkg/result"
)

func TestGateRates(t *testing.T) {
	pairs := 20
	if v, err := strconv.Atoi(os.Getenv("GATE_RATES_PAIRS")); err == nil && v > 0 {
		pairs = v
	}
	dir := os.Getenv("GATE_RATES_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	reuse := os.Getenv("GATE_RATES_REUSE") == "1"
	bin := filepath.Join(t.TempDir(), "bestbefore")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	common := []string{"--quiet", "--set", "monitor.max_send_lag=20ms"}
	run := func(out string, args ...string) {
		if reuse {
			return
		}
		os.RemoveAll(out)
		cmd := exec.Command(bin, append(append([]string{"run", "../scenarios/ci.yaml", "--out", out}, common...), args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run %s: %v\n%s", out, err, b)
		}
	}
	verdict := func(base, cand string) compare.Verdict {
		cmd := exec.Command(bin, "compare", base, cand, "--scenario", "../scenarios/ci.yaml", "--json")
		b, _ := cmd.Output()
		var rep compare.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("compare %s %s: %v\n%s", base, cand, err, b)
		}
		return rep.Verdict
	}
	counts := map[string]map[compare.Verdict]int{"A/A": {}, "A/B +20%": {}, "2x, single runs": {}, "A/A, one run a side": {}, "A/B +20%, one run a side": {}}
	var aaRuns []*result.Result
	start := time.Now()
	// GATE_RATES_ONE_SIDE=1 runs only what the one-run-a-side verdicts
	// need: one baseline run and the two candidates (about 40 s a pair).
	oneSide := os.Getenv("GATE_RATES_ONE_SIDE") == "1"
	if oneSide {
		counts = map[string]map[compare.Verdict]int{"A/A, one run a side": {}, "A/B +20%, one run a side": {}}
	}
	for i := 0; i < pairs; i++ {
		p := filepath.Join(dir, fmt.Sprintf("pair-%02d", i))
		if oneSide {
			run(filepath.Join(p, "base", "rep-01"))
		} else {
			run(filepath.Join(p, "base"), "--repeat", "5")
		}
		run(filepath.Join(p, "a"))
		run(filepath.Join(p, "b"), "--set", "target.bundled.lookup=24ms", "--set", "target.bundled.lookup_p99=60ms")
		if !oneSide {
			run(filepath.Join(p, "c"), "--set", "target.bundled.lookup=40ms", "--set", "target.bundled.lookup_p99=100ms")
			counts["A/A"][verdict(filepath.Join(p, "base"), filepath.Join(p, "a"))]++
			counts["A/B +20%"][verdict(filepath.Join(p, "base"), filepath.Join(p, "b"))]++
			counts["2x, single runs"][verdict(filepath.Join(p, "base", "rep-01", "result.json"), filepath.Join(p, "c"))]++
		}
		// The same runs, one a side: the baseline's first run against each.
		counts["A/A, one run a side"][verdict(filepath.Join(p, "base", "rep-01", "result.json"), filepath.Join(p, "a"))]++
		counts["A/B +20%, one run a side"][verdict(filepath.Join(p, "base", "rep-01", "result.json"), filepath.Join(p, "b"))]++
		if r, err := result.Read(filepath.Join(p, "a", "result.json")); err == nil {
			aaRuns = append(aaRuns, r)
		}
		t.Logf("pair %d/%d after %v: %v", i+1, pairs, time.Since(start).Round(time.Second), counts)
	}
	if n, err := compare.MeasureNoise(aaRuns); err == nil {
		t.Logf("noise floor of this machine over the A runs: p50 %.1f%%, p99 %.1f%%, p99.9 %.1f%% (%s)", 100*n.P50, 100*n.P99, 100*n.P999, n.Source)
	}
	t.Logf("%d pairs on %s/%s, %d CPUs, %s: %v", pairs, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().Format(time.DateOnly), counts)
	if oneSide {
		aa, ab := counts["A/A, one run a side"], counts["A/B +20%, one run a side"]
		if fp := float64(aa[compare.Regression]) / float64(pairs); fp > 0.05 {
			t.Errorf("A/A false regressions with one run a side %.0f%%, want at most 5%%", 100*fp)
		}
		if det := float64(ab[compare.Regression]) / float64(pairs); det < 0.90 {
			t.Errorf("20%% slowdowns caught with one run a side %.0f%%, want at least 90%%", 100*det)
		}
		return
	}
	aa, ab, twice := counts["A/A"], counts["A/B +20%"], counts["2x, single runs"]
	if fp := float64(aa[compare.Regression]) / float64(pairs); fp > 0.05 {
		t.Errorf("A/A false regressions %.0f%%, want at most 5%%", 100*fp)
	}
	if det := float64(ab[compare.Regression]) / float64(pairs); det < 0.95 {
		t.Errorf("20%% slowdowns caught %.0f%%, want at least 95%%", 100*det)
	}
	if twice[compare.Regression] != pairs {
		t.Errorf("2× slowdowns caught %d of %d with single runs", twice[compare.Regression], pairs)
	}
}
