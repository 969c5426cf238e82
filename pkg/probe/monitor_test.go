package probe_test

import (
	"bufio"
	"context"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/probe"
)

// burner is a child process burning a known CPU share and holding a known
// RSS, whose own CPU-time accounting is the ground truth.
type burner struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	pid int32
}

func startBurner(t *testing.T, exe string, mib int, duty, secs float64) *burner {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(mib)+":"+strconv.FormatFloat(duty, 'f', -1, 64)+":"+strconv.FormatFloat(secs, 'f', -1, 64))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &burner{cmd: cmd, in: in, out: bufio.NewScanner(outPipe), pid: int32(cmd.Process.Pid)}
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	if !b.out.Scan() || b.out.Text() != "ready" {
		t.Fatalf("child did not start: %q %v", b.out.Text(), b.out.Err())
	}
	return b
}

// cpu asks the child for its own CPU seconds.
func (b *burner) cpu(t *testing.T) (float64, time.Time) {
	t.Helper()
	if _, err := io.WriteString(b.in, "cpu\n"); err != nil {
		t.Fatal(err)
	}
	if !b.out.Scan() {
		t.Fatalf("child gone: %v", b.out.Err())
	}
	at := time.Now()
	ns, err := strconv.ParseInt(b.out.Text(), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return float64(ns) / 1e9, at
}

// TestMonitorMeasuresTargetProcess checks CPU and RSS of a child burning
// 50 % of one core with 200 MiB touched, found by PID and by name at once.
func TestMonitorMeasuresTargetProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a CPU-burning child for a few seconds")
	}
	// A copy of the test binary under a unique name, so process_name
	// matches the child only.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	name := "bbprobe" + strconv.Itoa(os.Getpid()%100000)
	exe := filepath.Join(t.TempDir(), name)
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}

	const wantMiB, duty = 200, 0.5
	b := startBurner(t, exe, wantMiB, duty, 8)

	byPID := probe.NewMonitor(probe.Config{Interval: 500 * time.Millisecond, PIDs: []int32{b.pid}})
	byName := probe.NewMonitor(probe.Config{Interval: 500 * time.Millisecond, ProcessName: name})
	ctx := context.Background()
	c0, t0 := b.cpu(t)
	byPID.Start(ctx)
	byName.Start(ctx)
	time.Sleep(2 * time.Second)
	sPID := byPID.Stop()
	sName := byName.Stop()
	c1, t1 := b.cpu(t)

	truth := 100 * (c1 - c0) / t1.Sub(t0).Seconds()
	t.Logf("child's own accounting: %.1f%% of a core; by pid: %+v; by name: %+v", truth, sPID.Target, sName.Target)
	for label, s := range map[string]probe.StepSample{"pid": sPID, "name": sName} {
		if len(s.Warnings) > 0 {
			t.Errorf("%s: warnings %q", label, s.Warnings)
		}
		tg := s.Target
		if tg == nil {
			t.Fatalf("%s: no target measured", label)
		}
		if math.Abs(tg.CPUPercent-truth) > 10 {
			t.Errorf("%s: cpu %.1f%%, child measured itself at %.1f%%", label, tg.CPUPercent, truth)
		}
		if tg.MaxCPUPercent != tg.CPUPercent {
			t.Errorf("%s: one process: max node cpu %.1f != cpu %.1f", label, tg.MaxCPUPercent, tg.CPUPercent)
		}
		if tg.RSSMB < wantMiB*0.9 || (tg.RSSMB > wantMiB*1.1 && !raceEnabled) {
			t.Errorf("%s: rss %.1f MiB, want %d MiB ±10%%", label, tg.RSSMB, wantMiB)
		}
		if tg.Threads < 1 || tg.OpenFiles < 3 {
			t.Errorf("%s: threads %d, open files %d: want at least 1 and 3 (stdio)", label, tg.Threads, tg.OpenFiles)
		}
		if s.Samples < 4 {
			t.Errorf("%s: %d sampling rounds in 2 s at 500 ms, want at least 4", label, s.Samples)
		}
	}
	// The nominal duty cycle holds only if the machine gave the child its
	// share; a child starved by other load is still measured correctly above.
	if math.Abs(truth-100*duty) <= 10 {
		if got := sPID.Target.CPUPercent; math.Abs(got-100*duty) > 10 {
			t.Errorf("cpu %.1f%%, want %.0f%% ± 10 points", got, 100*duty)
		}
	} else {
		t.Logf("machine too busy: the child got %.1f%% instead of %.0f%%; nominal check skipped", truth, 100*duty)
	}
}

func TestMonitorGenerator(t *testing.T) {
	m := probe.NewMonitor(probe.Config{Interval: 100 * time.Millisecond})
	c0, t0 := selfCPUSeconds(t), time.Now()
	m.Start(context.Background())
	// Burn about half of one core for 600 ms and trigger a few collections.
	deadline := time.Now().Add(600 * time.Millisecond)
	var sink []byte
	for time.Now().Before(deadline) {
		start := time.Now()
		for time.Since(start) < 5*time.Millisecond {
			sink = make([]byte, 64)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range 3 {
		runtime.GC()
	}
	_ = sink
	s := m.Stop()
	// The process's own accounting over a window that holds the monitor's
	// is the ground truth: on a loaded machine the loop above gets less
	// than the half core it asks for, and the monitor must say so.
	truth := 100 * (selfCPUSeconds(t) - c0) / time.Since(t0).Seconds()
	g := s.Generator
	t.Logf("generator: %+v, host: %+v, samples %d over %v; own accounting %.1f%%", g, s.Host, s.Samples, s.Duration, truth)
	if math.Abs(g.CPUPercent-truth) > 10+0.2*truth || g.CPUPercent <= 0 {
		t.Errorf("generator cpu %.1f%%, the process accounted %.1f%% of a core", g.CPUPercent, truth)
	}
	if want := g.CPUPercent / 100 / float64(runtime.GOMAXPROCS(0)); math.Abs(g.CPUShare-want) > 1e-9 || g.GOMAXPROCS != runtime.GOMAXPROCS(0) {
		t.Errorf("cpu share %.3f, want %.3f (of %d cores)", g.CPUShare, want, g.GOMAXPROCS)
	}
	if g.RSSMB < 1 || g.Goroutines < 2 {
		t.Errorf("rss %.1f MiB, goroutines %d: want > 1 MiB and at least 2", g.RSSMB, g.Goroutines)
	}
	if g.GCPauseP99MS <= 0 || g.GCPauseP99MS > 1000 {
		t.Errorf("gc pause p99 %.3f ms after 3 collections, want a positive pause", g.GCPauseP99MS)
	}
	if s.Target != nil {
		t.Errorf("no target configured, got %+v", s.Target)
	}
	h := s.Host
	if h == nil {
		t.Fatal("host not sampled")
	}
	if h.CPUPercent < 0 || h.CPUPercent > 100 || len(h.CPUPerCorePercent) == 0 || h.MemUsedMB <= 0 {
		t.Errorf("host %+v: want cpu in 0..100, per-core values, memory used", h)
	}
	if s.Samples < 3 {
		t.Errorf("%d rounds in 600 ms at 100 ms, want at least 3", s.Samples)
	}
}

func TestMonitorDisabled(t *testing.T) {
	m := probe.NewMonitor(probe.Config{Disabled: true, PIDs: []int32{int32(os.Getpid())}, MetricsURLs: []string{"http://127.0.0.1:1/metrics"}})
	c0, w0 := cpuSeconds(), time.Now()
	m.Start(context.Background())
	for c := cpuSeconds(); cpuSeconds()-c < 0.05; {
	}
	s := m.Stop()
	want := 100 * (cpuSeconds() - c0) / time.Since(w0).Seconds()
	if s.Target != nil || s.Host != nil || len(s.Warnings) > 0 {
		t.Errorf("disabled monitor sampled target %+v host %+v warnings %q", s.Target, s.Host, s.Warnings)
	}
	if !near(s.Generator.CPUPercent, want, 0.3) {
		t.Errorf("generator spun 50 ms of CPU: cpu %.1f%%, want %.1f%% (measured even when disabled)", s.Generator.CPUPercent, want)
	}
}

func TestMonitorStopWithoutStart(t *testing.T) {
	m := probe.NewMonitor(probe.Config{})
	if s := m.Stop(); s.Target != nil || s.Host != nil || s.Samples != 0 {
		t.Errorf("Stop without Start: %+v", s)
	}
	// Start twice, then Stop: one step, no leak of the first.
	m.Start(context.Background())
	m.Start(context.Background())
	if s := m.Stop(); s.Samples < 2 || s.Host == nil {
		t.Errorf("after a restarted step: %+v", s)
	}
}

func TestMonitorGonePID(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	pid := int32(cmd.Process.Pid) // reaped: no such process now
	m := probe.NewMonitor(probe.Config{Interval: 50 * time.Millisecond, PIDs: []int32{pid}})
	m.Start(context.Background())
	time.Sleep(120 * time.Millisecond)
	s := m.Stop()
	if s.Target != nil {
		t.Errorf("gone process measured: %+v", s.Target)
	}
	if !containsAll(s.Warnings, "pid "+strconv.Itoa(int(pid))) {
		t.Errorf("warnings %q do not name pid %d", s.Warnings, pid)
	}
}

func TestMonitorProcessNameNotFound(t *testing.T) {
	m := probe.NewMonitor(probe.Config{Interval: time.Second, ProcessName: "no-such-process-bb"})
	m.Start(context.Background())
	s := m.Stop()
	if s.Target != nil || !containsAll(s.Warnings, `"no-such-process-bb": no such process`) {
		t.Errorf("target %+v, warnings %q", s.Target, s.Warnings)
	}
}

func containsAll(ws []string, subs ...string) bool {
	joined := strings.Join(ws, "\n")
	for _, s := range subs {
		if !strings.Contains(joined, s) {
			return false
		}
	}
	return true
}

// selfCPUSeconds is the user and system CPU time this process has used.
func selfCPUSeconds(t *testing.T) float64 {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
