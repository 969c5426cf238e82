package result_test

import (
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// A failure the generator's own stalls can account for is set aside; one
// they cannot stands, whatever the stalls were.
func TestStallExplains(t *testing.T) {
	p99, p50, er := 100.0, 40.0, 0.001
	o := result.Objectives{"latency.p99": p99, "latency.p50": p50, "error_rate": er}
	base := func(lat result.Latency, errors int64, stallP50, stallP99 float64) result.Step {
		st := result.Step{OfferedQPS: 100, AchievedQPS: 100, DurationS: 3, WarmupS: 1, Requests: 300, Successes: 300 - errors, Errors: errors, LatencyMS: lat}
		if errors > 0 {
			st.ErrorRate = float64(errors) / 300
		}
		st.Generator.StallP50MS, st.Generator.StallP99MS, st.Generator.StallMaxMS = stallP50, stallP99, 2*stallP99
		result.ApplyJudgement(&st, o)
		return st
	}
	tests := []struct {
		name    string
		step    result.Step
		explain bool
	}{
		{"p99 over by less than the stall", base(result.Latency{P50: 20, P99: 115}, 0, 1, 20), true},
		{"p99 over by more than the stall", base(result.Latency{P50: 20, P99: 160}, 0, 1, 20), false},
		{"stall within the allowance", base(result.Latency{P50: 20, P99: 105}, 0, 0.5, 8), false},
		{"p50 reads the stall's p50", base(result.Latency{P50: 45, P99: 90}, 0, 1, 20), false},
		{"p50 within the stall's p50", base(result.Latency{P50: 45, P99: 90}, 0, 8, 20), true},
		{"errors are the service's", base(result.Latency{P50: 20, P99: 115}, 3, 1, 20), false},
		{"a pass needs no excuse", base(result.Latency{P50: 20, P99: 90}, 0, 1, 20), false},
	}
	for _, tt := range tests {
		if got := tt.step.StallExplains(o, 10); got != tt.explain {
			t.Errorf("%s (failed %v): StallExplains = %v, want %v", tt.name, tt.step.Failed, got, tt.explain)
		}
	}
}

// When a rule other than "the highest passing step" sets the figure, the
// best-before says which rule and the numbers it used.
func TestBestBeforeSaysWhyAPassDidNotSetIt(t *testing.T) {
	step := func(q, achieved float64, pass bool) result.Step {
		s := result.Step{Phase: result.PhaseRamp, OfferedQPS: q, AchievedQPS: achieved, DurationS: 3, WarmupS: 1,
			Requests: int64(3 * q), Successes: int64(3 * q), SLOPass: pass, LatencyMS: result.Latency{P50: 20, P99: 70}}
		if !pass {
			s.Failed = []string{"error_rate"}
		}
		return s
	}
	steps := []result.Step{step(300, 300, true), step(600, 600, true), step(900, 900, true), step(1200, 1199, true), step(1500, 1100, false)}
	bb := result.ComputeBestBefore(steps, 3, 0.8)
	if !bb.Found || bb.QPS != 900 {
		t.Fatalf("best-before %+v, want 900 (1200 is above the goodput the failing step delivered)", bb)
	}
	for _, want := range []string{"1200 QPS passed", "1500 QPS", "1100 QPS of goodput", "vouches for"} {
		if !strings.Contains(bb.Why, want) {
			t.Errorf("why %q lacks %q", bb.Why, want)
		}
	}
	// The highest pass set it: nothing to explain.
	steps[4].AchievedQPS = 1490
	if bb := result.ComputeBestBefore(steps, 3, 0.8); bb.QPS != 1200 || bb.Why != "" {
		t.Errorf("best-before %v why %q, want 1200 with no explanation", bb.QPS, bb.Why)
	}
	// Within the resolution of the failure.
	steps[3].OfferedQPS, steps[3].AchievedQPS, steps[4].AchievedQPS = 1490, 1490, 1500
	if bb := result.ComputeBestBefore(steps, 3, 0.8); bb.QPS != 900 || !strings.Contains(bb.Why, "within 1% of the failure at 1500 QPS") {
		t.Errorf("best-before %v why %q, want 900 and the resolution rule", bb.QPS, bb.Why)
	}
}
