package sweep_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/pace"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/sim"
	"github.com/bestbefore/bestbefore/pkg/stats"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// stallingStepper is a simulated service whose generator is held off its
// cores during the first step at one rate: 3% of that step's requests
// wait extra (the stall), and the stall probe says so, as a busy machine
// does to a real run.
type stallingStepper struct {
	inner   sweep.Stepper
	at      float64
	stall   time.Duration // how long the process was held
	extra   time.Duration // what the held requests' latency reads
	stalled int
	// lagAll, when set, makes every step's sends go this late at the p99,
	// with the process held about as long: a machine busy all run.
	lagAll time.Duration
}

func (s *stallingStepper) Step(ctx context.Context, feed attack.Feed, spec attack.StepSpec) (*attack.StepStats, error) {
	ss, err := s.inner.Step(ctx, feed, spec)
	if err == nil && ss != nil && s.lagAll > 0 {
		n := ss.SendLag.TotalCount()
		ss.SendLag.Reset()
		_ = ss.SendLag.RecordValues(50, 95*n/100)
		_ = ss.SendLag.RecordValues(s.lagAll.Microseconds(), 5*n/100+1)
		ss.Stall = stats.New()
		_ = ss.Stall.RecordValues(100, 95*n/100)
		_ = ss.Stall.RecordValues(s.lagAll.Microseconds()*4/5, 5*n/100+1)
		return ss, nil
	}
	if err != nil || ss == nil || spec.Rate != s.at || s.stalled > 0 {
		return ss, err
	}
	s.stalled++
	ss.Stall = stats.New()
	n := ss.Latency.TotalCount()
	_ = ss.Stall.RecordValues(100, 97*n/100)
	_ = ss.Stall.RecordValues(s.stall.Microseconds(), 3*n/100+1)
	_ = ss.Latency.RecordValues(s.extra.Microseconds(), 3*n/100+1)
	return ss, nil
}

// A failure the generator's stalls explain is not the service's: the step
// is set aside, measured again, and the best-before is what the service
// sustains (k = 8 slots × 20 ms: 400 QPS). A failure far past what the
// stalls explain stands.
func TestStalledGeneratorIsNotAFailingService(t *testing.T) {
	c := sim.Case{
		Seed:    7,
		Service: sim.Service{Slots: 8, Time: sim.Dist{Kind: sim.Fixed, Mean: 20 * time.Millisecond}},
		Arrival: pace.ProcessPoisson, Step: 3 * time.Second,
		StartQPS: 100, StepQPS: 100, MaxQPS: 640, P99: 100 * time.Millisecond,
	}
	run := func(extra time.Duration) (*result.Result, *stallingStepper) {
		t.Helper()
		s, err := c.Scenario(nil)
		if err != nil {
			t.Fatal(err)
		}
		st := &stallingStepper{inner: sim.NewStepper(c.Service, c.Timeout(), c.Seed), at: 200, stall: 30 * time.Millisecond, extra: extra}
		r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, Stepper: st})
		if err != nil {
			t.Fatal(err)
		}
		return r, st
	}

	// Held 30 ms, the requests read 110 ms against a 100 ms p99: the
	// stall explains the excess.
	r, st := run(110 * time.Millisecond)
	if st.stalled != 1 {
		t.Fatalf("the stepper stalled %d steps, want 1", st.stalled)
	}
	var held, again *result.Step
	for i := range r.Steps {
		s := &r.Steps[i]
		if s.OfferedQPS != 200 {
			continue
		}
		if held == nil {
			held = s
		} else if again == nil {
			again = s
		}
	}
	if held == nil || !held.Generator.Saturated || !strings.HasPrefix(held.Generator.SaturatedWhy, sweep.StalledWhy) {
		t.Fatalf("the stalled step at 200 QPS is not set aside as the generator's: %+v", held)
	}
	if again == nil || !again.SLOPass {
		t.Fatalf("the stalled step was not measured again, or the second look failed: %+v", again)
	}
	capacity := c.Service.Capacity()
	if bb := r.BestBefore.QPS; bb < 0.85*capacity || bb > capacity {
		t.Errorf("best-before %.1f QPS, want within 85-100%% of the capacity %.0f", bb, capacity)
	}
	if w := strings.Join(r.Warnings, "\n"); !strings.Contains(w, "kept the generator's process from running") {
		t.Errorf("the summary does not say the machine held the generator:\n%s", w)
	}

	// The same stall, the requests reading 300 ms: the service's own
	// failure, whatever the machine did.
	r, _ = run(300 * time.Millisecond)
	if bb := r.BestBefore.QPS; bb >= 200 {
		t.Errorf("a failure at 200 QPS three times past its objective was excused by a 30 ms stall: best-before %.1f", bb)
	}
}

// Sends that went late because the machine held the generator (not
// because it had too much to send) do not stop the ramp: latency counts
// the lateness against the service, so a pass stands. Before, the first
// such step ended the ramp and a busy machine cut the best-before to a
// fraction of the capacity.
func TestBusyMachineLateSendsDoNotStopTheRamp(t *testing.T) {
	c := sim.Case{
		Seed:    11,
		Service: sim.Service{Slots: 8, Time: sim.Dist{Kind: sim.Fixed, Mean: 20 * time.Millisecond}},
		Arrival: pace.ProcessConstant, Step: 3 * time.Second,
		StartQPS: 100, StepQPS: 100, MaxQPS: 640, P99: 100 * time.Millisecond,
	}
	s, err := c.Scenario(nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &stallingStepper{inner: sim.NewStepper(c.Service, c.Timeout(), c.Seed), lagAll: 15 * time.Millisecond}
	r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, Stepper: st})
	if err != nil {
		t.Fatal(err)
	}
	capacity := c.Service.Capacity()
	if bb := r.BestBefore.QPS; bb < 0.85*capacity || bb > capacity {
		t.Errorf("best-before %.1f QPS with every send late by a busy machine, want within 85-100%% of the capacity %.0f (limited by %s)", bb, capacity, r.BestBefore.LimitedBy)
	}
	first := r.Steps[0]
	if first.Generator.Saturated {
		t.Errorf("a passing step whose sends a busy machine delayed is marked saturated: %s", first.Generator.SaturatedWhy)
	}
	if w := strings.Join(first.Warnings, "\n"); !strings.Contains(w, "the machine is busy") {
		t.Errorf("the step does not say its sends went late on a busy machine:\n%s", w)
	}
}
