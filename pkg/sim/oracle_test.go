package sim_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/sim"
)

// The oracle: seeded configurations across the space a user can choose
// (1-64 slots, 1-200 ms, five service-time distributions, stalls and
// errors, constant, Poisson and bursty arrivals, 1-10 s steps, loose and
// tight latency objectives), each ramped through the same sweep and
// judgement as a real run, against a simulated service whose capacity is
// known. go test runs 200 of them; BESTBEFORE_ORACLE=N runs N (.ci/run:
// 2,000) and counts false alarms on every one. Virtual time makes every
// figure exact for a seed, so the bounds below are checked, not sampled.
func TestOracle(t *testing.T) {
	n, alarmEvery := 200, 4
	if v := os.Getenv("BESTBEFORE_ORACLE"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("BESTBEFORE_ORACLE=%q: want a number of cases", v)
		}
		alarmEvery = 1
	}
	start := time.Now()
	vs, err := sim.EvaluateAll(context.Background(), sim.Cases(2, n), runtime.GOMAXPROCS(0), alarmEvery)
	if err != nil {
		t.Fatal(err)
	}
	ss := sim.Summarize(vs)
	t.Logf("%d cases in %v\n%s", n, time.Since(start).Round(time.Second), sim.Markdown(ss))
	oneSecond := 0
	for _, v := range vs {
		// What holds today (docs/oracle.md): never more than 5% above
		// capacity on steps of 2 s and more. A few slots of a
		// heavy-tailed service deliver, within one short window, up to
		// that much more than their long-run capacity, and the
		// failing step's goodput that bounds the best-before carries
		// that noise. One-second steps can pass further above: they are
		// counted and reported, not excused.
		if v.BestBefore <= 1.05*v.Capacity {
			continue
		}
		if v.Case.Step < 2*time.Second {
			oneSecond++
			t.Logf("exception, 1 s steps: %s: best-before %.1f QPS is %.1f%% of the capacity %.1f", v.Case.Name(), v.BestBefore, 100*v.BestBefore/v.Capacity, v.Capacity)
			continue
		}
		t.Errorf("%s: best-before %.1f QPS is %.1f%% of the capacity %.1f", v.Case.Name(), v.BestBefore, 100*v.BestBefore/v.Capacity, v.Capacity)
	}
	if oneSecond > n/50 {
		t.Errorf("%d of %d cases on 1 s steps passed more than 5%% above capacity, want at most 2%% of cases", oneSecond, n)
	}
	loose, within, tight, tightWithin := 0, 0, 0, 0
	for _, s := range ss {
		loose += s.Loose
		within += s.Within
		tight += s.Tight
		tightWithin += s.TightWithin
		for _, load := range sim.AlarmLoads {
			for _, o := range sim.AlarmObjectives {
				// The goal is 1% a step; 5% is what holds today.
				if r := s.AlarmRate(load, o); r > 0.05 && s.Judged[load] >= 100 {
					t.Errorf("%s arrivals at %.0f%% of capacity: %s broke %.1f%% of steps, want at most 5%%", s.Arrival, 100*load, o, 100*r)
				}
			}
		}
	}
	// The goal is 97% within 85-100% (docs/oracle.md says where it stands);
	// these floors are what the judgement reaches today, so that a change
	// that loses ground fails.
	// The first 200 cases hold more of the hard ones than the 2,000 do.
	floor := 0.75
	if n >= 1000 {
		floor = 0.80
	}
	if share := float64(within) / float64(loose); share < floor {
		t.Errorf("%d of %d loose cases (%.1f%%) have a best-before within 85-100%% of capacity, want at least %.0f%%", within, loose, 100*share, 100*floor)
	}
	if share := float64(tightWithin) / float64(tight); share < 0.78 {
		t.Errorf("%d of %d tight cases (%.1f%%) are within ±15%% of the latency limit, want at least 78%%", tightWithin, tight, 100*share)
	}
}

// A service too slow for the steps' length gives no best-before, and the
// run says why, rather than a best-before no step could vouch for.
func TestOracleStepsTooShortSayWhy(t *testing.T) {
	c := sim.Case{Seed: 9, Service: sim.Service{Slots: 1, Time: sim.Dist{Kind: sim.Fixed, Mean: 150 * time.Millisecond}},
		Arrival: "poisson", Step: time.Second, StartQPS: 2, StepQPS: 2, MaxQPS: 12, P99: 5 * time.Second}
	r, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.BestBefore.Found {
		t.Errorf("best-before %.1f QPS from steps of at most %d requests", r.BestBefore.QPS, r.Steps[len(r.Steps)-1].Requests)
	}
	said := false
	for _, w := range r.Warnings {
		if contains(w, "too few requests") && contains(w, "step_duration") {
			said = true
		}
	}
	if !said {
		t.Errorf("no warning says the steps were too short: %q", r.Warnings)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
