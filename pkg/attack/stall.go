package attack

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

// StallTick is how often the stall probe asks to be woken.
const StallTick = time.Millisecond

// stallProbe measures how long the generator's process is kept from
// running, whatever the cause: other processes on its cores, the Go
// scheduler, a pause. It sleeps StallTick at a time and records how late
// each wake-up came. A late wake-up delays every request of the step in
// the same way (a send due then goes late, an answer that has arrived
// waits to be read), and latency counts from the intended send time, so
// a stall reads as a slower target. Wake-ups are recorded time-weighted,
// as jHiccup does: a stall of 20 ms also records the 19, 18, … ms that
// the wake-ups it swallowed would have seen, so the p99 is the delay the
// process exceeded 1% of the time, comparable with the latency p99.
// On a quiet machine a 1 ms sleep overshoots by about 0.1 ms at the p99;
// with twice as many busy processes as cores, by 10 ms and more.
type stallProbe struct {
	h    *hdrhistogram.Histogram
	stop chan struct{}
	done chan struct{}
}

// startStallProbe starts recording after warmup (the measured window).
func startStallProbe(warmup time.Duration) *stallProbe {
	p := &stallProbe{h: stats.New(), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(warmup)
	return p
}

func (p *stallProbe) run(warmup time.Duration) {
	defer close(p.done)
	if warmup > 0 {
		t := time.NewTimer(warmup)
		select {
		case <-t.C:
		case <-p.stop:
			t.Stop()
			return
		}
	}
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		t0 := time.Now()
		time.Sleep(StallTick)
		late := time.Since(t0) - StallTick
		if late < 0 {
			late = 0
		}
		_ = p.h.RecordCorrectedValue(late.Microseconds(), StallTick.Microseconds())
	}
}

// finish stops the probe and returns what it recorded (µs).
func (p *stallProbe) finish() *hdrhistogram.Histogram {
	close(p.stop)
	<-p.done
	return p.h
}
