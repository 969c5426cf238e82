package capacity_test

import (
	"testing"

	"github.com/bestbefore/bestbefore/pkg/capacity"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// uslSteps builds ramp steps from a known USL target: at offered load q,
// the concurrency needed is found on the model and latency follows from
// Little's law. p99 stays at 30 ms up to the model's peak and climbs
// steeply beyond it, where the target saturates.
func uslSteps(m capacity.USLModel, offered []float64) []result.Step {
	var steps []result.Step
	_, peak := m.Peak()
	for i, q := range offered {
		x := min(q, peak)
		// Smallest n with X(n) ≥ x, by bisection.
		lo, hi := 0.0, 1e6
		if pn, _ := m.Peak(); pn < hi {
			hi = pn
		}
		for range 200 {
			mid := (lo + hi) / 2
			if m.ThroughputAt(mid) < x {
				lo = mid
			} else {
				hi = mid
			}
		}
		n := hi
		mean := n / x * 1000
		p99 := 30.0
		if q > peak {
			p99 *= 10 * q / peak
		}
		steps = append(steps, result.Step{
			Index: i, Phase: result.PhaseRamp, OfferedQPS: q, AchievedQPS: x, Requests: int64(q * 5),
			LatencyMS: result.Latency{Mean: mean, P99: p99},
		})
	}
	return steps
}

func TestModelFromResult(t *testing.T) {
	truth := capacity.USLModel{Sigma: 0.04, Kappa: 0.0005, Lambda: 100}
	_, peak := truth.Peak()
	var offered []float64
	for f := 0.1; f <= 0.96; f += 0.05 {
		offered = append(offered, f*peak)
	}
	offered = append(offered, 1.1*peak, 1.3*peak)
	steps := uslSteps(truth, offered)
	// Steps a sound fit must ignore.
	steps = append(steps,
		result.Step{Index: 90, Phase: result.PhaseRamp, OfferedQPS: 50, AchievedQPS: 5000, Requests: 10, LatencyMS: result.Latency{Mean: 100, P99: 1}, Generator: result.Generator{Saturated: true}},
		result.Step{Index: 91, Phase: result.PhaseHold, OfferedQPS: 60, AchievedQPS: 7000, Requests: 10, LatencyMS: result.Latency{Mean: 100, P99: 1}},
		result.Step{Index: 92, Phase: result.PhaseRamp, OfferedQPS: 70, AchievedQPS: 9000, Requests: 10, ErrorRate: 0.9, LatencyMS: result.Latency{Mean: 100, P99: 1}},
	)
	cm := capacity.ModelFromResult(&result.Result{Steps: steps})
	if cm == nil || cm.USL == nil {
		t.Fatalf("no model: %+v", cm)
	}
	u := cm.USL
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"sigma", u.Sigma, 0.04}, {"kappa", u.Kappa, 0.0005}, {"lambda", u.Lambda, 100}, {"peak qps", u.PeakQPS, peak}} {
		if !within(c.got, c.want, 0.05) {
			t.Errorf("%s = %g, want %g ±5%%", c.name, c.got, c.want)
		}
	}
	if cm.Knee == nil {
		t.Fatal("no knee found")
	}
	if !within(cm.Knee.QPS, 1.1*peak, 1e-9) {
		t.Errorf("knee at %g QPS, want the first overloaded step %g", cm.Knee.QPS, 1.1*peak)
	}
	if capacity.ModelFromResult(&result.Result{}) != nil {
		t.Error("a result without steps has no model")
	}
}

func TestFindKnee(t *testing.T) {
	step := func(i int, q, p99 float64) result.Step {
		return result.Step{Index: i, Phase: result.PhaseRamp, OfferedQPS: q, Requests: 100, LatencyMS: result.Latency{P99: p99}}
	}
	cases := []struct {
		name  string
		steps []result.Step
		want  int // step index, -1 for none
	}{
		{"clear knee", []result.Step{step(0, 100, 10), step(1, 200, 11), step(2, 300, 12), step(3, 400, 15), step(4, 500, 30), step(5, 600, 80)}, 4},
		{"flat", []result.Step{step(0, 100, 10), step(1, 200, 11), step(2, 300, 12), step(3, 400, 13)}, -1},
		{"single spike is noise", []result.Step{step(0, 100, 10), step(1, 200, 11), step(2, 300, 10), step(3, 400, 50), step(4, 500, 12), step(5, 600, 25), step(6, 700, 40)}, 5},
		{"last step only", []result.Step{step(0, 100, 10), step(1, 200, 10), step(2, 300, 10), step(3, 400, 25)}, 3},
		{"refine steps sorted by load", []result.Step{step(0, 100, 10), step(1, 200, 10), step(2, 400, 60), step(3, 800, 90), step(4, 300, 30)}, 4},
		{"too few", []result.Step{step(0, 100, 10), step(1, 200, 100)}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := capacity.FindKnee(c.steps, 0)
			switch {
			case c.want < 0 && k != nil:
				t.Errorf("knee %+v, want none", k)
			case c.want >= 0 && (k == nil || k.Step != c.want):
				t.Errorf("knee %+v, want step %d", k, c.want)
			}
		})
	}
}
