package scenario_test

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/scenario"
)

// Every broken scenario in testdata is refused with a message naming the
// file, the line when there is one, the field and what is wrong.
func TestBadScenarios(t *testing.T) {
	expected := []struct {
		filename string
		errMsg   string
	}{
		{"a-list.bad.yaml", "a-list.bad.yaml:1: a scenario is a mapping of keys"},
		{"abort-range.bad.yaml", "abort-range.bad.yaml:5: abort_on.error_rate: must be between 0% and 100%, got 150%"},
		{"bad-duration.bad.yaml", `bad-duration.bad.yaml:6: load.step_duration: "soon" is not a duration`},
		{"bare-latency.bad.yaml", "bare-latency.bad.yaml:5: slo.latency.p99: 100 has no unit: write 100ms or 100s"},
		{"bare-share.bad.yaml", "bare-share.bad.yaml:5: slo.error_rate: 1 read as a ratio is 100%: write 1% for that share"},
		{"bad-key.bad.yaml", "bad-key.bad.yaml:5: load.max_qsp: unknown key load.max_qsp; did you mean load.max_qps?"},
		{"bad-percentile.bad.yaml", `bad-percentile.bad.yaml:6: slo.latency.p98: unknown percentile "p98"`},
		{"bad-status.bad.yaml", "bad-status.bad.yaml:5: checks.0.status: must be an HTTP status (100-599) or recorded, got 700"},
		{"status-word.bad.yaml", "status-word.bad.yaml:5: checks.0.status: want an HTTP status such as 200, or recorded"},
		{"empty-check.bad.yaml", "empty-check.bad.yaml:6: checks.1: a check needs status, header, json or contains"},
		{"empty.bad.yaml", "empty.bad.yaml:1: empty scenario"},
		{"error-rate-range.bad.yaml", "error-rate-range.bad.yaml:5: slo.error_rate: must be between 0% and 100%, got 150%"},
		{"huge-duration.bad.yaml", `huge-duration.bad.yaml:6: load.timeout: "1e300d" is not a duration in range`},
		{"max-below-start.bad.yaml", "max-below-start.bad.yaml:5: load.max_qps: 20 is below start_qps 100"},
		{"max-duration.bad.yaml", "max-duration.bad.yaml:5: limits.max_duration: must be positive"},
		{"nan-rate.bad.yaml", "nan-rate.bad.yaml:4: load.steps.1: rate must be positive, got NaN"},
		{"negative-rate.bad.yaml", "negative-rate.bad.yaml:4: load.start_qps: must be positive, got -10"},
		{"no-target.bad.yaml", "no-target.bad.yaml: target: set one of url, urls or bundled"},
		{"no-traffic.bad.yaml", "no-traffic.bad.yaml: traffic.file: required"},
		{"node-loss-no-command.bad.yaml", "node-loss-no-command.bad.yaml:5: capacity.node_loss.command: required for a target that is not bundled"},
		{"not-http.bad.yaml", `not-http.bad.yaml:4: target.urls.1: "ftp://127.0.0.1:8082" is not an http://, https://, grpc:// or grpcs:// URL`},
		{"syntax.bad.yaml", "syntax.bad.yaml:1: did not find expected ',' or '}'"},
		{"too-many-nodes.bad.yaml", "too-many-nodes.bad.yaml:3: target.bundled.nodes: must be between 1 and 64, got 100"},
		{"two-targets.bad.yaml", "two-targets.bad.yaml:1: target: set only one of url, urls, bundled"},
		{"warmup-too-long.bad.yaml", "warmup-too-long.bad.yaml:7: load.warmup: must be between 0 and step_duration (2s), got 2s"},
		{"wrong-type.bad.yaml", "wrong-type.bad.yaml:5: load.max_qps: cannot unmarshal !!str `lots` into float64"},
	}
	listed := map[string]bool{}
	for _, ee := range expected {
		listed[ee.filename] = true
		t.Run(ee.filename, func(t *testing.T) {
			_, err := scenario.Load(filepath.Join("testdata", ee.filename), nil)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, scenario.ErrInvalid) {
				t.Errorf("not a scenario error (would not exit 2): %T", err)
			}
			if !strings.Contains(err.Error(), ee.errMsg) {
				t.Errorf("error\n  %v\ndoes not contain\n  %s", err, ee.errMsg)
			}
		})
	}
	// A new fixture without an expectation would test nothing.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.bad.yaml"))
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s has no expected error in this table", f)
		}
	}
}

// The same mistakes made through --set name the override, not a line.
func TestBadOverrides(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"load.max_qsp=20", `--set load.max_qsp=20: unknown key "load.max_qsp"`},
		{"load.max_qps=lots", "--set: load.max_qps: cannot unmarshal"},
		{"load.max_qps=-5", "--set: load.max_qps: must not be negative"},
		{"load.timeout=1e300d", "not a duration in range"},
		{"load.timeout=500", "500 has no unit: write 500ms or 500s"},
		{"slo.error_rate=1", "1 read as a ratio is 100%: write 1% for that share"},
		{"slo.latency.p99=100", "100 has no unit: write 100ms or 100s"},
		{"slo.error_rate=150%", "--set: slo.error_rate: must be between 0% and 100%, got 150%"},
		{"load", "want key=value"},
		{"load.max_qps.x=1", "load.max_qps takes a value, not keys"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			_, err := scenario.Load(filepath.Join("testdata", "minimal.good.yaml"), []string{tc.set})
			if err == nil || !errors.Is(err, scenario.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// The good fixtures load, with defaults filled in as documented.
func TestGoodScenarios(t *testing.T) {
	checks := map[string]func(t *testing.T, s *scenario.Scenario){
		"minimal.good.yaml": func(t *testing.T, s *scenario.Scenario) {
			if s.Name != "minimal.good" || s.Load.StepQPS != 50 || s.Load.StepDuration.D() != 5*time.Second ||
				s.Load.Warmup.D() != time.Second || s.Load.Timeout.D() != 2*time.Second || s.Load.MaxInFlight != 10000 ||
				s.Capacity.Nodes != 1 || s.Limits.MaxDuration.D() != time.Hour || s.Target.MaxResponseBytes != 10<<20 {
				t.Errorf("defaults: %+v", s.Load)
			}
			if r := s.Rates(); len(r) != 4 || r[0] != 50 || r[3] != 200 {
				t.Errorf("ramp %v, want 50..200 by 50", r)
			}
		},
		"full.good.yaml": func(t *testing.T, s *scenario.Scenario) {
			if s.Capacity.Nodes != 3 || s.SafetyMarginValue() != 0.8 || s.AbortOn == nil || float64(*s.AbortOn.ErrorRate) != 0.5 ||
				s.AbortOn.For != 2 || s.SLO.Bounds["error_rate"] != 0.001 || s.SLO.Bounds["latency.p999"] != 250 ||
				len(s.Checks) != 2 || s.Limits.MaxDuration.D() != 2*time.Hour || s.Seed != 7 {
				t.Errorf("fields: %+v", s)
			}
		},
		"short-steps.good.yaml": func(t *testing.T, s *scenario.Scenario) {
			if s.Load.Interval.D() != 500*time.Millisecond || s.Capacity.Nodes != 2 {
				t.Errorf("interval %v, nodes %d: want the step's 500ms and 2", s.Load.Interval.D(), s.Capacity.Nodes)
			}
		},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.good.yaml"))
	if len(files) != len(checks) {
		t.Errorf("%d good fixtures, %d checked", len(files), len(checks))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := scenario.Load(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c := checks[filepath.Base(f)]; c != nil {
				c(t, s)
			} else {
				t.Error("no check for this fixture")
			}
		})
	}
}

// Every scenario shipped in scenarios/ loads, so the examples cannot rot.
func TestShippedScenarios(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "scenarios", "*.yaml"))
	sort.Strings(files)
	if len(files) == 0 {
		t.Skip("no scenarios shipped yet")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := scenario.Load(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			if s.Target.Bundled == nil {
				return
			}
			if _, err := os.Stat(s.Resolve(s.Traffic.File)); err != nil {
				t.Logf("traffic file not present yet: %v", err)
			}
		})
	}
}
