package runner_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/faultserver"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/runner"
)

// abort_on stops a run once the target is clearly overwhelmed, records
// status aborted with the reason, and sends nothing after that.
func TestSafetyAbortOn(t *testing.T) {
	for _, tc := range []struct {
		name     string
		behavior faultserver.Behavior
		abortOn  string
		steps    int
		reason   string
	}{
		{"error rate for two steps", faultserver.Status(503, `{"error":"overloaded"}`), "{error_rate: 50%, for: 2}", 2, "abort_on.error_rate 50.0% for 2 step(s)"},
		{"p99 above a bound", faultserver.Slow(80 * time.Millisecond), "{p99: 20ms, for: 1}", 1, "above abort_on.p99 20ms for 1 step(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := faultserver.Start(t, tc.behavior)
			path, out := setup(t, fmt.Sprintf(`name: abort
target: {url: %s}
traffic: {file: t.ndjson}
load: {steps: [40, 40, 40, 40, 40, 40], step_duration: 500ms, warmup: 0s, stop_after_failures: 10}
slo: {latency: {p99: 1s}, error_rate: 1%%}
monitor: {max_send_lag: 200ms}
abort_on: %s
`, srv.URL, tc.abortOn))
			_, r, err := execute(t, runner.Options{ScenarioPath: path, OutDir: out})
			if err != nil || r == nil {
				t.Fatalf("err %v, result %v", err, r != nil)
			}
			logSteps(t, r)
			if r.Status != result.StatusAborted || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("status %q reason %q, want aborted with %q", r.Status, r.Reason, tc.reason)
			}
			if len(r.Steps) != tc.steps {
				t.Errorf("%d steps ran, want the run stopped after %d", len(r.Steps), tc.steps)
			}
			// 20 requests a step; a few more may be in flight at the end.
			if n := srv.Requests.Load(); n > int64(20*tc.steps+10) {
				t.Errorf("the target received %d requests, more than %d steps' worth", n, tc.steps)
			}
		})
	}
}

// limits.max_duration caps a run whatever its ramp: it ends as aborted,
// with the limit as reason, keeping the steps that completed and the one
// the limit cut short, marked partial.
func TestSafetyMaxDuration(t *testing.T) {
	srv := faultserver.Start(t, faultserver.Status(200, `{"ok":true}`))
	path, out := setup(t, fmt.Sprintf(`name: capped
target: {url: %s}
traffic: {file: t.ndjson}
load: {steps: [20, 20, 20, 20, 20, 20, 20, 20, 20, 20], step_duration: 500ms, warmup: 0s}
monitor: {max_send_lag: 200ms}
limits: {max_duration: 1200ms}
`, srv.URL))
	start := time.Now()
	_, r, err := execute(t, runner.Options{ScenarioPath: path, OutDir: out})
	el := time.Since(start)
	if err != nil || r == nil {
		t.Fatalf("err %v, result %v", err, r != nil)
	}
	logSteps(t, r)
	if r.Status != result.StatusAborted || !strings.Contains(r.Reason, "limits.max_duration (1.2s)") {
		t.Errorf("status %q reason %q, want aborted by limits.max_duration", r.Status, r.Reason)
	}
	if len(r.Steps) < 2 || len(r.Steps) > 3 {
		t.Errorf("%d steps kept, want the 1-2 that fit in 1.2 s and the one cut short", len(r.Steps))
	}
	for i, s := range r.Steps {
		last := i == len(r.Steps)-1
		if last != s.Partial || (!last && s.DurationS < 0.49) || (last && s.DurationS >= 0.5) {
			t.Errorf("step %d: partial %v, %.2f s; want only the last, cut short by the limit, partial", i, s.Partial, s.DurationS)
		}
		if last && !strings.Contains(strings.Join(s.Warnings, " "), "limits.max_duration") {
			t.Errorf("the partial step does not say the limit cut it: %q", s.Warnings)
		}
	}
	if el > 4*time.Second {
		t.Errorf("a run capped at 1.2 s took %v", el)
	}
}

// A target outside loopback and private ranges is refused as bad input
// unless allowed, and the check comes before any connection: the
// documentation addresses below are unroutable, so a dial would have
// taken seconds and failed as unreachable instead.
func TestSafetyPublicTargetRefusedBeforeDialing(t *testing.T) {
	for _, u := range []string{"http://192.0.2.10:80", "http://[2001:db8::10]:8080", "http://[::ffff:198.51.100.7]:80"} {
		t.Run(u, func(t *testing.T) {
			path, out := setup(t, fmt.Sprintf("target: {url: %q}\ntraffic: {file: t.ndjson}\nload: {steps: [10], step_duration: 1s}\n", u))
			start := time.Now()
			_, r, err := execute(t, runner.Options{ScenarioPath: path, OutDir: out})
			if !errors.Is(err, runner.ErrBadInput) || !strings.Contains(fmt.Sprint(err), "--allow-public") {
				t.Fatalf("err = %v, want bad input mentioning --allow-public", err)
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("refusing took %v: did it dial first?", el)
			}
			if r != nil {
				t.Error("a result was written")
			}
		})
	}
	// Loopback and private ranges pass the check (loopback here: the
	// check then dials it, and only loopback may be dialled in tests).
	srv := faultserver.Start(t, faultserver.Status(200, "{}"))
	if err := runner.CheckTargets(t.Context(), []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)}, false); err != nil {
		t.Errorf("loopback refused: %v", err)
	}
	if srv.Requests.Load() != 0 {
		t.Errorf("the preflight check sent %d HTTP requests", srv.Requests.Load())
	}
}
