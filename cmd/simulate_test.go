package cmd_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/sim"
)

// simulate fits a model to a result and answers a what-if: here a run of
// a simulated 8 × 20 ms service, asked about one 25% slower. Bad input is
// exit 2 with what was wrong, before anything runs.
func TestSimulateCommand(t *testing.T) {
	c := sim.Case{Seed: 5, Service: sim.Service{Slots: 8, Time: sim.Dist{Kind: sim.Fixed, Mean: 20 * time.Millisecond}},
		Arrival: "poisson", Step: 3 * time.Second, StartQPS: 150, StepQPS: 50, MaxQPS: 600, P99: 2 * time.Second}
	r, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Scenario(nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Manifest = result.Manifest{Tool: "bestbefore", Version: "test", CPUs: 1, Seed: 5, Scenario: "oracle.yaml", Targets: []string{"http://127.0.0.1:9/"}, EffectiveYAML: s.EffectiveYAML()}
	dir := t.TempDir()
	path := filepath.Join(dir, "result.json")
	if err := result.Write(path, r); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := execute(t, context.Background(), "simulate", path, "--service-time", "+25%")
	if code != 0 || !strings.Contains(stdout, "8 slots") || !strings.Contains(stdout, "What if service time ×1.25: best-before") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	code, stdout, _ = execute(t, context.Background(), "simulate", path, "--service-time", "+25%", "--format", "json")
	var p struct {
		Fitted    float64 `json:"fitted_best_before_qps"`
		Predicted float64 `json:"predicted_best_before_qps"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &p) != nil {
		t.Fatalf("--format json: exit %d, %s", code, stdout)
	}
	if ratio := p.Predicted / p.Fitted; ratio < 0.72 || ratio > 0.88 {
		t.Errorf("25%% slower: predicted %.1f against the fit's %.1f (×%.2f), want about ×0.8", p.Predicted, p.Fitted, ratio)
	}
	for args, want := range map[string]string{
		"simulate " + path + " --service-time fast": `--service-time "fast"`,
		"simulate " + path + " --nodes -1":          "--nodes must be between",
		"simulate " + filepath.Join(dir, "no.json"): "no.json",
		"simulate " + path + " --set load.nope=1":   "nope",
	} {
		code, _, stderr := execute(t, context.Background(), strings.Fields(args)...)
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q, want exit 2 and %q", args, code, stderr, want)
		}
	}
}
