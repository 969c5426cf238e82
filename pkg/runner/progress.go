package runner

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Lines reports progress as one plain line per step: what a log or a CI
// job shows when stderr is not a terminal.
type Lines struct {
	W  io.Writer
	mu sync.Mutex
}

// StepStarted implements sweep.Observer.
func (l *Lines) StepStarted(int, string, float64, time.Duration) {}

// StepProgress implements sweep.Observer.
func (l *Lines) StepProgress(int, attack.Snapshot) {}

// StepDone implements sweep.Observer.
func (l *Lines) StepDone(st *result.Step) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.W, StepLine(st))
}

// StepLine is the one-line description of a finished step.
func StepLine(st *result.Step) string {
	verdict := "pass"
	if !st.SLOPass {
		verdict = "FAIL"
		if len(st.Failed) > 0 {
			verdict += " " + strings.Join(st.Failed, ",")
		}
	}
	if st.Generator.Saturated {
		verdict = "SATURATED generator"
	}
	return fmt.Sprintf("step %2d %-6s offered %7.1f  achieved %7.1f qps  p50 %7.2fms  p99 %8.2fms  errors %5.2f%%  %s",
		st.Index+1, st.Phase, st.OfferedQPS, st.AchievedQPS, st.LatencyMS.P50, st.LatencyMS.P99, st.ErrorRate*100, verdict)
}

// Bars shows an mpb progress bar per step on a terminal.
type Bars struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bar  *mpb.Bar
	dur  time.Duration
	rate float64
	snap attack.Snapshot
	w    io.Writer
}

// NewBars draws on w, which must be a terminal.
func NewBars(w io.Writer) *Bars {
	return &Bars{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond)), w: w}
}

// StepStarted implements sweep.Observer.
func (b *Bars) StepStarted(i int, phase string, rate float64, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dur, b.rate, b.snap = d, rate, attack.Snapshot{}
	name := fmt.Sprintf("step %2d %-6s %7.1f qps ", i+1, phase, rate)
	b.bar = b.p.AddBar(int64(d/time.Millisecond),
		mpb.PrependDecorators(decor.Name(name)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			b.mu.Lock()
			defer b.mu.Unlock()
			s := b.snap
			ach := 0.0
			if s.Elapsed > 0 {
				ach = float64(s.Completed) / s.Elapsed.Seconds()
			}
			return fmt.Sprintf(" achieved %7.1f  p99 %7.1fms  errors %d  in flight %d", ach, float64(s.P99)/1e6, s.Errors, s.InFlight)
		})),
		mpb.BarRemoveOnComplete(),
	)
}

// StepProgress implements sweep.Observer.
func (b *Bars) StepProgress(_ int, s attack.Snapshot) {
	b.mu.Lock()
	b.snap = s
	bar := b.bar
	b.mu.Unlock()
	if bar != nil {
		bar.SetCurrent(int64(s.Elapsed / time.Millisecond))
	}
}

// StepDone implements sweep.Observer.
func (b *Bars) StepDone(st *result.Step) {
	b.mu.Lock()
	bar := b.bar
	b.bar = nil
	b.mu.Unlock()
	if bar != nil {
		bar.SetTotal(-1, true)
	}
	b.p.Write([]byte(StepLine(st) + "\n"))
}

// Wait stops drawing.
func (b *Bars) Wait() { b.p.Wait() }
