package sweep_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// groundTruth ramps a server of k slots × service time S, whose capacity
// is k/S, with a latency objective so loose (p99 ≤ 40 S) that only the
// steady-state and throughput objectives can stop it, and checks that the
// best-before lies between 85% and 100% of the capacity measured
// closed-loop in the same test: never above a rate the server cannot
// sustain, however short the steps.
func groundTruth(t *testing.T, k int, service, step time.Duration) {
	groundTruthArrivals(t, k, service, 0, step, "constant")
}

func groundTruthArrivals(t *testing.T, k int, service, jitter, step time.Duration, arrival string) {
	testserver.Serialize(t)
	srv := testserver.NewSlots(k, service)
	srv.Jitter = jitter
	ts := testserver.Start(t, srv)
	ctx := context.Background()
	clients := max(2*k, 4)
	capacity := testserver.MeasureCapacity(ctx, ts.URL+"/", clients, 3*time.Second)
	nominal := srv.Capacity()
	warmup := step / 4
	s := loadScenario(t, fmt.Sprintf(`
target: {url: %s}
traffic: {file: x}
load:
  arrival: %s
  start_qps: %g
  step_qps: %g
  max_qps: %g
  step_duration: %v
  warmup: %v
  refine: 4
  stop_after_failures: 1
monitor: {max_send_lag: 25ms}
slo:
  latency: {p99: %v}
`, ts.URL, arrival, 0.6*nominal, 0.1*nominal, 1.3*nominal, step, warmup, 40*service))
	r, err := sweep.Run(ctx, sweep.Config{Scenario: s, TargetURLs: []string{ts.URL}, TrafficPath: writeTraffic(t, `{"path":"/"}`)})
	if err != nil {
		t.Fatal(err)
	}
	closed, after := capacity.After(ctx)
	for _, st := range r.Steps {
		tr := result.SteadinessOf(&st)
		t.Logf("%-6s %6.1f qps (%3.0f%% of closed-loop)  achieved %6.1f  p50 %7.2fms  p99 %7.2fms  trend %6.2fms → %6.2fms slope %+.3f%% noise %.2fms  failed %v  sat %v",
			st.Phase, st.OfferedQPS, 100*st.OfferedQPS/closed, st.AchievedQPS, st.LatencyMS.P50, st.LatencyMS.P99,
			tr.StartMS, tr.EndMS, 100*tr.Slope, tr.NoiseMS, st.Failed, st.Generator.Saturated)
	}
	bb := r.BestBefore
	ratio := bb.QPS / closed
	t.Logf("%s arrivals, k=%d S=%v step=%v: closed-loop %.1f QPS (before %.1f, after %.1f; analytic %.1f); best-before %.1f = %.1f%%, limited by %s",
		arrival, k, service, step, closed, capacity.Before(), after, nominal, bb.QPS, 100*ratio, bb.LimitedBy)
	if !bb.Found {
		t.Fatalf("no best-before")
	}
	if ratio > 1 {
		t.Errorf("best-before %.1f QPS is %.1f%% of the closed-loop capacity %.1f QPS: above what the server sustains", bb.QPS, 100*ratio, closed)
	}
	if ratio < 0.85 {
		t.Errorf("best-before %.1f QPS is %.1f%% of the closed-loop capacity %.1f QPS, want at least 85%%", bb.QPS, 100*ratio, closed)
	}
}

var groundTruthServers = []struct {
	k int
	s time.Duration
}{{1, 5 * time.Millisecond}, {4, 25 * time.Millisecond}, {16, 50 * time.Millisecond}}

// Short steps are where a queue has no time to break a latency objective:
// the steady-state objective must see it grow. About 25 s a server.
func TestSteadyGroundTruthShortSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("ramps three servers, about 75 s")
	}
	for _, g := range groundTruthServers {
		t.Run(fmt.Sprintf("k%d_S%v", g.k, g.s), func(t *testing.T) { groundTruth(t, g.k, g.s, 2*time.Second) })
	}
}

// Ten-second steps: about two minutes a server, so run only when asked
// (BESTBEFORE_LONG=1, as .ci/run does).
func TestSteadyGroundTruthLongSteps(t *testing.T) {
	if ok, _ := strconv.ParseBool(os.Getenv("BESTBEFORE_LONG")); !ok || testing.Short() {
		t.Skip("set BESTBEFORE_LONG=1 to ramp three servers with 10 s steps (about 6 minutes)")
	}
	for _, g := range groundTruthServers {
		t.Run(fmt.Sprintf("k%d_S%v", g.k, g.s), func(t *testing.T) { groundTruth(t, g.k, g.s, 10*time.Second) })
	}
}

// Poisson arrivals on servers of the issue that found the throughput
// objective judging a Poisson window against the nominal rate (best-
// befores at 18% of capacity): live, against a real loopback server,
// the best-before lies within 85-100% of the closed-loop capacity.
// About 50 s: run with BESTBEFORE_LONG=1, as .ci/run does.
func TestGroundTruthPoissonArrivals(t *testing.T) {
	if ok, _ := strconv.ParseBool(os.Getenv("BESTBEFORE_LONG")); !ok || testing.Short() {
		t.Skip("set BESTBEFORE_LONG=1 to ramp two servers with Poisson arrivals (about 50 s)")
	}
	for _, g := range []struct {
		k int
		s time.Duration
	}{{2, 10 * time.Millisecond}, {8, 20 * time.Millisecond}} {
		t.Run(fmt.Sprintf("k%d_S%v", g.k, g.s), func(t *testing.T) { groundTruthArrivals(t, g.k, g.s, 0, 2*time.Second, "poisson") })
	}
}

// At half its capacity a server is healthy: twenty fixed-rate Poisson
// steps, each drawing its own arrivals, fail none. About 30 s: run with
// BESTBEFORE_LONG=1, as .ci/run does.
func TestPoissonAtHalfCapacityFailsNoStep(t *testing.T) {
	if ok, _ := strconv.ParseBool(os.Getenv("BESTBEFORE_LONG")); !ok || testing.Short() {
		t.Skip("set BESTBEFORE_LONG=1 to run twenty 1.5 s Poisson steps at half a server's capacity")
	}
	testserver.Serialize(t)
	srv := testserver.NewSlots(8, 20*time.Millisecond)
	ts := testserver.Start(t, srv)
	rate := srv.Capacity() / 2
	steps := make([]float64, 20)
	for i := range steps {
		steps[i] = rate
	}
	s := loadScenario(t, fmt.Sprintf(`
target: {url: %s}
traffic: {file: x}
load:
  arrival: poisson
  steps: %v
  step_duration: 1.5s
  warmup: 0.5s
  stop_after_failures: 100
monitor: {max_send_lag: 25ms}
slo:
  latency: {p99: 800ms}
  error_rate: 0.1%%
`, ts.URL, strings.ReplaceAll(fmt.Sprint(steps), " ", ", ")))
	r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, TargetURLs: []string{ts.URL}, TrafficPath: writeTraffic(t, `{"path":"/"}`), Plan: steps})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, st := range r.Steps {
		if !st.SLOPass && !st.Generator.Saturated {
			failed++
			t.Errorf("step %d at %.0f QPS (scheduled %.1f, achieved %.1f, p99 %.1f ms) failed %v", st.Index, st.OfferedQPS, st.ScheduledQPS, st.AchievedQPS, st.LatencyMS.P99, st.Failed)
		}
	}
	if len(r.Steps) != len(steps) {
		t.Errorf("%d steps ran, want %d", len(r.Steps), len(steps))
	}
	t.Logf("%d of %d Poisson steps at %.0f QPS (half of %.0f) failed", failed, len(r.Steps), rate, srv.Capacity())
}

// The five servers of the issue that found Poisson best-befores at 18% of
// capacity, with Poisson and bursty arrivals, live: each best-before
// within 85-100% of the closed-loop capacity. About eight minutes; run
// with BESTBEFORE_LIVE_TABLE=1.
func TestGroundTruthRandomArrivalsTable(t *testing.T) {
	if ok, _ := strconv.ParseBool(os.Getenv("BESTBEFORE_LIVE_TABLE")); !ok || testing.Short() {
		t.Skip("set BESTBEFORE_LIVE_TABLE=1 to ramp five servers with Poisson and bursty arrivals (about 8 minutes)")
	}
	for _, g := range []struct {
		k    int
		s, j time.Duration
		step time.Duration
	}{
		{2, 10 * time.Millisecond, 0, 2 * time.Second},
		{8, 20 * time.Millisecond, 0, 2 * time.Second},
		{6, 12 * time.Millisecond, 12 * time.Millisecond, 2 * time.Second},
		{48, 100 * time.Millisecond, 0, 2 * time.Second},
		{8, 20 * time.Millisecond, 0, 5 * time.Second},
	} {
		for _, arrival := range []string{"poisson", "bursty"} {
			t.Run(fmt.Sprintf("k%d_S%v_J%v_%v_%s", g.k, g.s, g.j, g.step, arrival), func(t *testing.T) {
				groundTruthArrivals(t, g.k, g.s, g.j, g.step, arrival)
			})
		}
	}
}
