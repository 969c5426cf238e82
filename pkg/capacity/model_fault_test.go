package capacity_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/capacity"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// A soak holds one rate: the USL fit over its steps is degenerate (often
// σ = 1, no peak). The model must still encode, or the result.json of a
// whole soak could not be written. Seeded noise, 200 runs of 12 steps.
func TestModelFromConstantRateSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		var steps []result.Step
		for i := 0; i < 12; i++ {
			achieved := 300 * (0.97 + 0.06*rng.Float64())
			mean := 2 + 4*rng.Float64()
			steps = append(steps, result.Step{Index: i, Phase: result.PhaseRamp, OfferedQPS: 300, AchievedQPS: achieved,
				SLOPass: true, Requests: 1500, Successes: 1500, LatencyMS: result.Latency{P50: mean, P99: 2 * mean, Mean: mean},
				InFlightMean: achieved * mean / 1000, LittleConcurrency: achieved * mean / 1000})
		}
		cm := capacity.ModelFromResult(&result.Result{Steps: steps})
		if _, err := json.Marshal(cm); err != nil {
			t.Fatalf("run %d: the capacity model of a constant-rate run does not encode: %v (%+v)", trial, err, cm.USL)
		}
		if cm == nil || cm.USL == nil {
			continue
		}
		for _, v := range []float64{cm.USL.Sigma, cm.USL.Kappa, cm.USL.Lambda, cm.USL.R2, cm.USL.PeakQPS, cm.USL.PeakConcurrency} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("run %d: non-finite USL figure: %+v", trial, cm.USL)
			}
		}
	}
}
