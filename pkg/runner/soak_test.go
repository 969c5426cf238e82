package runner_test

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/runner"
)

// processFigures is what the soak watches in the generator's own process.
type processFigures struct {
	rssMB      float64 // /proc/self/statm: includes the race detector's shadow memory under -race
	goMB       float64 // runtime/metrics: memory the Go runtime holds, less what it released to the OS
	heapMB     float64
	goroutines int
}

func measure(t *testing.T) processFigures {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseFloat(f[1], 64)
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return processFigures{
		rssMB:      pages * float64(os.Getpagesize()) / (1 << 20),
		goMB:       float64(s[1].Value.Uint64()-s[2].Value.Uint64()) / (1 << 20),
		heapMB:     float64(s[0].Value.Uint64()) / (1 << 20),
		goroutines: runtime.NumGoroutine(),
	}
}

// TestSoak runs a constant load for about a minute against a loopback
// server and checks that the generator stays flat once warmed up: its RSS
// grows by less than 10% from the end of the warm-up to the end, its
// goroutines by less than 10% or what a new high-water mark of requests in
// flight adds to the worker pool, and no file descriptor is left open.
//
//	BESTBEFORE_SOAK=1 go test -run TestSoak -v ./pkg/runner
func TestSoak(t *testing.T) {
	if os.Getenv("BESTBEFORE_SOAK") == "" {
		t.Skip("a one-minute soak; run it with BESTBEFORE_SOAK=1 go test -run TestSoak -v ./pkg/runner (memory figures are truest without -race)")
	}
	const (
		rate   = 300
		steps  = 12
		stepS  = 5
		warmup = 2 // steps
	)
	srv := testserver.NewSlots(64, 2*time.Millisecond)
	ts := testserver.Start(t, srv)
	rates := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("%d, ", rate), steps), ", ")
	path, out := setup(t, fmt.Sprintf(`name: soak
target: {url: %s}
traffic: {file: t.ndjson}
load: {steps: [%s], step_duration: %ds, warmup: 0s, arrival: poisson}
slo: {latency: {p99: 100ms}, error_rate: 0.1%%}
checks: [{status: 200}, {json: items, min_items: 3}]
monitor: {max_send_lag: 250ms}
`, ts.URL, rates, stepS))

	runtime.GC()
	fdBefore := openFDs(t)
	var mu sync.Mutex
	var at []processFigures
	obs := &stepHook{done: func(st *result.Step) {
		fig := measure(t)
		mu.Lock()
		at = append(at, fig)
		mu.Unlock()
		t.Logf("step %2d: %4d requests, %d errors, p99 %5.1fms | RSS %.1f MB, Go %.1f MB, heap %.1f MB, %d goroutines",
			st.Index, st.Requests, st.Errors, st.LatencyMS.P99, fig.rssMB, fig.goMB, fig.heapMB, fig.goroutines)
	}}
	_, r, err := execute(t, runner.Options{ScenarioPath: path, OutDir: out, Stderr: &bytes.Buffer{}, Observer: obs})
	if err != nil || r == nil {
		t.Fatalf("err %v, result %v", err, r != nil)
	}
	ts.Close()
	time.Sleep(200 * time.Millisecond)
	fdAfter := openFDs(t)

	if len(r.Steps) != steps || len(at) != steps {
		t.Fatalf("%d steps, %d measurements; want %d", len(r.Steps), len(at), steps)
	}
	for _, st := range r.Steps {
		if st.Errors > 0 || !st.SLOPass {
			t.Errorf("step %d: %d errors %v, slo_pass %v", st.Index, st.Errors, st.ErrorsByClass, st.SLOPass)
		}
	}
	// Each end is the mean of three samples: one sample swings by ±10%
	// with the moment the GC last ran.
	mean3 := func(f []processFigures) processFigures {
		var m processFigures
		for _, x := range f {
			m.rssMB += x.rssMB / 3
			m.goMB += x.goMB / 3
			m.heapMB += x.heapMB / 3
			m.goroutines = max(m.goroutines, x.goroutines)
		}
		return m
	}
	w, end := mean3(at[warmup-1:warmup+2]), mean3(at[len(at)-3:])
	growth := func(a, b float64) float64 { return (b - a) / a }
	t.Logf("after warm-up: RSS %.1f MB, Go %.1f MB, heap %.1f MB, %d goroutines; at the end: RSS %.1f MB (%+.1f%%), Go %.1f MB (%+.1f%%), heap %.1f MB, %d goroutines (%+.1f%%); descriptors %d before, %d after",
		w.rssMB, w.goMB, w.heapMB, w.goroutines, end.rssMB, 100*growth(w.rssMB, end.rssMB), end.goMB, 100*growth(w.goMB, end.goMB),
		end.heapMB, end.goroutines, 100*growth(float64(w.goroutines), float64(end.goroutines)), fdBefore, fdAfter)
	// The process's RSS is checked without the race detector only: its
	// shadow memory grows with every goroutine and lock ever used. The Go
	// runtime's own figure is checked always.
	if g := growth(w.goMB, end.goMB); g >= 0.10 {
		t.Errorf("the Go runtime's memory grew %.1f%% after warm-up (%.1f -> %.1f MB)", 100*g, w.goMB, end.goMB)
	}
	if g := growth(w.rssMB, end.rssMB); g >= 0.10 && !raceEnabled {
		t.Errorf("RSS grew %.1f%% after warm-up (%.1f -> %.1f MB)", 100*g, w.rssMB, end.rssMB)
	}
	// The attacker keeps its workers and connections between steps, as
	// many as were ever busy at once: a new high-water mark of requests in
	// flight may add a worker and a connection each, and the in-process
	// server holds a goroutine per connection. Anything beyond is a leak.
	var hwWarm, hwEnd int64
	for i, st := range r.Steps {
		if i < warmup {
			hwWarm = max(hwWarm, st.InFlightMax+1)
		}
		hwEnd = max(hwEnd, st.InFlightMax+1)
	}
	allowed := max(0.10*float64(w.goroutines), float64(2*(hwEnd-hwWarm)))
	t.Logf("in-flight high-water mark %d after warm-up, %d at the end: up to %.0f more goroutines allowed", hwWarm, hwEnd, allowed)
	if d := float64(end.goroutines - w.goroutines); d > allowed {
		t.Errorf("goroutines grew by %.0f after warm-up (%d -> %d), more than the %.0f the worker pool explains", d, w.goroutines, end.goroutines, allowed)
	}
	if fdAfter > fdBefore {
		t.Errorf("%d file descriptors before the soak, %d after", fdBefore, fdAfter)
	}
}
