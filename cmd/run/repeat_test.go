package run_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdRun "github.com/bestbefore/bestbefore/cmd/run"
	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/compare"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/runner"
)

// smallScenario is two 1-second steps (50 and 100 QPS) against a loopback
// server of 32 slots × 2 ms (16,000 QPS): both pass, best-before 100 QPS.
func smallScenario(t *testing.T) string {
	t.Helper()
	ts := testserver.Start(t, testserver.NewSlots(32, 2*time.Millisecond))
	dir := t.TempDir()
	files := map[string]string{
		"s.yaml": fmt.Sprintf(`name: small
target: {url: %s}
traffic: {file: t.ndjson}
load: {start_qps: 50, step_qps: 50, max_qps: 100, step_duration: 1s, warmup: 200ms}
slo: {latency: {p99: 500ms}, error_rate: 1%%}
checks: [{status: 200}]
monitor: {max_send_lag: 100ms}
`, ts.URL),
		"t.ndjson": `{"path":"/a"}` + "\n" + `{"method":"POST","path":"/b","body":"{}"}` + "\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "s.yaml")
}

// runCmd executes `run ARGS...` in-process with the real action.
func runCmd(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Version: "test", Executable: os.Executable}
	c := cmdRun.NewCmdRun(f, nil)
	c.SilenceUsage, c.SilenceErrors = true, true
	c.SetArgs(args)
	err := c.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(errOut, err)
	}
	return cmdutil.CodeOf(err), out.String(), errOut.String()
}

func TestRepeatWritesRunsThatCompareReads(t *testing.T) {
	scen := smallScenario(t)
	out := filepath.Join(t.TempDir(), "reps")
	code, stdout, stderr := runCmd(t, context.Background(), scen, "--repeat", "2", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for i := 1; i <= 2; i++ {
		rd := cmdRun.RepDir(out, i)
		if want := filepath.Join(out, fmt.Sprintf("rep-0%d", i)); rd != want {
			t.Fatalf("RepDir(%d) = %s, want %s", i, rd, want)
		}
		b, err := os.ReadFile(filepath.Join(rd, "result.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := result.ValidateJSON(b); err != nil {
			t.Errorf("%s: result.json does not match the schema: %v", rd, err)
		}
		for _, rep := range []string{"report.md", "report.html"} {
			if _, err := os.Stat(filepath.Join(rd, rep)); err != nil {
				t.Errorf("repetition %d has no %s: %v", i, rep, err)
			}
		}
		if !strings.Contains(stdout, fmt.Sprintf("rep %d/2  completed", i)) {
			t.Errorf("no summary line for repetition %d in:\n%s", i, stdout)
		}
	}
	if !strings.Contains(stdout, "best-before over 2 runs: min 100, median 100, max 100 QPS") {
		t.Errorf("no best-before spread in:\n%s", stdout)
	}

	side, err := compare.Load(out)
	if err != nil {
		t.Fatalf("compare.Load(%s): %v", out, err)
	}
	if len(side.Runs) != 2 {
		t.Fatalf("compare.Load read %d runs (%v), want 2", len(side.Runs), side.Paths)
	}
	for i, r := range side.Runs {
		if r.Status != result.StatusCompleted || !r.BestBefore.Found || r.BestBefore.QPS != 100 {
			t.Errorf("run %d: %s, best-before %+v; want completed at 100 QPS", i+1, r.Status, r.BestBefore)
		}
	}
	// The repetitions of one setup compared with themselves: no regression.
	rep, err := compare.Compare(side, side, compare.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict == compare.Regression {
		t.Errorf("a directory compared with itself regressed: %+v", rep.Regressions())
	}

	// A second series into the same directory would mix with the first.
	code, _, stderr = runCmd(t, context.Background(), scen, "--repeat", "2", "--out", out, "--quiet")
	if code != cmdutil.ExitBadInput || !strings.Contains(stderr, "already holds results") {
		t.Errorf("repeat into a used directory: exit %d, %s; want 2 and \"already holds results\"", code, stderr)
	}
}

func TestRepeatJSONSummary(t *testing.T) {
	scen := smallScenario(t)
	out := filepath.Join(t.TempDir(), "reps")
	code, stdout, stderr := runCmd(t, context.Background(), scen, "--repeat", "1", "--out", out, "--quiet", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var s cmdRun.RepeatSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
	}
	if s.Repeat != 1 || s.Complete != 1 || len(s.Runs) != 1 || s.BestBefore.N != 1 || s.BestBefore.Median != 100 || s.Dir != out {
		t.Errorf("summary %+v; want 1 of 1 complete, best-before 100 in %s", s, out)
	}
	var one cmdRun.JSONSummary
	if err := json.Unmarshal(s.Runs[0], &one); err != nil || one.Result != filepath.Join(out, "rep-01", "result.json") {
		t.Errorf("run summary %+v (%v); want the result in rep-01", one, err)
	}
}

// cancelOn cancels the run at its first finished step.
type cancelOn struct{ cancel context.CancelFunc }

func (c cancelOn) StepStarted(int, string, float64, time.Duration) {}
func (c cancelOn) StepProgress(int, attack.Snapshot)               {}
func (c cancelOn) StepDone(*result.Step)                           { c.cancel() }

func TestRepeatInterruptKeepsCompletedRepetitions(t *testing.T) {
	scen := smallScenario(t)
	out := filepath.Join(t.TempDir(), "reps")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ios, _, stdout, stderr := iostreams.Test()
	opts := &cmdRun.Options{
		IO: ios, Version: "test",
		Scenario: scen, OutDir: out, Quiet: true, Format: "text", Repeat: 3,
	}
	var calls atomic.Int32
	err := cmdRun.RunRepeat(ctx, opts, cmdRun.Wiring{Options: func(o *runner.Options) {
		if calls.Add(1) == 2 { // the second repetition is interrupted after one step
			o.Observer = cancelOn{cancel}
		}
	}})
	if code := cmdutil.CodeOf(err); code != cmdutil.ExitInterrupted {
		t.Fatalf("exit %d (%v), want 130\nstdout:\n%s\nstderr:\n%s", code, err, stdout, stderr)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d repetitions started, want 2 (none after the interrupt)", n)
	}
	side, err := compare.Load(out)
	if err != nil || len(side.Runs) != 1 || side.Runs[0].Status != result.StatusCompleted {
		t.Fatalf("compare.Load after an interrupt: %v, %+v; want the one completed repetition", err, side)
	}
	r, err := result.Read(filepath.Join(out, cmdRun.PartialDir, "rep-02", "result.json"))
	if err != nil {
		t.Fatalf("the interrupted repetition's partial result: %v", err)
	}
	if r.Status != result.StatusInterrupted {
		t.Errorf("partial result status %s, want interrupted", r.Status)
	}
	if _, err := os.Stat(cmdRun.RepDir(out, 3)); !os.IsNotExist(err) {
		t.Errorf("rep-03 exists after the interrupt: %v", err)
	}
	if !strings.Contains(stderr.String(), "interrupted after 1 of 3 repetitions") {
		t.Errorf("stderr does not say how far the series got:\n%s", stderr)
	}
}

func TestRepeatFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--repeat", "0"}, "--repeat must be at least 1"},
		{[]string{"--repeat", "-2"}, "--repeat must be at least 1"},
		{[]string{"--repeat", "2", "--shard", "1/2", "--start-at", "+30s"}, "cannot be combined with --shard"},
	} {
		_, err := parseFlags(t, append([]string{"s.yaml"}, tc.args...)...)
		if cmdutil.CodeOf(err) != cmdutil.ExitBadInput || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (exit %d), want exit 2 and %q", tc.args, err, cmdutil.CodeOf(err), tc.want)
		}
	}
	o, err := parseFlags(t, "s.yaml", "--repeat", "3")
	if err != nil || o.Repeat != 3 {
		t.Errorf("--repeat 3: %+v, %v", o, err)
	}
}

func TestSpreadOf(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want cmdRun.Spread
	}{
		{nil, cmdRun.Spread{}},
		{[]float64{350}, cmdRun.Spread{N: 1, Min: 350, Median: 350, Max: 350}},
		{[]float64{400, 300, 350}, cmdRun.Spread{N: 3, Min: 300, Median: 350, Max: 400, Range: 100.0 / 350}},
		{[]float64{400, 300, 350, 350}, cmdRun.Spread{N: 4, Min: 300, Median: 350, Max: 400, Range: 100.0 / 350}},
		{[]float64{300, 400}, cmdRun.Spread{N: 2, Min: 300, Median: 350, Max: 400, Range: 100.0 / 350}},
	} {
		if got := cmdRun.SpreadOf(tc.in); got != tc.want {
			t.Errorf("SpreadOf(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
