package sim_test

import (
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/sim"
)

// A model fitted to a simulated run reproduces it: slots and service time
// come back, and ramped as the run was it finds the same best-before.
func TestFitRecoversTheService(t *testing.T) {
	c := sim.Case{Seed: 5, Service: sim.Service{Slots: 8, Time: sim.Dist{Kind: sim.Uniform, Mean: 20 * time.Millisecond, Spread: 0.5}},
		Arrival: "poisson", Step: 3 * time.Second, StartQPS: 150, StepQPS: 50, MaxQPS: 600, P99: 2 * time.Second}
	r, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.Manifest.EffectiveYAML = mustScenarioYAML(t, c)
	m, err := sim.Fit(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fitted %d slots, mean %v, saturated goodput %.1f, capacity %.1f, from step %d", m.Service.Slots, m.Service.Time.Mean, m.SaturatedQPS, m.Service.Capacity(), m.ServiceStep)
	if m.Service.Slots != 8 {
		t.Errorf("fitted %d slots, want 8", m.Service.Slots)
	}
	if d := m.Service.Time.Mean.Seconds()/0.020 - 1; math.Abs(d) > 0.05 {
		t.Errorf("fitted mean service time %v, want 20ms ±5%%", m.Service.Time.Mean)
	}
	s, err := sim.Scenario(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict(context.Background(), s, c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.BestBefore.QPS/r.BestBefore.QPS - 1; math.Abs(d) > 0.05 {
		t.Errorf("the fitted model's best-before %.1f differs from the run's %.1f by %+.1f%%", p.BestBefore.QPS, r.BestBefore.QPS, 100*d)
	}
	slower, err := m.With(sim.WhatIf{ServiceScale: 1.25}).Predict(context.Background(), s, c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if d := slower.BestBefore.QPS/(p.BestBefore.QPS/1.25) - 1; math.Abs(d) > 0.08 {
		t.Errorf("25%% slower: best-before %.1f, want about %.1f (the fit's ÷ 1.25)", slower.BestBefore.QPS, p.BestBefore.QPS/1.25)
	}
}

// A run that never reached the service's capacity has nothing to fit
// the slots to, and Fit says so.
func TestFitNeedsARunPastItsCapacity(t *testing.T) {
	c := sim.Case{Seed: 5, Service: sim.Service{Slots: 8, Time: sim.Dist{Kind: sim.Fixed, Mean: 20 * time.Millisecond}},
		Arrival: "constant", Step: 2 * time.Second, StartQPS: 50, StepQPS: 50, MaxQPS: 200, P99: 2 * time.Second}
	r, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Fit(r); err == nil || !strings.Contains(err.Error(), "never loaded the service to its capacity") || !strings.Contains(err.Error(), "max_qps") {
		t.Errorf("Fit of a run limited by max_qps: %v", err)
	}
}

func mustScenarioYAML(t *testing.T, c sim.Case) string {
	t.Helper()
	s, err := c.Scenario(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.EffectiveYAML()
}

// simulate answers "what if the service were 20% slower" from a real run,
// and a real run of the slower service agrees within 10%. Part of the
// BESTBEFORE_SIMCHECK set (.ci/run).
func TestWhatIfAgreesWithARealRunAtTheChangedSetting(t *testing.T) {
	if ok, _ := strconv.ParseBool(os.Getenv("BESTBEFORE_SIMCHECK")); !ok || testing.Short() {
		t.Skip("set BESTBEFORE_SIMCHECK=1 to ramp two real servers (about a minute)")
	}
	testserver.Serialize(t)
	ctx := context.Background()
	rampSlots := func(service time.Duration) *result.Result {
		ts := testserver.Start(t, testserver.NewSlots(8, service))
		c := sim.Case{Seed: 31, Arrival: "poisson", Step: 2 * time.Second, StartQPS: 150, StepQPS: 40, MaxQPS: 560, P99: 2 * time.Second}
		s, err := c.Scenario(nil)
		if err != nil {
			t.Fatal(err)
		}
		r := rampReal(t, s, ts.URL)
		r.Manifest.EffectiveYAML, r.Manifest.Seed = s.EffectiveYAML(), 31
		return r
	}
	base := rampSlots(20 * time.Millisecond)
	m, err := sim.Fit(base)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.Scenario(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	predicted, err := m.With(sim.WhatIf{ServiceScale: 1.2}).Predict(ctx, s, 31)
	if err != nil {
		t.Fatal(err)
	}
	slower := rampSlots(24 * time.Millisecond)
	pb, rb := predicted.BestBefore.QPS, slower.BestBefore.QPS
	t.Logf("model %d slots, mean service %v; measured best-before %.1f; 20%% slower: predicted %.1f, real %.1f", m.Service.Slots, m.Service.Time.Mean, base.BestBefore.QPS, pb, rb)
	if d := pb/rb - 1; math.Abs(d) > 0.10 {
		t.Errorf("predicted best-before %.1f for a 20%% slower service, a real run of one found %.1f (%+.1f%%), want within 10%%", pb, rb, 100*d)
	}
}
