package cmd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/cmd"
	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// execute runs the command line in-process and returns the exit code and
// what it printed.
func execute(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Version: "test", Executable: os.Executable}
	root := cmd.NewCmdRoot(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(errOut, err)
	}
	return cmdutil.CodeOf(err), out.String(), errOut.String()
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRunWritesValidResultAndReports(t *testing.T) {
	srv := testserver.NewSlots(32, 2*time.Millisecond)
	ts := testserver.Start(t, srv)
	dir := writeFiles(t, map[string]string{
		"s.yaml": fmt.Sprintf(`name: small
target: {url: %s}
traffic: {file: t.ndjson}
load: {start_qps: 50, step_qps: 50, max_qps: 100, step_duration: 1s, warmup: 200ms}
slo: {latency: {p99: 500ms}, error_rate: 1%%}
checks: [{status: 200}, {json: items, min_items: 3}]
monitor: {max_send_lag: 100ms}
`, ts.URL),
		"t.ndjson": `{"path":"/a"}` + "\n" + `{"method":"POST","path":"/b","body":"{}"}` + "\n",
	})
	out := filepath.Join(dir, "out")
	code, stdout, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := result.ValidateJSON(b); err != nil {
		t.Fatalf("result.json does not match the schema: %v", err)
	}
	var r result.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != result.StatusCompleted || len(r.Steps) != 2 || !r.BestBefore.Found || r.BestBefore.QPS != 100 {
		t.Errorf("status %s, %d steps, best-before %+v; want completed, 2 steps, 100 QPS", r.Status, len(r.Steps), r.BestBefore)
	}
	if r.Manifest.TrafficSHA == "" || r.Manifest.ScenarioSHA == "" || r.Manifest.GoVersion == "" {
		t.Errorf("manifest incomplete: %+v", r.Manifest)
	}
	for _, f := range []string{"report.md", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if !strings.Contains(stdout, "100") {
		t.Errorf("summary does not show the best-before:\n%s", stdout)
	}
	// --format json prints a machine summary on stdout.
	code, stdout, _ = execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", out+"-json", "--quiet", "--format", "json", "--set", "load.max_qps=50")
	var js struct {
		BestBefore result.BestBefore `json:"best_before"`
		Steps      []any             `json:"steps"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &js) != nil || len(js.Steps) != 1 || js.BestBefore.QPS != 50 {
		t.Errorf("--format json: exit %d, output %q", code, stdout)
	}
}

func TestRunBadInput(t *testing.T) {
	srv := testserver.NewSlots(8, time.Millisecond)
	ts := testserver.Start(t, srv)
	good := fmt.Sprintf(`name: bad
target: {url: %s}
traffic: {file: t.ndjson}
load:
  start_qps: 10
  max_qps: 20
  step_duration: 1s
`, ts.URL)
	tests := []struct {
		name     string
		scenario string
		traffic  string
		want     string
	}{
		{"unknown key", strings.Replace(good, "  max_qps: 20", "  max_qps: 20\n  max_qsp: 30", 1), "", "s.yaml:7: load.max_qsp: unknown key load.max_qsp; did you mean load.max_qps?"},
		{"wrong type", strings.Replace(good, "max_qps: 20", "max_qps: lots", 1), "", "s.yaml:6: load.max_qps: cannot unmarshal"},
		{"negative rate", strings.Replace(good, "start_qps: 10", "start_qps: -10", 1), "", "s.yaml:5: load.start_qps: must be positive"},
		{"malformed traffic", good, "{\"path\":\"/ok\"}\n{\"path\": \"/x\",\n", "t.ndjson:2: malformed JSON"},
		{"traffic field", good, "{\"path\":\"/ok\"}\n{\"path\":\"/ok\"}\n{\"path\":42}\n", "t.ndjson:3: path: wrong type"},
		{"bad duration", strings.Replace(good, "step_duration: 1s", "step_duration: soon", 1), "", "s.yaml:7: load.step_duration"},
		{"URL without host", strings.Replace(good, ts.URL, `"http://"`, 1), "", "s.yaml:2: target.url: \"http://\" names no host"},
		{"port out of range", strings.Replace(good, ts.URL, "http://127.0.0.1:99999", 1), "", "s.yaml:2: target.url: \"http://127.0.0.1:99999\": port 99999 is not in 1-65535"},
		{"URL with CR/LF", strings.Replace(good, ts.URL, `"`+ts.URL+`/a\r\nX-Injected: 1"`, 1), "", "s.yaml:2: target.url"},
		{"unbounded step", strings.Replace(good, "  max_qps: 20", "  steps: [1e300]", 1), "", "s.yaml:6: load.steps.0: 1e+300 is beyond what any generator can send"},
		{"bundled workers", strings.Replace(good, "target: {url: "+ts.URL+"}", "target: {bundled: {workers: 100000000}}", 1), "", "s.yaml:2: target.bundled.workers: must be between"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tt.traffic
			if tr == "" {
				tr = `{"path":"/"}` + "\n"
			}
			dir := writeFiles(t, map[string]string{"s.yaml": tt.scenario, "t.ndjson": tr})
			before := srv.Served.Load()
			code, _, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", filepath.Join(dir, "out"), "--quiet")
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("message %q does not contain %q", stderr, tt.want)
			}
			if n := srv.Served.Load() - before; n != 0 {
				t.Errorf("%d requests were sent despite bad input", n)
			}
		})
	}
}

func TestRunUnreachableTarget(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"s.yaml":   "target: {url: http://127.0.0.1:1}\ntraffic: {file: t.ndjson}\nload: {start_qps: 10, max_qps: 10}\n",
		"t.ndjson": `{"path":"/"}` + "\n",
	})
	code, _, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", filepath.Join(dir, "out"), "--quiet")
	if code != 3 || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Errorf("exit %d (want 3), stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "result.json")); err == nil {
		t.Error("a result was written for a run that never started")
	}
}

func TestRunRefusesPublicTargets(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"s.yaml":   "target: {url: http://8.8.8.8:80}\ntraffic: {file: t.ndjson}\nload: {start_qps: 10, max_qps: 10}\n",
		"t.ndjson": `{"path":"/"}` + "\n",
	})
	code, _, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--quiet")
	if code != 2 || !strings.Contains(stderr, "--allow-public") {
		t.Errorf("exit %d (want 2), stderr %q", code, stderr)
	}
}

// SIGINT during a run: exit 130 and a schema-valid partial result holding
// the completed steps.
func TestRunInterrupt(t *testing.T) {
	srv := testserver.NewSlots(16, 2*time.Millisecond)
	ts := testserver.Start(t, srv)
	dir := writeFiles(t, map[string]string{
		"s.yaml": fmt.Sprintf(`name: long
target: {url: %s}
traffic: {file: t.ndjson}
load: {start_qps: 50, step_qps: 10, max_qps: 200, step_duration: 1s, warmup: 0s}
monitor: {max_send_lag: 100ms}
`, ts.URL),
		"t.ndjson": `{"path":"/"}` + "\n",
	})
	out := filepath.Join(dir, "out")
	go func() {
		// After two and a half steps, interrupt like Ctrl-C does.
		deadline := time.Now().Add(20 * time.Second)
		for srv.Served.Load() < 50+60+30 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		syscall.Kill(os.Getpid(), syscall.SIGINT)
	}()
	start := time.Now()
	code, _, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", out, "--quiet")
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr %s", code, stderr)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("the interrupted run took %v to stop", el)
	}
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := result.ValidateJSON(b); err != nil {
		t.Fatalf("partial result does not match the schema: %v", err)
	}
	var r result.Result
	json.Unmarshal(b, &r)
	if r.Status != result.StatusInterrupted {
		t.Errorf("status %q, want interrupted", r.Status)
	}
	if len(r.Steps) < 3 || len(r.Steps) > 5 {
		t.Errorf("%d steps in the partial result, want the 2-3 completed ones and the one cut short", len(r.Steps))
	}
	// The step the interrupt cut short is kept, marked partial, with its
	// real duration; the completed ones are whole.
	for i, s := range r.Steps {
		last := i == len(r.Steps)-1
		switch {
		case last && (!s.Partial || s.DurationS >= 1 || s.Requests == 0):
			t.Errorf("the cut-short step: partial %v, %.2f s, %d requests; want partial, under 1 s, its requests counted", s.Partial, s.DurationS, s.Requests)
		case !last && (s.Partial || s.DurationS < 0.99):
			t.Errorf("completed step %d: partial %v, %.2f s", i, s.Partial, s.DurationS)
		}
	}
	if r.BestBefore.Found && r.BestBefore.LimitedBy != result.LimitedByInterrupted {
		t.Errorf("limited_by %q, want interrupted: the ramp never reached max_qps", r.BestBefore.LimitedBy)
	}
	if r.BestBefore.Step >= 0 && r.Steps[r.BestBefore.Step].Partial {
		t.Error("the best-before was set by the step the interrupt cut short")
	}
}

// A single fixed-rate step interrupted (SIGTERM, as a CI runner or
// Kubernetes stops a job) keeps what it measured: the step, marked
// partial, with every request the target served counted, in result.json
// and in every report; the run says it was cut short, and no verdict.
func TestRunTerminatedFixedRateKeepsThePartialStep(t *testing.T) {
	srv := testserver.NewSlots(16, 2*time.Millisecond)
	ts := testserver.Start(t, srv)
	out := filepath.Join(t.TempDir(), "out")
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for srv.Served.Load() < 400 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}()
	code, stdout, stderr := execute(t, context.Background(), "run", "--url", ts.URL, "--rate", "200", "--duration", "20s", "--out", out)
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := result.ValidateJSON(b); err != nil {
		t.Fatalf("partial result does not match the schema: %v", err)
	}
	var r result.Result
	json.Unmarshal(b, &r)
	if len(r.Steps) != 1 {
		t.Fatalf("%d steps, want the one cut short", len(r.Steps))
	}
	s := r.Steps[0]
	served := srv.Served.Load()
	// Every request due in the measured part (after the warmup) counted.
	if !s.Partial || s.Phase != result.PhaseFixed || s.DurationS > 10 || s.DurationS < 0.5 ||
		float64(s.Requests) < 0.9*200*s.DurationS || s.Requests > served {
		t.Errorf("step: partial %v, phase %s, %.1f s, %d requests of %d served; want partial, fixed, cut short, every measured request counted", s.Partial, s.Phase, s.DurationS, s.Requests, served)
	}
	if r.BestBefore.Found {
		t.Errorf("a step cut short set a best-before: %+v", r.BestBefore)
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, want := range []string{"Interrupted after", "(partial:"} {
		if !strings.Contains(string(md), want) || !strings.Contains(stdout+stderr, want) {
			t.Errorf("report.md or the summary lacks %q:\n%s\n%s", want, md, stdout)
		}
	}
	if !strings.Contains(stderr, "1 cut short and kept as partial") {
		t.Errorf("stderr does not say the step was kept: %s", stderr)
	}
}

// A second Ctrl-C stops the wait for requests in flight (here held by a
// server that never answers, far below the 30 s request timeout) and still
// writes a schema-valid partial result, then exits 130.
func TestRunSecondInterruptStillWritesResult(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held atomic.Int64
	var conns sync.WaitGroup
	stop := make(chan struct{})
	defer func() { close(stop); ln.Close(); conns.Wait() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				if n, _ := c.Read(buf); n > 0 {
					held.Add(1) // read the request, never answer it
				}
				<-stop
			}()
		}
	}()
	dir := writeFiles(t, map[string]string{
		"s.yaml": fmt.Sprintf(`name: held
target: {url: http://%s}
traffic: {file: t.ndjson}
load: {start_qps: 20, max_qps: 20, step_duration: 20s, warmup: 0s, timeout: 30s}
monitor: {max_send_lag: 100ms}
`, ln.Addr()),
		"t.ndjson": `{"path":"/"}` + "\n",
	})
	out := filepath.Join(dir, "out")
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for held.Load() < 10 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		time.Sleep(300 * time.Millisecond)
		syscall.Kill(os.Getpid(), syscall.SIGINT)
	}()
	start := time.Now()
	code, _, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", out, "--quiet")
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr %s", code, stderr)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("the run took %v to stop after a second interrupt", el)
	}
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatalf("no partial result after a second interrupt: %v; stderr %s", err, stderr)
	}
	if err := result.ValidateJSON(b); err != nil {
		t.Fatalf("partial result does not match the schema: %v", err)
	}
	var r result.Result
	json.Unmarshal(b, &r)
	if r.Status != result.StatusInterrupted {
		t.Errorf("status %q, want interrupted", r.Status)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "second interrupt stopped the wait for") {
		t.Errorf("warnings do not say requests were abandoned: %q", r.Warnings)
	}
	if !strings.Contains(stderr, "not waiting for the requests in flight") {
		t.Errorf("stderr does not explain the second interrupt: %s", stderr)
	}
}

// An interrupt before the first request (while the traffic is validated
// or the target checked) is exit 130 with nothing sent and nothing
// written, not "target unreachable".
func TestRunInterruptedBeforeStart(t *testing.T) {
	srv := testserver.NewSlots(8, time.Millisecond)
	ts := testserver.Start(t, srv)
	dir := writeFiles(t, map[string]string{
		"s.yaml":   fmt.Sprintf("target: {url: %s}\ntraffic: {file: t.ndjson}\nload: {start_qps: 10, max_qps: 10}\n", ts.URL),
		"t.ndjson": strings.Repeat(`{"path":"/"}`+"\n", 10000),
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(dir, "out")
	code, _, stderr := execute(t, ctx, "run", filepath.Join(dir, "s.yaml"), "--out", out, "--quiet")
	if code != 130 || !strings.Contains(stderr, "interrupted before the first request") || strings.Contains(stderr, "unreachable") {
		t.Errorf("exit %d (want 130), stderr %q", code, stderr)
	}
	if n := srv.Served.Load(); n != 0 {
		t.Errorf("%d requests sent after the interrupt", n)
	}
	if _, err := os.Stat(filepath.Join(out, "result.json")); err == nil {
		t.Error("a result was written for a run that never started")
	}
}

// Two runs started into one --out: one runs, the other is refused at
// once (exit 2, naming the holder), and the first's result is intact. A
// later run into the directory is refused for the result it holds, and
// replaces it only with --force.
func TestRunOutDirectoryIsLockedAndNeverSilentlyReplaced(t *testing.T) {
	srv := testserver.NewSlots(16, time.Millisecond)
	ts := testserver.Start(t, srv)
	out := filepath.Join(t.TempDir(), "same")
	args := []string{"run", "--url", ts.URL, "--rate", "50", "--duration", "2s", "--out", out, "--quiet"}
	type got struct {
		code           int
		stdout, stderr string
	}
	first := make(chan got, 1)
	go func() {
		code, so, se := execute(t, context.Background(), args...)
		first <- got{code, so, se}
	}()
	// The second starts once the first is sending (it holds the lock).
	deadline := time.Now().Add(20 * time.Second)
	for srv.Served.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	code, _, stderr := execute(t, context.Background(), args...)
	if code != 2 || !strings.Contains(stderr, "is being written by bestbefore pid") {
		t.Errorf("the second run into a busy --out: exit %d, stderr %q; want 2 naming the holder", code, stderr)
	}
	g := <-first
	if g.code != 0 {
		t.Fatalf("the first run: exit %d, stderr %s", g.code, g.stderr)
	}
	r, err := result.Read(filepath.Join(out, "result.json"))
	if err != nil || len(r.Steps) != 1 || r.Steps[0].Requests == 0 {
		t.Fatalf("the first run's result: %v", err)
	}
	startedAt := r.StartedAt

	code, _, stderr = execute(t, context.Background(), args...)
	if code != 2 || !strings.Contains(stderr, "already holds a result") || !strings.Contains(stderr, "--force") {
		t.Errorf("a run into a directory with a result: exit %d, stderr %q; want 2 and the --force hint", code, stderr)
	}
	if r2, _ := result.Read(filepath.Join(out, "result.json")); r2 == nil || !r2.StartedAt.Equal(startedAt) {
		t.Error("the refused run touched the earlier result")
	}
	if code, _, stderr = execute(t, context.Background(), append(args, "--force")...); code != 0 {
		t.Fatalf("--force: exit %d, stderr %s", code, stderr)
	}
	if r3, _ := result.Read(filepath.Join(out, "result.json")); r3 == nil || r3.StartedAt.Equal(startedAt) {
		t.Error("--force did not replace the result")
	}
}

// --pid and --process-name point the run at the target's processes: their
// CPU and memory are in every step; a process that is not running is
// refused before any request; without either the summary says the target
// is not watched and how to watch it.
func TestRunWatchesTheTargetProcess(t *testing.T) {
	srv := testserver.NewSlots(16, time.Millisecond)
	ts := testserver.Start(t, srv)
	base := []string{"run", "--url", ts.URL, "--rate", "50", "--duration", "1s", "--quiet"}
	dir := t.TempDir()

	// The test server runs in this process: watch it by pid.
	code, stdout, stderr := execute(t, context.Background(), append(base, "--out", filepath.Join(dir, "pid"), "--pid", strconv.Itoa(os.Getpid()))...)
	if code != 0 {
		t.Fatalf("--pid: exit %d, stderr %s", code, stderr)
	}
	r, err := result.Read(filepath.Join(dir, "pid", "result.json"))
	if err != nil || len(r.Steps) == 0 || r.Steps[0].Target == nil {
		t.Fatalf("--pid: the step holds no sample of the target (%v)", err)
	}
	if strings.Contains(stdout, "not watched") {
		t.Errorf("--pid: the summary says the target is not watched:\n%s", stdout)
	}

	code, stdout, _ = execute(t, context.Background(), append(base, "--out", filepath.Join(dir, "none"))...)
	if code != 0 || !strings.Contains(stdout, "Target CPU   not watched") || !strings.Contains(strings.Join(strings.Fields(stdout), " "), "--pid PID or --process-name NAME") {
		t.Errorf("without --pid: exit %d, the summary does not say how to watch the target:\n%s", code, stdout)
	}

	served := srv.Served.Load()
	for _, bad := range [][]string{{"--pid", "999999999"}, {"--pid", "-3"}, {"--process-name", "bestbefore-no-such-process"}} {
		code, _, stderr := execute(t, context.Background(), append(base, append([]string{"--out", filepath.Join(dir, "bad")}, bad...)...)...)
		if code != 2 || !strings.Contains(stderr, bad[0]) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming the flag", bad, code, stderr)
		}
	}
	if srv.Served.Load() != served {
		t.Error("a run with a process that is not running sent requests")
	}
	_, help, _ := execute(t, context.Background(), "run", "--help")
	for _, want := range []string{"--pid", "--process-name"} {
		if !strings.Contains(help, want) {
			t.Errorf("run --help lacks %s", want)
		}
	}
}

// Escape sequences in what a run prints from outside (a scenario name, a
// branch stored in history) never reach the terminal raw.
func TestTerminalNeverGetsEscapeSequences(t *testing.T) {
	srv := testserver.NewSlots(16, time.Millisecond)
	ts := testserver.Start(t, srv)
	dir := writeFiles(t, map[string]string{
		"s.yaml":   fmt.Sprintf("name: \"x\\e]0;PWNED\\a\\e[2J\"\ntarget: {url: %s}\ntraffic: {file: t.ndjson}\nload: {steps: [20], step_duration: 1s, warmup: 0s}\nmonitor: {max_send_lag: 100ms}\n", ts.URL),
		"t.ndjson": `{"path":"/"}` + "\n",
	})
	out := filepath.Join(dir, "out")
	code, stdout, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	db := filepath.Join(dir, "h.db")
	code, addOut, stderr := execute(t, context.Background(), "history", "add", out, "--db", db, "--branch", "main\x1b[2J\r", "--commit", "abc\x1b]0;x\x07")
	if code != 0 {
		t.Fatalf("history add: exit %d: %s", code, stderr)
	}
	_, list, _ := execute(t, context.Background(), "history", "list", "--db", db)
	for name, s := range map[string]string{"run summary": stdout, "history add": addOut, "history list": list} {
		if strings.ContainsAny(s, "\x1b\x07\r") {
			t.Errorf("%s printed a control character: %q", name, s)
		}
		if name != "history add" && !strings.Contains(s, `x\x1b]0;PWNED`) {
			t.Errorf("%s does not show the name, escaped: %q", name, s)
		}
	}
}
