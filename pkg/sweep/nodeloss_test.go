package sweep_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// closeKiller takes a node out by closing its server: new connections are
// refused and open ones reset, as when a machine dies.
type closeKiller struct {
	srv  *httptest.Server
	once sync.Once
}

func (k *closeKiller) Kill(ctx context.Context) (string, error) {
	k.once.Do(func() {
		k.srv.Listener.Close()
		k.srv.CloseClientConnections()
	})
	return "3", nil
}

func (k *closeKiller) Restore(ctx context.Context) error { return nil }

func threeNodes(t *testing.T) ([]*httptest.Server, []string, float64) {
	t.Helper()
	var srvs []*httptest.Server
	var urls []string
	for i := 0; i < 3; i++ {
		s := testserver.Start(t, testserver.NewSlots(4, 40*time.Millisecond)) // 100 QPS each
		srvs = append(srvs, s)
		urls = append(urls, s.URL)
	}
	return srvs, urls, 100
}

// Three ground-truth nodes as target.urls: the cluster's best-before sits
// near three times one node's closed-loop capacity.
func TestClusterBestBefore(t *testing.T) {
	if testing.Short() {
		t.Skip("ramp takes ~25 s")
	}
	testserver.Serialize(t)
	_, urls, _ := threeNodes(t)
	capacity := testserver.MeasureCapacity(context.Background(), urls[0]+"/", 8, 1500*time.Millisecond)
	s := loadScenario(t, fmt.Sprintf(`
target: {urls: [%s]}
traffic: {file: x}
load: {start_qps: 150, step_qps: 50, max_qps: 450, step_duration: 2s, warmup: 500ms, refine: 2}
slo: {latency: {p99: 200ms}, error_rate: 1%%}
monitor: {max_send_lag: 25ms}
`, strings.Join(urls, ", ")))
	r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, TargetURLs: urls, TrafficPath: writeTraffic(t, `{"path":"/"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range r.Steps {
		t.Logf("%-6s %6.1f qps achieved %6.1f p99 %7.1fms pass %v", st.Phase, st.OfferedQPS, st.AchievedQPS, st.LatencyMS.P99, st.SLOPass)
	}
	bb := r.BestBefore
	one, _ := capacity.After(context.Background())
	ratio := bb.QPS / (3 * one)
	t.Logf("cluster best-before %.1f = %.0f%% of 3 × %.1f", bb.QPS, ratio*100, one)
	if !bb.Found || ratio < 0.85 || ratio > 1.05 {
		t.Errorf("cluster best-before %.1f QPS is %.0f%% of 3 × node capacity %.1f, want 85-105%%", bb.QPS, ratio*100, one)
	}
	if bb.Nodes != 3 || bb.NMinus1QPS != bb.QPS*2/3 {
		t.Errorf("nodes %d, n-1 %.1f; want 3 nodes and 2/3 of %.1f", bb.Nodes, bb.NMinus1QPS, bb.QPS)
	}
}

// Node loss at 90% of two nodes' capacity holds (lost mid-second, or on a
// second's boundary, where a clean second could begin with the loss); at
// 140% it does not, and
// p99 never comes back under its objective.
func TestNodeLossVerification(t *testing.T) {
	if testing.Short() {
		t.Skip("two 6 s holds")
	}
	testserver.Serialize(t)
	for _, tc := range []struct {
		share float64
		at    string
		held  bool
	}{{0.9, "25%", true}, {0.9, "50%", true}, {0.9, "75%", true}, {1.4, "25%", false}} {
		t.Run(fmt.Sprintf("%.0f%%_at_%s", tc.share*100, tc.at), func(t *testing.T) {
			srvs, urls, node := threeNodes(t)
			q := tc.share * 2 * node
			s := loadScenario(t, fmt.Sprintf(`
target: {urls: [%s]}
traffic: {file: x}
load: {steps: [100], step_duration: 1s, warmup: 200ms}
slo: {latency: {p99: 200ms}, error_rate: 1%%}
capacity: {node_loss: {verify: true, command: "true", qps: %v, duration: 6s, at: %s}}
monitor: {max_send_lag: 25ms}
`, strings.Join(urls, ", "), q, tc.at))
			r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, TargetURLs: urls, TrafficPath: writeTraffic(t, `{"path":"/"}`),
				NodeKiller: &closeKiller{srv: srvs[2]}})
			if err != nil {
				t.Fatal(err)
			}
			nl := r.NodeLoss
			if nl == nil {
				t.Fatalf("no node-loss result; warnings %v", r.Warnings)
			}
			for _, p := range nl.Timeline {
				t.Logf("t=%4.1fs p99 %7.1fms requests %d errors %d", p.OffsetS, p.P99MS, p.Requests, p.Errors)
			}
			t.Logf("held %v, transition errors %d, recover %v never %v, notes %v", nl.Held, nl.TransitionErrs, nl.RecoverS, nl.Never, nl.Notes)
			if nl.Held != tc.held {
				t.Errorf("held = %v at %.0f QPS on two nodes of %.0f, want %v", nl.Held, q, node, tc.held)
			}
			if tc.held && (nl.Never || nl.RecoverS == nil) {
				t.Errorf("the cluster held but no time to recover was measured")
			}
			// Errors with the loss mean recovery took time: the first
			// clean second starts after the loss, never at it.
			if nl.RecoverS != nil && nl.TransitionErrs > 0 && !(*nl.RecoverS > 0) {
				t.Errorf("%d errors with the loss, and a time to recover of %v s", nl.TransitionErrs, *nl.RecoverS)
			}
			if !tc.held && !nl.Never {
				t.Errorf("overloaded survivors recovered after %v s; want never", *nl.RecoverS)
			}
			// Every error of the hold came with the loss: none failed
			// before the node was taken out, so the transition counts
			// them all.
			hold := r.Steps[nl.Step]
			var before int64
			for _, p := range nl.Timeline {
				if p.OffsetS+1 <= nl.LostAtS-2 { // a timeout (2 s) before the loss
					before += p.Errors
				}
			}
			if want := hold.Errors - before; nl.TransitionErrs != want || (tc.held && nl.TransitionErrs == 0) {
				t.Errorf("transition errors %d, want the %d errors of the hold from the loss on (%d in all)", nl.TransitionErrs, want, hold.Errors)
			}
		})
	}
}
