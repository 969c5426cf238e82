package attack

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// With the process's only P held by goroutines that never yield, the
// probe wakes late by about the runtime's preemption slice (10 ms): the
// stall the requests of a step would see. A loaded machine only makes it
// later, so the bound holds on any machine.
func TestStallProbeSeesAHeldProcess(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p := startStallProbe(0)
	var stop atomic.Bool
	for range 2 {
		go func() {
			x := 0
			for !stop.Load() {
				x++
			}
			_ = x
		}()
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	h := p.finish()
	if h.TotalCount() == 0 {
		t.Fatal("the probe recorded nothing")
	}
	if p99 := float64(h.ValueAtQuantile(99)) / 1000; p99 < 3 {
		t.Errorf("stall p99 %.2f ms with the only P held by spinning goroutines; want ≥ 3 ms", p99)
	}
	// Time-weighted: the count covers the held time at one record per
	// tick, not only the few wake-ups that got through.
	if n := h.TotalCount(); n < 150 {
		t.Errorf("%d records over 300 ms at a 1 ms tick; a time-weighted probe records about 300", n)
	}
}
