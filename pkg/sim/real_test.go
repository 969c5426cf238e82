package sim_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/sim"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// The oracle stays honest against reality: a real loopback server of k
// slots × S and the simulation of the same service, ramped by the same
// scenario with the same arrival seed, agree on the best-before within
// 5%. The simulated service time is the real one as measured closed-loop
// (k ÷ its capacity: S plus what HTTP and the timer add). About three
// minutes; .ci/run sets BESTBEFORE_SIMCHECK=1.
func TestSimulationAgreesWithARealServer(t *testing.T) {
	if ok, _ := strconv.ParseBool(os.Getenv("BESTBEFORE_SIMCHECK")); !ok || testing.Short() {
		t.Skip("set BESTBEFORE_SIMCHECK=1 to ramp six real servers and their simulations (about 3 minutes)")
	}
	for _, g := range []struct {
		k       int
		s, j    time.Duration
		arrival string
	}{
		{2, 10 * time.Millisecond, 0, "poisson"},
		{2, 10 * time.Millisecond, 0, "constant"},
		{8, 20 * time.Millisecond, 0, "poisson"},
		{8, 20 * time.Millisecond, 0, "constant"},
		{6, 12 * time.Millisecond, 6 * time.Millisecond, "poisson"},
		{16, 50 * time.Millisecond, 0, "bursty"},
	} {
		t.Run(fmt.Sprintf("%dx%v_%s", g.k, g.s, g.arrival), func(t *testing.T) {
			testserver.Serialize(t)
			srv := testserver.NewSlots(g.k, g.s)
			srv.Jitter = g.j
			ts := testserver.Start(t, srv)
			ctx := context.Background()
			closed := testserver.ClosedLoop(ctx, ts.URL+"/", max(2*g.k, 4), 6*time.Second) // 6 s: the effective service time the simulation is given varies less
			effective := time.Duration(float64(g.k) / closed * float64(time.Second))
			dist := sim.Dist{Kind: sim.Fixed, Mean: effective}
			if g.j > 0 {
				dist = sim.Dist{Kind: sim.Uniform, Mean: effective, Spread: float64(g.j) / float64(effective)}
			}
			c := sim.Case{Seed: 77, Service: sim.Service{Slots: g.k, Time: dist}, Arrival: g.arrival,
				Step: 2 * time.Second, StartQPS: math.Round(0.6 * closed), StepQPS: math.Round(0.1 * closed),
				MaxQPS: math.Round(1.3 * closed), P99: 40 * g.s}
			if g.arrival == "bursty" {
				c.Burstiness = 0.5
			}
			s, err := c.Scenario(nil)
			if err != nil {
				t.Fatal(err)
			}
			real := rampReal(t, s, ts.URL)
			// The simulation's answer is the median of five seeds: one
			// seeded Poisson ramp of 2 s steps lands anywhere in a few
			// percent (a 424.6 against 456.8 for the same service), and
			// the real run is one draw already.
			var sims []*result.Result
			for i := range 5 {
				ci := c
				ci.Seed = c.Seed + uint64(i)
				r, err := ci.Run(ctx)
				if err != nil {
					t.Fatal(err)
				}
				sims = append(sims, r)
			}
			sort.Slice(sims, func(i, j int) bool { return sims[i].BestBefore.QPS < sims[j].BestBefore.QPS })
			simulated := sims[len(sims)/2]
			rb, sb := real.BestBefore, simulated.BestBefore
			t.Logf("%d × %v (±%v), %s: closed-loop %.1f QPS (effective S %v); real best-before %.1f (%s), simulated %.1f (%s)",
				g.k, g.s, g.j, g.arrival, closed, effective.Round(10*time.Microsecond), rb.QPS, rb.LimitedBy, sb.QPS, sb.LimitedBy)
			if !rb.Found || !sb.Found {
				t.Fatalf("real found %v, simulated found %v", rb.Found, sb.Found)
			}
			if d := rb.QPS/sb.QPS - 1; math.Abs(d) > 0.05 {
				t.Errorf("real best-before %.1f QPS and simulated %.1f differ by %+.1f%%, want within 5%%", rb.QPS, sb.QPS, 100*d)
			}
		})
	}
}

// rampReal ramps a real loopback server with the scenario, as run does,
// allowing the send lag of a shared machine (25 ms: it is not the
// target's).
func rampReal(t *testing.T, s *scenario.Scenario, url string) *result.Result {
	t.Helper()
	s.Monitor.MaxSendLag = scenario.Duration(25 * time.Millisecond)
	traffic := filepath.Join(t.TempDir(), "t.ndjson")
	if err := os.WriteFile(traffic, []byte(`{"path":"/"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, TargetURLs: []string{url}, TrafficPath: traffic})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range r.Steps {
		g := st.Generator
		t.Logf("  real %-6s %6.1f QPS pass %-5v %v lag p99 %.2fms stall p99 %.2fms sat %v %s", st.Phase, st.OfferedQPS, st.SLOPass, st.Failed, g.SendLagP99MS, g.StallP99MS, g.Saturated, g.SaturatedWhy)
	}
	return r
}
