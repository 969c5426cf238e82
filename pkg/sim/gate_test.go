package sim_test

import (
	"context"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/compare"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/sim"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// The gate's error rates over simulated pairs: the shipped CI scenario
// against a simulated stand-in for its bundled target (2 nodes × 4 workers,
// lookups of mean 20 ms and p99 about 50 ms), one run a side, judged by
// compare with the scenario's own thresholds. A/A pairs must give at most
// 5% false regressions, and a service 20% slower must be caught in at
// least 90%. Virtual time has no noisy neighbour, so the rates measure
// the statistics, with the machine's noise floor (compare's default)
// assumed as on a real machine. Run with BESTBEFORE_GATE_PAIRS=N (300
// pairs: about a minute). The gate does not meet these goals with one run
// a side yet (docs/ci.md gives the figures): the step at the baseline's
// best-before, a queue at its capacity, differs in p99 by half or more
// from one run to the next, which one run cannot know.
func TestGateRatesOverSimulatedPairs(t *testing.T) {
	pairs, err := strconv.Atoi(os.Getenv("BESTBEFORE_GATE_PAIRS"))
	if err != nil || pairs <= 0 {
		t.Skip("set BESTBEFORE_GATE_PAIRS=N to measure the gate over N simulated pairs (docs/ci.md)")
	}
	s, err := scenario.Load("../../scenarios/ci.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := compare.DefaultConfig()
	g := s.Gate
	p99, bb, er := float64(*g.MaxP99Increase), float64(*g.MaxBestBeforeDrop), float64(*g.MaxErrorRateIncrease)
	cfg.MaxP99Increase, cfg.MaxBestBeforeDrop, cfg.MaxErrorRateIncrease = &p99, &bb, &er
	service := func(mean time.Duration) sim.Service {
		// lognormal with p99 ≈ 2.5 × mean, as the bundled lookup's 20/50 ms
		return sim.Service{Slots: 8, Time: sim.Dist{Kind: sim.Lognormal, Mean: mean, Spread: 0.45}}
	}
	run := func(svc sim.Service, seed uint64) *compare.Side {
		r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, Stepper: sim.NewStepper(svc, s.Load.Timeout.D(), seed)})
		if err != nil {
			t.Fatal(err)
		}
		r.Manifest = result.Manifest{Tool: "bestbefore", CPUs: 2, Scenario: "scenarios/ci.yaml", Seed: int64(seed)}
		return &compare.Side{Label: "run", Paths: []string{"result.json"}, Runs: []*result.Result{r}}
	}
	counts := map[string]map[compare.Verdict]int{"A/A": {}, "A/B +20%": {}}
	for i := range pairs {
		base := run(service(20*time.Millisecond), uint64(3*i+1))
		for name, mean := range map[string]time.Duration{"A/A": 20 * time.Millisecond, "A/B +20%": 24 * time.Millisecond} {
			rep, err := compare.Compare(base, run(service(mean), uint64(3*i+2)), cfg)
			if err != nil {
				t.Fatal(err)
			}
			counts[name][rep.Verdict]++
			if name == "A/A" && rep.Verdict == compare.Regression && testing.Verbose() {
				for _, g := range rep.Regressions() {
					t.Logf("pair %d: %s change %.3f [%.3f, %.3f] p %.3g base %.4g cand %.4g %s", i, g.ID, float64(g.Change), float64(g.Lo), float64(g.Hi), float64(g.PAdj), float64(g.Base.Value), float64(g.Cand.Value), g.Note)
				}
			}
		}
	}
	t.Logf("%d simulated pairs, one run a side, scenarios/ci.yaml's gate: A/A %v; A/B +20%% %v", pairs, counts["A/A"], counts["A/B +20%"])
	if fp := float64(counts["A/A"][compare.Regression]) / float64(pairs); fp > 0.05 {
		t.Errorf("A/A false regressions %.1f%%, want at most 5%%", 100*fp)
	}
	if det := float64(counts["A/B +20%"][compare.Regression]) / float64(pairs); det < 0.90 || math.IsNaN(det) {
		t.Errorf("20%% slowdowns caught %.1f%%, want at least 90%%", 100*det)
	}
}
