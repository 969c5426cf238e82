package cmd_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/compare"
)

// compareJSON runs compare with args and returns its report.
func compareJSON(t *testing.T, args ...string) *compare.Report {
	t.Helper()
	code, stdout, stderr := execute(t, context.Background(), append([]string{"compare", "--json"}, args...)...)
	if code != 0 && code != 1 {
		t.Fatalf("compare: exit %d: %s", code, stderr)
	}
	var rep compare.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("compare --json: %v\n%s", err, stdout)
	}
	return &rep
}

// runLive runs a scenario with overrides into dir and fails on anything
// but a completed run (exit 0 or 1).
func runLive(t *testing.T, scenario, dir string, sets ...string) {
	t.Helper()
	args := []string{"run", scenario, "--out", dir, "--quiet"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	if code, _, stderr := execute(t, context.Background(), args...); code != 0 && code != 1 {
		t.Fatalf("run %v: exit %d: %s", sets, code, stderr)
	}
}

// measure tries an expectation on a live comparison, once more when the
// first try misses: a busy machine can spoil one run, as it would a
// user's, and the gate's answer to that is a second measurement.
func measure(t *testing.T, what string, try func(dir string) (ok bool, detail string)) {
	t.Helper()
	for attempt := 1; attempt <= 2; attempt++ {
		ok, detail := try(t.TempDir())
		if ok {
			return
		}
		if attempt == 2 {
			t.Errorf("%s, twice: %s", what, detail)
		} else {
			t.Logf("%s: first try missed (%s); measuring again", what, detail)
		}
	}
}

func summary(rep *compare.Report) string {
	out := string(rep.Verdict)
	for _, g := range rep.Gates {
		if g.Scope == "overall" && g.Metric == compare.MetricP99 {
			b, _ := json.Marshal(g)
			out += " " + string(b)
		}
	}
	return out
}

// The bundled service made 2.3× slower, on three 2 s steps with 500 ms of
// warmup, one run a side: a regression (the rank test of one or two
// intervals a step called this inconclusive).
func TestGateCatchesTwoTimesSlowerOnShortSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("two live runs")
	}
	testserver.Serialize(t)
	common := []string{"load.steps=[100,200,300]", "load.step_duration=2s", "load.warmup=500ms", "target.bundled.workers=8", "monitor.max_send_lag=20ms"}
	measure(t, "2.3× slower is not a regression", func(dir string) (bool, string) {
		base, cand := filepath.Join(dir, "base"), filepath.Join(dir, "cand")
		runLive(t, "../scenarios/ci.yaml", base, append(common, "target.bundled.lookup=10ms", "target.bundled.lookup_p99=15ms")...)
		runLive(t, "../scenarios/ci.yaml", cand, append(common, "target.bundled.lookup=23ms", "target.bundled.lookup_p99=35ms")...)
		rep := compareJSON(t, filepath.Join(base, "result.json"), filepath.Join(cand, "result.json"))
		return rep.Verdict == compare.Regression, summary(rep)
	})
}

// A live A/B run of the canary scenario: with steps of 200 and 400 QPS
// (4 s) the candidate's lookup 20% slower is a regression; identical sides
// pass.
// Every request goes to both sides at the same instant, and the paired
// comparison lets the noise they share cancel.
func TestGatePairedLiveAB(t *testing.T) {
	if testing.Short() {
		t.Skip("two live A/B runs")
	}
	testserver.Serialize(t)
	common := []string{"load.steps=[200,400]", "target.candidate.bundled.flags=[]"}
	measure(t, "a 20% slower candidate is not a regression", func(dir string) (bool, string) {
		runLive(t, "../scenarios/canary.yaml", dir, append(common, "target.candidate.bundled.lookup=24ms")...)
		rep := compareJSON(t, filepath.Join(dir, "result.json"))
		return rep.Paired && rep.Verdict == compare.Regression, summary(rep)
	})
	// Identical sides, on the scenario's own ramp: enough requests that
	// the error-rate gate can rule out its 0.1 points too.
	measure(t, "identical sides do not pass", func(dir string) (bool, string) {
		runLive(t, "../scenarios/canary.yaml", dir, "target.candidate.bundled.flags=[]")
		rep := compareJSON(t, filepath.Join(dir, "result.json"))
		return rep.Verdict == compare.Pass, summary(rep)
	})
}
