package sim_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/pace"
	"github.com/bestbefore/bestbefore/pkg/sim"
)

// The oracle's truth is Service.Capacity: driven at twice it for 20 s,
// the simulated service delivers it, whatever its distribution, and with
// stop-the-world stalls taking their share of the time.
func TestSimulatedServiceDeliversItsCapacity(t *testing.T) {
	for _, svc := range []sim.Service{
		{Slots: 4, Time: sim.Dist{Kind: sim.Fixed, Mean: 10 * time.Millisecond}},
		{Slots: 8, Time: sim.Dist{Kind: sim.Exponential, Mean: 20 * time.Millisecond}},
		{Slots: 16, Time: sim.Dist{Kind: sim.Lognormal, Mean: 30 * time.Millisecond, Spread: 1}},
		{Slots: 2, Time: sim.Dist{Kind: sim.Bimodal, Mean: 5 * time.Millisecond, Spread: 0.1}},
		{Slots: 4, Time: sim.Dist{Kind: sim.Uniform, Mean: 10 * time.Millisecond, Spread: 0.8}, StallEvery: time.Second, StallFor: 100 * time.Millisecond},
	} {
		capacity := svc.Capacity()
		st := sim.NewStepper(svc, time.Hour, 1)
		spec := attack.StepSpec{Rate: 2 * capacity, Duration: 20 * time.Second, Warmup: 2 * time.Second, Interval: time.Second}
		ss, err := st.Step(context.Background(), &attack.RateFeed{Arrivals: pace.NewConstant(spec.Rate)}, spec)
		if err != nil {
			t.Fatal(err)
		}
		got := float64(ss.Goodput) / ss.Window.Seconds()
		t.Logf("%s: capacity %.1f QPS, delivered %.1f at twice it", svc, capacity, got)
		if math.Abs(got/capacity-1) > 0.03 {
			t.Errorf("%s: delivered %.1f QPS at twice its capacity, want %.1f ±3%%", svc, got, capacity)
		}
	}
}
