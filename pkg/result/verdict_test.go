package result_test

import (
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

func TestJudgeThroughput(t *testing.T) {
	r := 0.97
	o := result.Objectives{"throughput": r}
	tests := []struct {
		name string
		step result.Step
		fail bool
	}{
		{"full rate", result.Step{OfferedQPS: 100, AchievedQPS: 100, DurationS: 3, WarmupS: 1, Requests: 300}, false},
		{"one request short at a low rate", result.Step{OfferedQPS: 10, AchievedQPS: 29.0 / 3, DurationS: 3, WarmupS: 1, Requests: 30}, false},
		{"falling behind", result.Step{OfferedQPS: 212, AchievedQPS: 196, DurationS: 1.5, WarmupS: 0.5, Requests: 318}, true},
		{"no warmup: the first in flight forgiven", result.Step{OfferedQPS: 100, AchievedQPS: 95, DurationS: 1, Requests: 100, LatencyMS: result.Latency{P50: 40}}, false},
		{"no warmup, far behind", result.Step{OfferedQPS: 100, AchievedQPS: 80, DurationS: 1, Requests: 100, LatencyMS: result.Latency{P50: 40}}, true},
		{"a shard judged on its share", result.Step{OfferedQPS: 200, SentQPS: 100, AchievedQPS: 99, DurationS: 3, WarmupS: 1, Requests: 300}, false},
	}
	for _, tt := range tests {
		failed := false
		for _, f := range result.Judge(&tt.step, o) {
			if f.Objective == "throughput" {
				failed = true
			}
		}
		if failed != tt.fail {
			t.Errorf("%s: throughput failed = %v, want %v", tt.name, failed, tt.fail)
		}
	}
}

// Percentiles are within the histogram's three significant digits of the
// exact values, and each is the one stats.ValueAtQuantile reads.
func TestSummarizeKnownDistribution(t *testing.T) {
	r := stats.NewRecorder()
	for i := 1; i <= 10000; i++ { // 0.1 ms .. 1000 ms, uniform
		r.Record(time.Duration(i) * 100 * time.Microsecond)
	}
	l := result.Summarize(r.H)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", l.P50, 500}, {"p90", l.P90, 900}, {"p99", l.P99, 990}, {"p99.9", l.P999, 999}, {"max", l.Max, 1000}, {"mean", l.Mean, 500.05},
	} {
		if d := c.got/c.want - 1; d < -0.001 || d > 0.001 {
			t.Errorf("%s = %.3f ms, want %.3f ±0.1%%", c.name, c.got, c.want)
		}
	}
	if got := stats.QuantileMS(r.H, 99); got != l.P99 {
		t.Errorf("QuantileMS(99) = %v, Summarize p99 = %v", got, l.P99)
	}
	if result.Summarize(nil) != result.Summarize(stats.New()) || result.Summarize(nil) != (result.Latency{}) {
		t.Error("an empty histogram must summarize to zeros")
	}
}

// A pass closer to the lowest failure than its resolution, or above the
// goodput the failing step delivered, cannot set the best-before.
func TestBestBeforeTrustsOnlyResolvedPasses(t *testing.T) {
	step := func(i int, q, achieved float64, pass bool) result.Step {
		s := result.Step{Index: i, Phase: result.PhaseRamp, OfferedQPS: q, AchievedQPS: achieved, DurationS: 1.5, Requests: 100, SLOPass: pass, LatencyMS: result.Latency{P50: 25}}
		if !pass {
			s.Failed = []string{"steady"}
		}
		return s
	}
	// 160 failed delivering 154.7, which vouches for 151.6 (2% less, what
	// a step resolves): 152 and 156 passed but claim more than that.
	steps := []result.Step{step(0, 144, 144, true), step(1, 160, 154.7, false), step(2, 150, 150, true), step(3, 152, 152, true), step(4, 156, 156, true)}
	if bb := result.ComputeBestBefore(steps, 1, 1); bb.QPS != 150 || bb.FirstFailStep != 1 {
		t.Errorf("best-before %v (first fail step %d), want 150: 152 and 156 are above the 151.6 QPS the failing step's goodput vouches for", bb.QPS, bb.FirstFailStep)
	}
	// 160 failed without falling behind: 157 is within 2% of it.
	steps = []result.Step{step(0, 144, 144, true), step(1, 160, 160, false), step(2, 157, 157, true), step(3, 155, 155, true)}
	if bb := result.ComputeBestBefore(steps, 1, 1); bb.QPS != 155 {
		t.Errorf("best-before %v, want 155: 157 lies within the 2%% resolution of the failure at 160", bb.QPS)
	}
	// A long step's resolution is its p50 over the window, never under 2%.
	long := result.Step{DurationS: 0.5, LatencyMS: result.Latency{P50: 50}}
	if r := result.Resolution(&long); r != 0.1 {
		t.Errorf("resolution of a 0.5 s window at p50 50 ms = %v, want 0.1", r)
	}
}

// Every objective is judged and reported from the one catalogue: a step
// that broke only the GC pause objective names it, p95 and p99.99 are
// measured from the histogram, and the catalogue formats its own units.
func TestCatalogueJudgesEveryObjective(t *testing.T) {
	r := stats.NewRecorder()
	for i := 1; i <= 10000; i++ {
		r.Record(time.Duration(i) * 10 * time.Microsecond) // 0.01 .. 100 ms
	}
	h, _ := stats.Encode(r.H)
	gc, p95, p9999 := 5.0, 96.0, 99.0
	o := result.Objectives{"gc_pause_p99": gc, "latency.p95": p95, "latency.p9999": p9999}
	s := result.Step{Requests: 10000, Histogram: h, LatencyMS: result.Summarize(r.H), Target: &result.TargetResources{GCPauseP99MS: 50}}
	result.ApplyJudgement(&s, o)
	if len(s.Failed) != 2 || s.Failed[0] != "gc_pause_p99" || s.Failed[1] != "latency.p9999" {
		t.Fatalf("failed %v, want gc_pause_p99 then latency.p9999", s.Failed)
	}
	keys := map[string]bool{}
	for _, f := range o.InForce() {
		keys[f.Key] = true
		v, ok := f.Measure(&s)
		if !ok {
			t.Errorf("%s: not measured", f.Key)
		}
		if kept := f.Verdict(&s); kept == (v > f.Bound) {
			t.Errorf("%s: verdict %v for %s against %s", f.Key, kept, f.Format(v), f.Format(f.Bound))
		}
	}
	if !keys["gc_pause_p99"] || !keys["latency.p95"] || !keys["latency.p9999"] || len(keys) != 3 {
		t.Errorf("objectives in force %v", keys)
	}
	for _, k := range result.LatencyKeys() {
		if _, ok := result.LatencyQuantile(k); !ok {
			t.Errorf("latency key %s has no quantile", k)
		}
	}
}
