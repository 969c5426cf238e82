package result_test

import (
	"testing"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// A failure the generator's own stalls can account for is set aside; one
// they cannot stands, whatever the stalls were.
func TestStallExplains(t *testing.T) {
	p99, p50, er := 100.0, 40.0, 0.001
	o := result.Objectives{LatencyMS: map[string]float64{"p99": p99, "p50": p50}, ErrorRate: &er}
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
