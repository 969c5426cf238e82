package runner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/calibrate"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/runner"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// resScenario writes a scenario and a one-line traffic file.
func resScenario(t *testing.T, yaml string) (path, out string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t.ndjson"), []byte(`{"path":"/"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, filepath.Join(dir, "out")
}

// A malformed monitor.metrics entry is bad input naming the file, line and
// entry, before any target is contacted.
func TestResourcesBadMetricNamesFileAndLine(t *testing.T) {
	path, out := resScenario(t, `target: {url: "http://127.0.0.1:1"}
traffic: {file: t.ndjson}
load: {start_qps: 10, max_qps: 10, step_duration: 1s}
monitor:
  metrics:
    - http_requests_total
    - ratio:cache_hits_total
`)
	_, err := runner.Execute(context.Background(), runner.Options{ScenarioPath: path, OutDir: out, Stderr: &bytes.Buffer{}})
	if !errors.Is(err, runner.ErrBadInput) {
		t.Fatalf("err %v, want bad input", err)
	}
	want := path + ":7: monitor.metrics.1: "
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "ratio:A/B") {
		t.Errorf("error %q, want it to start %q and say what a ratio looks like", err, want)
	}
	if _, serr := os.Stat(out); serr == nil {
		t.Error("the output directory was created for a scenario that never ran")
	}

	_, err = runner.Execute(context.Background(), runner.Options{ScenarioPath: path, OutDir: out, Stderr: &bytes.Buffer{},
		Overrides: []string{`monitor.metrics=["up{job="]`}})
	if !errors.Is(err, runner.ErrBadInput) || !strings.Contains(err.Error(), "monitor.metrics.0: ") || !strings.Contains(err.Error(), "missing closing }") {
		t.Errorf("--set metric: err %v, want bad input naming monitor.metrics.0", err)
	}
}

// useCache points the user cache directory at a temporary one.
func useCache(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir)
	t.Setenv("HOME", dir)
	if runtime.GOOS == "windows" {
		t.Setenv("LocalAppData", dir)
	}
	path, err := calibrate.DefaultCachePath()
	if err != nil || !strings.HasPrefix(path, dir) {
		t.Skipf("cannot redirect the user cache directory here (%s, %v)", path, err)
	}
	return path
}

func saveCalibration(t *testing.T, path string, m calibrate.Machine, qps float64) {
	t.Helper()
	rep := &calibrate.Report{Schema: calibrate.Schema, Found: true, RateQPS: qps, MaxSendLagMS: 1, Machine: m, MeasuredAt: time.Now().UTC()}
	if err := calibrate.Save(path, rep); err != nil {
		t.Fatal(err)
	}
}

// run warns, on stderr and in result.json, when the ramp goes above the
// calibrated figure of this machine.
func TestResourcesWarnAboveCalibration(t *testing.T) {
	cache := useCache(t)
	saveCalibration(t, cache, calibrate.CurrentMachine(), 60)
	ts := testserver.Start(t, testserver.NewSlots(16, time.Millisecond))
	path, out := resScenario(t, fmt.Sprintf(`target: {url: %q}
traffic: {file: t.ndjson}
load: {start_qps: 40, step_qps: 40, max_qps: 80, step_duration: 400ms, warmup: 100ms, refine: 0}
monitor: {disabled: true, max_send_lag: 50ms}
`, ts.URL))
	var stderr bytes.Buffer
	o := runner.Options{ScenarioPath: path, OutDir: out, Stderr: &stderr, Warnings: runner.CalibrationWarnings}
	res, err := runner.Execute(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "warning: the ramp goes up to 80 QPS, above the 60 QPS") {
		t.Errorf("stderr lacks the warning:\n%s", stderr.String())
	}
	r, err := result.Read(res.ResultPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "above the 60 QPS this machine generated") {
		t.Errorf("result.json warnings %q, want the calibration warning first", r.Warnings)
	}
}

// No warning without a calibration, from another machine, or below it;
// nothing is calibrated implicitly.
func TestResourcesNoWarningWithoutCalibration(t *testing.T) {
	cache := useCache(t)
	s := &scenario.Scenario{}
	if w := runner.CalibrationWarnings(s, 1e6); w != nil {
		t.Errorf("no calibration: %q", w)
	}
	if _, err := os.Stat(cache); err == nil {
		t.Error("a calibration was written by run")
	}
	other := calibrate.CurrentMachine()
	other.GOMAXPROCS++
	saveCalibration(t, cache, other, 100)
	if w := runner.CalibrationWarnings(s, 1e6); w != nil {
		t.Errorf("calibration of another core budget: %q", w)
	}
	saveCalibration(t, cache, calibrate.CurrentMachine(), 100)
	if w := runner.CalibrationWarnings(s, 100); w != nil {
		t.Errorf("at the calibrated rate: %q", w)
	}
	if w := runner.CalibrationWarnings(s, 101); len(w) != 1 {
		t.Errorf("above the calibrated rate: %q, want one warning", w)
	}
}

// The peak a generator sends is the plan's highest rate times its share.
func TestResourcesPeakQPS(t *testing.T) {
	s, err := scenario.Parse([]byte("target: {url: \"http://127.0.0.1:1\"}\ntraffic: {file: t}\nload: {start_qps: 100, step_qps: 150, max_qps: 1000}\n"), "s.yaml", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := runner.PeakQPS(&sweep.Config{Scenario: s}); p != 1000 {
		t.Errorf("ramp peak %v, want 1000 (100 + 6×150)", p)
	}
	if p := runner.PeakQPS(&sweep.Config{Scenario: s, Plan: []float64{300, 900, 600}, RateScale: 1.0 / 3}); p != 300 {
		t.Errorf("shard peak %v, want 300 (a third of 900)", p)
	}
}
