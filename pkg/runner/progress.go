package runner

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Lines reports progress as plain lines: one per finished step, and while
// a step runs one every Interval (10 s by default), so a long step in a CI
// log is never silent. What a log shows when stderr is not a terminal.
type Lines struct {
	W io.Writer
	// Interval between lines within a step; 0 means 10 s, negative none.
	Interval time.Duration
	// Now is the clock (time.Now when nil).
	Now  func() time.Time
	mu   sync.Mutex
	plan plan
	last time.Time
}

// DefaultProgressInterval is how often Lines reports a running step.
const DefaultProgressInterval = 10 * time.Second

// plan is what the progress views know of the run: the most steps it can
// take, the step length, and the step under way.
type plan struct {
	most  int
	step  time.Duration
	index int
	phase string
	rate  float64
	dur   time.Duration
}

// position says where the run is: "step 3 of at most 9, about 40 s left".
func (p plan) position(elapsed time.Duration) string {
	if p.most <= 0 {
		return ""
	}
	left := max(0, p.dur-elapsed) + time.Duration(max(0, p.most-p.index-1))*p.step
	return fmt.Sprintf("step %d of at most %d, at most %s left", p.index+1, p.most, left.Round(time.Second))
}

// snapshotText is a running step's figures: "—" for a latency not yet
// measured, the error share of what completed.
func snapshotText(s attack.Snapshot) string {
	ach, p99, errs := 0.0, "—", "—"
	if s.Elapsed > 0 {
		ach = float64(s.Completed) / s.Elapsed.Seconds()
	}
	if s.P99 > 0 {
		p99 = fmt.Sprintf("%.1fms", float64(s.P99)/1e6)
	}
	if s.Completed > 0 {
		errs = fmt.Sprintf("%.2f%%", 100*float64(s.Errors)/float64(s.Completed))
	}
	return fmt.Sprintf("achieved %7.1f  p99 %8s  errors %6s  in flight %d", ach, p99, errs, s.InFlight)
}

// Planned implements sweep.Planner.
func (l *Lines) Planned(most int, step time.Duration) {
	l.mu.Lock()
	l.plan.most, l.plan.step = most, step
	l.mu.Unlock()
}

func (l *Lines) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// StepStarted implements sweep.Observer.
func (l *Lines) StepStarted(i int, phase string, rate float64, d time.Duration) {
	l.mu.Lock()
	l.plan.index, l.plan.phase, l.plan.rate, l.plan.dur = i, phase, rate, d
	l.last = l.now()
	l.mu.Unlock()
}

// StepProgress implements sweep.Observer.
func (l *Lines) StepProgress(i int, s attack.Snapshot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	iv := l.Interval
	if iv == 0 {
		iv = DefaultProgressInterval
	}
	now := l.now()
	if iv < 0 || now.Sub(l.last) < iv {
		return
	}
	l.last = now
	pos := l.plan.position(s.Elapsed)
	if pos != "" {
		pos = "  (" + pos + ")"
	}
	fmt.Fprintf(l.W, "step %2d %-6s %7.1f qps  %s/%s  %s%s\n", i, l.plan.phase, l.plan.rate,
		s.Elapsed.Round(time.Second), l.plan.dur.Round(time.Second), snapshotText(s), pos)
}

// StepDone implements sweep.Observer.
func (l *Lines) StepDone(st *result.Step) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.W, StepLine(st))
}

// StepLine is the one-line description of a finished step. Steps are
// numbered as in result.json and every report: from 0.
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
		st.Index, st.Phase, st.OfferedQPS, st.AchievedQPS, st.LatencyMS.P50, st.LatencyMS.P99, st.ErrorRate*100, verdict)
}

// Bars shows an mpb progress bar per step on a terminal.
type Bars struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bar  *mpb.Bar
	plan plan
	snap attack.Snapshot
	w    io.Writer
	// width is the terminal's width in columns, 0 when unknown.
	width int
}

// Planned implements sweep.Planner.
func (b *Bars) Planned(most int, step time.Duration) {
	b.mu.Lock()
	b.plan.most, b.plan.step = most, step
	b.mu.Unlock()
}

// barWidth is the width of the bar itself, in columns.
const barWidth = 32

// NewBars draws on w, which must be a terminal width columns wide (0 when
// unknown). A line that would not fit drops its least useful parts
// rather than wrap mid-word: first the time left, then the in-flight count.
func NewBars(w io.Writer, width int) *Bars {
	return &Bars{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(barWidth), mpb.WithRefreshRate(200*time.Millisecond)), w: w, width: width}
}

// fit keeps the bar's line within the terminal: the figures, then the
// position, as room allows (used is what the name and the bar take).
func fit(width, used int, figures, position string) string {
	out := " " + figures
	if position != "" {
		out += "  " + position
	}
	if width <= 0 || used+utf8.RuneCountInString(out) < width {
		return out
	}
	out = " " + figures
	if used+utf8.RuneCountInString(out) < width {
		return out
	}
	if i := strings.LastIndex(figures, "  in flight"); i > 0 {
		out = " " + figures[:i]
	}
	return out
}

// StepStarted implements sweep.Observer.
func (b *Bars) StepStarted(i int, phase string, rate float64, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.plan.index, b.plan.phase, b.plan.rate, b.plan.dur, b.snap = i, phase, rate, d, attack.Snapshot{}
	name := fmt.Sprintf("step %2d %-6s %7.1f qps ", i, phase, rate)
	b.bar = b.p.AddBar(int64(d/time.Millisecond),
		mpb.PrependDecorators(decor.Name(name)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			b.mu.Lock()
			defer b.mu.Unlock()
			return fit(b.width, utf8.RuneCountInString(name)+barWidth+1, snapshotText(b.snap), b.plan.position(b.snap.Elapsed))
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
	b.p.Write([]byte(iostreams.Wrap(StepLine(st), b.width, 8) + "\n"))
}

// Wait stops drawing.
func (b *Bars) Wait() { b.p.Wait() }
