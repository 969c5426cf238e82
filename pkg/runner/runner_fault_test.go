package runner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/faultserver"
	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/runner"
)

// setup writes a scenario (its target line filled in) and a one-line
// traffic file, and returns the scenario path and an output directory.
func setup(t *testing.T, scenarioYAML string) (path, out string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte(scenarioYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t.ndjson"), []byte(`{"path":"/v1/predict"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, filepath.Join(dir, "out")
}

// execute runs the scenario and returns the outcome, the error and the
// result as read back from disk (schema-checked).
func execute(t *testing.T, o runner.Options) (*runner.Outcome, *result.Result, error) {
	t.Helper()
	if o.Stderr == nil {
		o.Stderr = &bytes.Buffer{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := runner.Execute(ctx, o)
	if out == nil || out.ResultPath == "" {
		return out, nil, err
	}
	b, rerr := os.ReadFile(out.ResultPath)
	if rerr != nil {
		return out, nil, err
	}
	if verr := result.ValidateJSON(b); verr != nil {
		t.Errorf("result.json does not match the schema: %v", verr)
	}
	r, derr := result.Decode(bytes.NewReader(b))
	if derr != nil {
		t.Fatalf("result.json unreadable: %v", derr)
	}
	return out, r, err
}

func logSteps(t *testing.T, r *result.Result) {
	t.Helper()
	for _, s := range r.Steps {
		t.Logf("step %d %s %.0f qps: requests %d successes %d errors %v p99 %.1fms in-flight max %d failed %v",
			s.Index, s.Phase, s.OfferedQPS, s.Requests, s.Successes, s.ErrorsByClass, s.LatencyMS.P99, s.InFlightMax, s.Failed)
	}
}

// stepHook is a sweep.Observer that calls a function when a step starts
// and when it is done.
type stepHook struct {
	started  func(i int)
	progress func(attack.Snapshot)
	done     func(*result.Step)
}

func (h *stepHook) StepStarted(i int, _ string, _ float64, _ time.Duration) {
	if h.started != nil {
		h.started(i)
	}
}
func (h *stepHook) StepProgress(_ int, s attack.Snapshot) {
	if h.progress != nil {
		h.progress(s)
	}
}
func (h *stepHook) StepDone(s *result.Step) {
	if h.done != nil {
		h.done(s)
	}
}

// A node dies in the middle of a step: the requests it was serving are
// reset, later ones refused. The run goes on to the end of the step,
// counts both classes, fails the step on its error rate and writes the
// result.
func TestFaultNodeDiesMidStep(t *testing.T) {
	srv := faultserver.Start(t, faultserver.Slow(40*time.Millisecond))
	path, out := setup(t, fmt.Sprintf(`name: dies
target: {url: %s}
traffic: {file: t.ndjson}
load: {steps: [100], step_duration: 3s, warmup: 0s, timeout: 1s}
slo: {latency: {p99: 500ms}, error_rate: 1%%}
monitor: {max_send_lag: 200ms}
`, srv.URL))
	var once sync.Once
	obs := &stepHook{started: func(int) {
		once.Do(func() { time.AfterFunc(1500*time.Millisecond, srv.Kill) })
	}}
	start := time.Now()
	o, r, err := execute(t, runner.Options{ScenarioPath: path, OutDir: out, Observer: obs})
	if err != nil {
		t.Fatalf("the run stopped on a dead node: %v", err)
	}
	if r == nil {
		t.Fatal("no result written")
	}
	logSteps(t, r)
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("the run took %v after the node died", el)
	}
	if len(r.Steps) != 1 {
		t.Fatalf("%d steps, want 1", len(r.Steps))
	}
	st := r.Steps[0]
	if st.Requests < 250 {
		t.Errorf("only %d requests due in a 3 s step at 100 QPS: the generator stopped sending when the node died", st.Requests)
	}
	if st.Successes < 80 || st.Successes > 170 {
		t.Errorf("%d successes, want about 150 (the half before the kill)", st.Successes)
	}
	if st.ErrorsByClass[result.ClassReset] < 1 {
		t.Errorf("no request counted as reset (errors %v): the node died with requests in flight", st.ErrorsByClass)
	}
	if st.ErrorsByClass[result.ClassRefused] < 80 {
		t.Errorf("%d requests counted as refused, want most of the second half (errors %v)", st.ErrorsByClass[result.ClassRefused], st.ErrorsByClass)
	}
	if st.SLOPass || !contains(st.Failed, "error_rate") {
		t.Errorf("the step passed or did not fail on its error rate: slo_pass %v failed %v", st.SLOPass, st.Failed)
	}
	if r.BestBefore.Found {
		t.Errorf("a best-before was claimed from a failed step: %+v", r.BestBefore)
	}
	if o.Result.Status != result.StatusCompleted {
		t.Errorf("status %q, want completed", r.Status)
	}
}

// A target that accepts and never answers: every request sent times out,
// no more than max_in_flight are ever outstanding, the excess is counted as
// dropped, and the generator's goroutines and heap stay bounded.
func TestFaultTargetHangs(t *testing.T) {
	srv := faultserver.Start(t, faultserver.Hang())
	const maxInFlight = 20
	path, out := setup(t, fmt.Sprintf(`name: hangs
target: {url: %s}
traffic: {file: t.ndjson}
load: {steps: [400], step_duration: 2s, warmup: 0s, timeout: 300ms, max_in_flight: %d}
slo: {error_rate: 1%%}
monitor: {max_send_lag: 200ms}
`, srv.URL, maxInFlight))
	base := runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapAlloc
	var maxG atomic.Int64
	var maxHeap atomic.Uint64
	var maxIF atomic.Int64
	obs := &stepHook{progress: func(s attack.Snapshot) {
		if g := int64(runtime.NumGoroutine()); g > maxG.Load() {
			maxG.Store(g)
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapAlloc > maxHeap.Load() {
			maxHeap.Store(m.HeapAlloc)
		}
		if s.InFlight > maxIF.Load() {
			maxIF.Store(s.InFlight)
		}
	}}
	_, r, err := execute(t, runner.Options{ScenarioPath: path, OutDir: out, Observer: obs})
	if err != nil || r == nil {
		t.Fatalf("err %v, result %v", err, r != nil)
	}
	logSteps(t, r)
	st := r.Steps[0]
	t.Logf("goroutines: %d before, %d at most during the step; heap %d KiB before, %d KiB at most; server saw %d connections at once",
		base, maxG.Load(), heap0>>10, maxHeap.Load()>>10, srv.MaxOpen.Load())
	if st.Successes != 0 {
		t.Errorf("%d successes from a server that never answers", st.Successes)
	}
	timeouts, dropped := st.ErrorsByClass[result.ClassTimeout], st.ErrorsByClass[result.ClassDropped]
	if timeouts < 40 {
		t.Errorf("%d timeouts, want about max_in_flight × step / timeout ≈ 130", timeouts)
	}
	if dropped < 500 {
		t.Errorf("%d dropped, want most of the 800 due requests", dropped)
	}
	if timeouts+dropped != st.Requests {
		t.Errorf("timeouts %d + dropped %d != requests %d (errors %v)", timeouts, dropped, st.Requests, st.ErrorsByClass)
	}
	if st.InFlightMax > maxInFlight || maxIF.Load() > maxInFlight {
		t.Errorf("in flight reached %d (result) / %d (progress), above max_in_flight %d", st.InFlightMax, maxIF.Load(), maxInFlight)
	}
	if n := srv.MaxOpen.Load(); n > 2*maxInFlight {
		t.Errorf("the server saw %d connections open at once with max_in_flight %d", n, maxInFlight)
	}
	if g := maxG.Load(); g > int64(base)+4*maxInFlight+50 {
		t.Errorf("%d goroutines during the step (%d before): not bounded by max_in_flight", g, base)
	}
	if h := maxHeap.Load(); h > heap0+64<<20 {
		t.Errorf("heap grew from %d to %d KiB against a hanging target", heap0>>10, h>>10)
	}
	// A timed-out request's latency is at least the timeout.
	if st.LatencyMS.Max < 300 {
		t.Errorf("max latency %.1fms below the 300ms timeout", st.LatencyMS.Max)
	}
	if st.SLOPass {
		t.Error("the step passed")
	}
}

// A response trickled slower than the timeout is a timeout, not a success
// and not a hang of the generator.
func TestFaultTrickleResponse(t *testing.T) {
	srv := faultserver.Start(t, faultserver.Trickle(200, 50*time.Millisecond)) // 10 s per body
	path, out := setup(t, fmt.Sprintf(`name: trickle
target: {url: %s}
traffic: {file: t.ndjson}
load: {steps: [20], step_duration: 1s, warmup: 0s, timeout: 400ms}
monitor: {max_send_lag: 200ms}
`, srv.URL))
	start := time.Now()
	_, r, err := execute(t, runner.Options{ScenarioPath: path, OutDir: out})
	if err != nil || r == nil {
		t.Fatalf("err %v, result %v", err, r != nil)
	}
	logSteps(t, r)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("a 1 s step with a 400ms timeout took %v", el)
	}
	st := r.Steps[0]
	if st.Requests < 15 || st.ErrorsByClass[result.ClassTimeout] != st.Requests {
		t.Errorf("requests %d, errors %v: want every request a timeout", st.Requests, st.ErrorsByClass)
	}
}

// A body above target.max_response_bytes is an error of its own class,
// with or without a Content-Length.
func TestFaultHugeResponse(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			srv := faultserver.Start(t, faultserver.Huge(4<<20, chunked))
			path, out := setup(t, fmt.Sprintf(`name: huge
target: {url: %s, max_response_bytes: 65536}
traffic: {file: t.ndjson}
load: {steps: [20], step_duration: 1s, warmup: 0s, timeout: 2s}
monitor: {max_send_lag: 200ms}
`, srv.URL))
			_, r, err := execute(t, runner.Options{ScenarioPath: path, OutDir: out})
			if err != nil || r == nil {
				t.Fatalf("err %v, result %v", err, r != nil)
			}
			logSteps(t, r)
			st := r.Steps[0]
			if st.Requests < 15 || st.ErrorsByClass[result.ClassResponseLarge] != st.Requests {
				t.Errorf("requests %d, errors %v: want every request response_too_large", st.Requests, st.ErrorsByClass)
			}
		})
	}
}

// Before any load: a host that does not resolve, or a loopback port
// nobody listens on, is ErrUnreachable with a message naming it, and no
// result is written.
func TestFaultUnreachableBeforeRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, tc := range []struct{ name, url, want string }{
		// RFC 2606 reserves .invalid: it never resolves.
		{"unresolvable", "http://bestbefore-node.invalid:8080", "bestbefore-node.invalid"},
		{"closed port", closed, strings.TrimPrefix(closed, "http://")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, out := setup(t, fmt.Sprintf("target: {url: %s}\ntraffic: {file: t.ndjson}\nload: {steps: [10], step_duration: 1s}\n", tc.url))
			start := time.Now()
			o, r, err := execute(t, runner.Options{ScenarioPath: path, OutDir: out})
			if !errors.Is(err, runner.ErrUnreachable) {
				t.Fatalf("err = %v, want ErrUnreachable", err)
			}
			if errors.Is(err, runner.ErrBadInput) {
				t.Errorf("an unreachable target reported as bad input: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("message %q does not name %q", err, tc.want)
			}
			if el := time.Since(start); el > 8*time.Second {
				t.Errorf("took %v to give up", el)
			}
			if o != nil || r != nil {
				t.Error("an outcome or result for a run that never started")
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("the output directory was created for a run that never started")
			}
		})
	}
}

// readOnlyDir returns a directory that the current user cannot create
// files in. As root, permissions do not stop writes, so a read-only tmpfs
// is mounted there; elsewhere chmod 0555 is enough.
func readOnlyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return dir
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_RDONLY, "size=16k"); err != nil {
		t.Skipf("running as root and cannot mount a read-only tmpfs (%v): no way to make a directory unwritable", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	return dir
}

// The report directory cannot be written: the run stops with a clear error
// before it sends anything, and nothing is left behind.
func TestFaultOutputNotWritable(t *testing.T) {
	srv := faultserver.Start(t, faultserver.Status(200, `{"ok":true}`))
	path, _ := setup(t, fmt.Sprintf("target: {url: %s}\ntraffic: {file: t.ndjson}\nload: {steps: [10], step_duration: 1s}\n", srv.URL))

	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	ro := readOnlyDir(t)
	for _, tc := range []struct{ name, out string }{
		{"parent is a file", filepath.Join(file, "out")},
		{"read-only directory", ro},
		{"under a read-only directory", filepath.Join(ro, "out")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Requests.Load()
			_, r, err := execute(t, runner.Options{ScenarioPath: path, OutDir: tc.out})
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, runner.ErrBadInput) || errors.Is(err, runner.ErrUnreachable) {
				t.Errorf("misclassified: %v", err)
			}
			if !strings.Contains(err.Error(), "output directory") || !strings.Contains(err.Error(), tc.out) {
				t.Errorf("message %q does not say which output directory failed", err)
			}
			if r != nil {
				t.Error("a result was written")
			}
			if n := srv.Requests.Load() - before; n != 0 {
				t.Errorf("%d requests sent before finding the output unwritable", n)
			}
			entries, _ := os.ReadDir(ro)
			if len(entries) != 0 {
				t.Errorf("files left in the read-only directory: %v", entries)
			}
		})
	}
}

// The output directory disappears during the run (a full disk, a cleanup
// job): writing the result fails with an error naming result.json, and no
// partial result.json is left.
func TestFaultOutputLostDuringRun(t *testing.T) {
	srv := faultserver.Start(t, faultserver.Status(200, `{"ok":true}`))
	path, out := setup(t, fmt.Sprintf("target: {url: %s}\ntraffic: {file: t.ndjson}\nload: {steps: [20], step_duration: 500ms, warmup: 0s}\nmonitor: {max_send_lag: 200ms}\n", srv.URL))
	obs := &stepHook{done: func(*result.Step) {
		// Replace the directory by a file: nothing can be created under it.
		os.RemoveAll(out)
		os.WriteFile(out, []byte("in the way"), 0o644)
	}}
	o, _, err := execute(t, runner.Options{ScenarioPath: path, OutDir: out, Observer: obs})
	if err == nil {
		t.Fatal("no error when result.json could not be written")
	}
	if !strings.Contains(err.Error(), "result.json") {
		t.Errorf("message %q does not name result.json", err)
	}
	if o == nil || o.Result == nil || len(o.Result.Steps) != 1 {
		t.Errorf("the outcome lost the measured result: %+v", o)
	}
	if b, _ := os.ReadFile(out); string(b) != "in the way" {
		t.Errorf("the file in the way was changed: %q", b)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(entries)
}

// Runs in a row in one process (demo, tests, library users) must not
// leave connections behind: after each run the target sees every
// connection closed and the process holds no more descriptors than before.
func TestFaultNoConnectionLeakAcrossRuns(t *testing.T) {
	srv := faultserver.Start(t, faultserver.Status(200, `{"ok":true}`))
	path, out := setup(t, fmt.Sprintf("target: {url: %s}\ntraffic: {file: t.ndjson}\nload: {steps: [100], step_duration: 500ms, warmup: 0s}\nmonitor: {max_send_lag: 200ms}\n", srv.URL))
	before := openFDs(t)
	for i := 0; i < 3; i++ {
		if _, _, err := execute(t, runner.Options{ScenarioPath: path, OutDir: out, Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for srv.Open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	after := openFDs(t)
	t.Logf("descriptors %d before, %d after 3 runs; server: %d accepted, %d still open", before, after, srv.Accepted.Load(), srv.Open.Load())
	if n := srv.Open.Load(); n > 0 {
		t.Errorf("%d connections still open to the target after the runs ended", n)
	}
	if after > before {
		t.Errorf("%d file descriptors before, %d after 3 runs", before, after)
	}
}
