package sweep_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

func writeTraffic(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "traffic.ndjson")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadScenario(t *testing.T, yaml string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Parse([]byte(yaml), "test.yaml", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A server with k slots each held for S has capacity k/S. Driven at
// constant rates with an SLO of p99 <= 5 S, the best-before found must
// sit between 85% and 105% of the capacity measured closed-loop (the
// better of a measurement before and one after the ramp).
func TestGroundTruthCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("ramp takes ~25 s")
	}
	testserver.Serialize(t)
	srv := testserver.NewSlots(8, 40*time.Millisecond) // 200 QPS
	ts := testserver.Start(t, srv)
	capacity := testserver.MeasureCapacity(context.Background(), ts.URL+"/", 16, 2*time.Second)
	t.Logf("closed-loop capacity before the ramp %.1f QPS (analytic %.1f)", capacity.Before(), srv.Capacity())

	s := loadScenario(t, fmt.Sprintf(`
target: {url: %s}
traffic: {file: x}
load:
  start_qps: 100
  step_qps: 25
  max_qps: 300
  step_duration: 2s
  warmup: 500ms
  refine: 2
monitor: {max_send_lag: 25ms}
slo:
  latency: {p99: 200ms}
  error_rate: 1%%
`, ts.URL))
	r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, TargetURLs: []string{ts.URL}, TrafficPath: writeTraffic(t, `{"path":"/"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range r.Steps {
		t.Logf("%-6s %6.1f qps  achieved %6.1f  p99 %8.2fms  pass %v  lag p99 %.2fms sat %v", st.Phase, st.OfferedQPS, st.AchievedQPS, st.LatencyMS.P99, st.SLOPass, st.Generator.SendLagP99MS, st.Generator.Saturated)
	}
	bb := r.BestBefore
	if !bb.Found {
		t.Fatalf("no best-before found: %+v", bb)
	}
	closed, after := capacity.After(context.Background())
	t.Logf("closed-loop capacity after the ramp %.1f QPS", after)
	ratio := bb.QPS / closed
	t.Logf("best-before %.1f QPS = %.0f%% of closed-loop capacity, limited by %s", bb.QPS, ratio*100, bb.LimitedBy)
	if ratio < 0.85 || ratio > 1.05 {
		t.Errorf("best-before %.1f QPS is %.0f%% of the measured capacity %.1f, want 85-105%%", bb.QPS, ratio*100, closed)
	}
	if !strings.HasPrefix(bb.LimitedBy, "latency") && bb.LimitedBy != "error_rate" && bb.LimitedBy != "throughput" && bb.LimitedBy != "steady" {
		t.Errorf("limited_by = %q, want a latency, error, throughput or steady-state objective", bb.LimitedBy)
	}
	if bb.NMinus1QPS != bb.QPS*0 && bb.Nodes == 1 {
		t.Errorf("n_minus_1 for one node = %v, want 0", bb.NMinus1QPS)
	}
}

// A server that stops answering for 1 s every 5 s, driven well under its
// capacity: an open-loop generator must see the stalls in p99 while p50
// stays at the service time.
func TestCoordinatedOmission(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 10 s")
	}
	srv := &testserver.Stall{Service: 2 * time.Millisecond, Pause: time.Second, Period: 5 * time.Second}
	ts := testserver.Start(t, srv)
	s := loadScenario(t, fmt.Sprintf(`
target: {url: %s}
traffic: {file: x}
load: {start_qps: 100, max_qps: 100, step_duration: 10s, warmup: 0s}
monitor: {max_send_lag: 50ms}
`, ts.URL))
	r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, TargetURLs: []string{ts.URL}, TrafficPath: writeTraffic(t, `{"path":"/"}`)})
	if err != nil {
		t.Fatal(err)
	}
	// The stall can break a queue objective marginally, and the rate is
	// then measured once more (ADR 30): one rate, one or two steps.
	if len(r.Steps) < 1 || len(r.Steps) > 2 || r.Steps[len(r.Steps)-1].OfferedQPS != 100 {
		t.Fatalf("%d steps, want the one rate, measured once or twice", len(r.Steps))
	}
	st := r.Steps[0]
	t.Logf("p50 %.1fms p99 %.1fms service p99 %.1fms", st.LatencyMS.P50, st.LatencyMS.P99, st.ServiceTimeMS.P99)
	if st.LatencyMS.P99 < 700 {
		t.Errorf("p99 %.1fms, want at least 700ms: the stalls are hidden (coordinated omission)", st.LatencyMS.P99)
	}
	if st.LatencyMS.P50 > 50 {
		t.Errorf("p50 %.1fms, want near the 2ms service time", st.LatencyMS.P50)
	}
}

// The requests the server receives match the traffic file line by line,
// in file order for sequential replay.
func TestReplayFidelity(t *testing.T) {
	srv := testserver.NewSlots(64, time.Millisecond)
	srv.Record = true
	ts := testserver.Start(t, srv)
	lines := []string{
		`{"method":"POST","path":"/v1/predict?x=1","header":{"Content-Type":["application/json"],"X-Trace":["a","b"]},"body":"{\"query\":\"wireless mouse\",\"k\":5}"}`,
		`{"path":"/healthz"}`,
		`{"method":"PUT","path":"/items/7","body_base64":"AAEC/w=="}`,
		`{"method":"delete","path":"/items/8","header":{"Authorization":["Bearer t"]}}`,
	}
	s := loadScenario(t, fmt.Sprintf(`
target: {url: %s}
traffic: {file: x}
load: {start_qps: 40, max_qps: 40, step_duration: 1s, warmup: 0s, max_in_flight: 1}
monitor: {max_send_lag: 50ms}
`, ts.URL))
	r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, TargetURLs: []string{ts.URL}, TrafficPath: writeTraffic(t, lines...)})
	if err != nil {
		t.Fatal(err)
	}
	seen := srv.Requests()
	if len(seen) < 30 || int64(len(seen)) != r.Steps[0].Requests-r.Steps[0].ErrorsByClass["dropped"] {
		t.Fatalf("server saw %d requests, result counts %d, want ~40", len(seen), r.Steps[0].Requests)
	}
	// Requests may arrive out of order by a hair; sort by what was sent is
	// not possible, so compare as a multiset per cycle of four.
	want := []struct{ method, uri, body string }{
		{"POST", "/v1/predict?x=1", `{"query":"wireless mouse","k":5}`},
		{"GET", "/healthz", ""},
		{"PUT", "/items/7", "\x00\x01\x02\xff"},
		{"DELETE", "/items/8", ""},
	}
	counts := map[string]int{}
	for _, sn := range seen {
		counts[sn.Method+" "+sn.URI+" "+string(sn.Body)]++
		switch sn.URI {
		case "/v1/predict?x=1":
			if got := sn.Header.Values("X-Trace"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
				t.Errorf("X-Trace = %q, want [a b]", got)
			}
			if sn.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", sn.Header.Get("Content-Type"))
			}
		case "/items/8":
			if sn.Header.Get("Authorization") != "Bearer t" {
				t.Errorf("Authorization not replayed")
			}
		}
	}
	for _, w := range want {
		k := w.method + " " + w.uri + " " + w.body
		if counts[k] < 7 {
			t.Errorf("%q received %d times, want about 10", k, counts[k])
		}
	}
	// Order: with one request in flight at most, the server sees the
	// requests strictly in file order; a request that could not be sent
	// in time is counted as dropped, never reordered.
	skipped := 0
	pos := 0
	for _, sn := range seen {
		for n := 0; n < 4 && (want[pos%4].method != sn.Method || want[pos%4].uri != sn.URI); n++ {
			pos++
			skipped++
		}
		pos++
	}
	if dropped := r.Steps[0].ErrorsByClass["dropped"]; int64(skipped) != dropped {
		t.Errorf("%d requests out of file order (%d dropped)", skipped, dropped)
	}
}

func TestBestBeforeNeverAboveWhatPassed(t *testing.T) {
	steps := []result.Step{
		{OfferedQPS: 100, SLOPass: true},
		{OfferedQPS: 200, SLOPass: true},
		{OfferedQPS: 300, SLOPass: false, Failed: []string{"latency.p99"}},
		{OfferedQPS: 400, SLOPass: true},
		{OfferedQPS: 250, Phase: result.PhaseRefine, SLOPass: true},
		{OfferedQPS: 275, Phase: result.PhaseRefine, SLOPass: false, Failed: []string{"error_rate"}},
	}
	bb := result.ComputeBestBefore(steps, 3, 0.8)
	if !bb.Found || bb.QPS != 250 || bb.FirstFailQPS != 275 || bb.LimitedBy != "error_rate" {
		t.Errorf("best-before %+v, want 250 limited by error_rate (first fail 275)", bb)
	}
	if want := 250 * 2.0 / 3 * 0.8; bb.NMinus1QPS != want {
		t.Errorf("n_minus_1 = %v, want %v", bb.NMinus1QPS, want)
	}
	sat := []result.Step{
		{OfferedQPS: 100, SLOPass: true},
		{OfferedQPS: 200, SLOPass: true, Generator: result.Generator{Saturated: true}},
	}
	bb = result.ComputeBestBefore(sat, 1, 1)
	if bb.QPS != 100 || bb.LimitedBy != "generator" {
		t.Errorf("saturated: %+v, want 100 limited by generator", bb)
	}
}

// timing: recorded replays the recording's own spacing, scaled so the
// step's mean rate is the offered rate, still open loop.
func TestRecordedTiming(t *testing.T) {
	srv := testserver.NewSlots(16, time.Millisecond)
	srv.Record = true
	ts := testserver.Start(t, srv)
	// Gaps alternate 100 ms and 300 ms: a mean of 5 requests a second.
	var lines []string
	at := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	for i := 0; i < 40; i++ {
		lines = append(lines, fmt.Sprintf(`{"ts":%q,"path":"/r/%d"}`, at.Format(time.RFC3339Nano), i))
		if i%2 == 0 {
			at = at.Add(100 * time.Millisecond)
		} else {
			at = at.Add(300 * time.Millisecond)
		}
	}
	s := loadScenario(t, fmt.Sprintf(`
target: {url: %s}
traffic: {file: x, timing: recorded}
load: {steps: [20], step_duration: 3s, warmup: 0s}
monitor: {max_send_lag: 50ms}
`, ts.URL))
	r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, TargetURLs: []string{ts.URL}, TrafficPath: writeTraffic(t, lines...)})
	if err != nil {
		t.Fatal(err)
	}
	seen := srv.Requests()
	// At 20 QPS, four times the recording's 5: gaps of 25 ms and 75 ms.
	if n := len(seen); n < 50 || n > 70 {
		t.Fatalf("server saw %d requests in 3 s at 20 QPS, want about 60", n)
	}
	var short, long []time.Duration
	for i := 1; i < len(seen); i++ {
		g := seen[i].At.Sub(seen[i-1].At)
		if i%2 == 1 {
			short = append(short, g)
		} else {
			long = append(long, g)
		}
	}
	med := func(xs []time.Duration) time.Duration {
		sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
		return xs[len(xs)/2]
	}
	ms, ml := med(short), med(long)
	t.Logf("median gaps %v and %v; step achieved %.1f QPS", ms, ml, r.Steps[0].AchievedQPS)
	if ms < 15*time.Millisecond || ms > 35*time.Millisecond || ml < 65*time.Millisecond || ml > 85*time.Millisecond {
		t.Errorf("median gaps %v and %v, want about 25ms and 75ms (the recording's spacing at 4x speed)", ms, ml)
	}
}
