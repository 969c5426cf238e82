// Package attack is the open-loop sender. Every request has an intended
// send time from the arrival schedule; the sender never waits for a
// response before sending the next request. Latency is measured from the
// intended time (completion − intended), service time from the actual send
// (completion − sent), and the gap between the two (send lag) tells how
// well the generator kept its schedule.
package attack

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// CoalesceFor returns the pacer's coalescing window for a send-lag
// allowance: half of it, at most MaxCoalesce. The allowance is the lag
// that cannot change a verdict; spending half of it on fewer wake-ups
// leaves the other half to the machine's noise.
func CoalesceFor(maxSendLag time.Duration) time.Duration {
	return min(maxSendLag/2, MaxCoalesce)
}

// Defaults for Options.
const (
	// MaxCoalesce bounds the pacer's coalescing window (Options.Coalesce).
	MaxCoalesce        = 500 * time.Microsecond
	DefaultMaxInFlight = 10000
	DefaultTimeout     = 2 * time.Second
	DefaultMaxSendLag  = time.Millisecond
)

// Options configure an Attacker.
type Options struct {
	Targets []Target
	// Groups, when set, breaks each step's figures down by endpoint
	// group (the requests must come prepared with their Group).
	Groups      *Groups
	MaxInFlight int
	Timeout     time.Duration
	// Checks are invariants every response must keep; a response that
	// breaks one is an error of class check_failed.
	Checks []Check
	// KeepBody reads bodies into memory (needed by body checks).
	KeepBody bool
	// RecordedStatus accepts, for a request whose traffic line holds the
	// status it was recorded with, a response of that status class
	// (StatusClass: success, client error, server error) as the recorded
	// outcome: a 404 recorded and replayed is not an error,
	// and the other checks, written for successes, do not apply to it.
	// A different class is an error (a success where an error was
	// recorded fails the check).
	RecordedStatus bool
	// MaxSendLag is the send lag above which a send counts as late.
	MaxSendLag time.Duration
	// TargetSide assigns each target to a side of a live A/B run (0 for
	// baseline, 1 for candidate); nil puts every target on side 0.
	TargetSide []int
	// Coalesce lets the pacer wake once for the requests due less than
	// this window after the first of them and send them together, when
	// the last of them is due: fewer wake-ups, the dearest thing for a
	// generator that shares a core, for a send lag under the window
	// (measured and reported like any other). Requests sent together
	// reach the server together, and it may serve them in any order.
	// 0 sends each request on its own.
	Coalesce time.Duration
	// Abort, once closed, makes a step that was interrupted (its ctx
	// cancelled) stop waiting for its requests in flight: the step
	// returns at once with what completed, and Abandoned counts the rest
	// (a second Ctrl-C). nil waits for every request, each bounded by
	// Timeout.
	Abort <-chan struct{}
	// Guard checks every address the attacker itself dials (the health
	// probe of a target out of the rotation); its zero value refuses
	// public and link-local addresses.
	Guard h1.Guard
	// Clock, when set, replaces the machine's clock: the pacer sleeps on
	// it and every time a step records is read from it (tests).
	Clock Clock
	// Stream says which bodies are read as event streams (StreamAuto,
	// StreamNDJSON, StreamOff): time to first token and between tokens,
	// output tokens.
	Stream string
	// Good holds the per-request objectives: a request due in the
	// window that met each one set is counted in StepStats.Good (the
	// goodput objective's measure).
	Good RequestObjectives
}

// RequestObjectives are the bounds one request is held to for goodput;
// zero for a bound not set. A response that did not stream has its whole
// answer as its first token, and no time per output token.
type RequestObjectives struct {
	TTFT, TPOT, Latency time.Duration
}

// Set says a bound is set.
func (g RequestObjectives) Set() bool { return g.TTFT > 0 || g.TPOT > 0 || g.Latency > 0 }

// meets says a successful request met every bound set.
func (g RequestObjectives) meets(latency, ttft, tpot time.Duration) bool {
	return (g.Latency <= 0 || latency <= g.Latency) && (g.TTFT <= 0 || ttft <= g.TTFT) && (g.TPOT <= 0 || tpot <= g.TPOT)
}

// Item is one due request: its offset from the step start and the request
// prepared for each target (index-aligned with Options.Targets).
type Item struct {
	Offset time.Duration
	Req    []*Prepared
	// Side is the side of a live A/B run the request goes to.
	Side int
}

// Feed yields the requests of a step in order of offset.
type Feed interface {
	Next() (Item, error)
}

// StepSpec describes one constant-rate step.
type StepSpec struct {
	Rate     float64
	Duration time.Duration
	Warmup   time.Duration
	Interval time.Duration
	// Progress, when set, is called about four times a second with the
	// step's running figures, from a goroutine of the attacker.
	Progress func(Snapshot)
	// Hook, when set, is called once at AtOffset into the step (node-loss
	// verification takes a node out there).
	Hook   func()
	HookAt time.Duration
}

// Snapshot is a step's running state for progress display.
type Snapshot struct {
	Elapsed   time.Duration
	Sent      int64
	Completed int64
	Errors    int64
	P99       time.Duration
	InFlight  int64
}

// Attacker sends requests. It keeps its workers and connections across
// steps, so later steps do not pay for connection setup.
type Attacker struct {
	opts     Options
	clock    Clock
	sleeper  *sleeper // the real clock's, closed with the attacker
	work     chan *job
	workers  atomic.Int64
	inflight atomic.Int64
	closed   chan struct{}
	jobPool  sync.Pool
	health   []targetHealth
	// bySide lists the targets of each side; rrs is each side's round robin.
	bySide [][]int
	rrs    []uint64
}

type job struct {
	p        *Prepared
	target   int
	side     uint8
	intended time.Time
	st       *stepRun
}

// New returns an Attacker.
func New(opts Options) *Attacker {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxSendLag <= 0 {
		opts.MaxSendLag = DefaultMaxSendLag
	}
	a := &Attacker{opts: opts, work: make(chan *job), closed: make(chan struct{}), health: make([]targetHealth, len(opts.Targets))}
	for i := range opts.Targets {
		side := 0
		if i < len(opts.TargetSide) {
			side = opts.TargetSide[i]
		}
		for len(a.bySide) <= side {
			a.bySide = append(a.bySide, nil)
		}
		a.bySide[side] = append(a.bySide[side], i)
	}
	a.rrs = make([]uint64, len(a.bySide))
	a.jobPool.New = func() any { return new(job) }
	a.clock = opts.Clock
	if a.clock == nil {
		a.sleeper = newSleeper()
		a.clock = realClock{a.sleeper}
	}
	return a
}

// Close stops the idle workers and closes the targets' idle connections.
// Call it after the last step.
func (a *Attacker) Close() {
	select {
	case <-a.closed:
	default:
		close(a.closed)
		if a.sleeper != nil {
			a.sleeper.close()
		}
		for _, t := range a.opts.Targets {
			if c, ok := t.Doer.(interface{ CloseIdle() }); ok {
				c.CloseIdle()
			}
		}
	}
}

// InFlight returns the number of requests sent and not yet completed.
func (a *Attacker) InFlight() int64 { return a.inflight.Load() }

// rec is one finished (or dropped) request, sent to the step's collector.
type rec struct {
	intended time.Time
	sent     time.Time
	done     time.Time
	class    uint8
	side     uint8
	// status is the HTTP status of an answer, 0 when none came.
	status uint16
	group  uint16
	// streamed says the body was read as an event stream: first is when
	// its first output event came after the send (0 for none), last its
	// last one, events how many came, tokens the output tokens (usage
	// says from the server's usage object rather than the events). Kept
	// small: every request's record goes through the collector's channel.
	streamed    bool
	usage       bool
	first, last time.Duration
	events      int32
	tokens      int32
}

// kindKey is a kind of error on the hot path: its class and the HTTP
// status answered, if any.
type kindKey struct {
	class  uint8
	status uint16
}

// Error classes as small integers on the hot path.
const (
	classOK uint8 = iota
	classTimeout
	classRefused
	classReset
	class4xx
	class5xx
	classCheck
	classDropped
	classTooLarge
	classHeaderTooLarge
	classOther
	classStreamTimeout
	// classGRPC is the first of 16 classes, one per gRPC status code
	// (result.GRPCClasses): classGRPC+code-1.
	classGRPC
	numClasses = classGRPC + 16
)

// classNames maps the hot-path codes to the result's class names.
var classNames = [numClasses]string{
	classOK:             "",
	classTimeout:        result.ClassTimeout,
	classRefused:        result.ClassRefused,
	classReset:          result.ClassReset,
	class4xx:            result.ClassHTTP4xx,
	class5xx:            result.ClassHTTP5xx,
	classCheck:          result.ClassCheckFailed,
	classDropped:        result.ClassDropped,
	classTooLarge:       result.ClassResponseLarge,
	classHeaderTooLarge: result.ClassHeaderLarge,
	classOther:          result.ClassOther,
	classStreamTimeout:  result.ClassStreamTimeout,
}

func init() {
	for code := 1; code <= 16; code++ {
		classNames[classGRPC+uint8(code)-1] = result.GRPCClasses[code]
	}
}

// StepStats is what one step measured, over its measured window (after
// warmup). Histograms are in microseconds.
type StepStats struct {
	Rate      float64
	Start     time.Time
	Window    time.Duration
	Warmup    time.Duration
	Requests  int64
	Successes int64
	// Goodput counts successful responses that completed inside the
	// measured window, whatever their intended time: the throughput the
	// target actually delivered.
	Goodput   int64
	ByClass   map[string]int64
	Latency   *hdrhistogram.Histogram
	Service   *hdrhistogram.Histogram
	SendLag   *hdrhistogram.Histogram
	LateSends int64
	Intervals []IntervalStats
	// Trend splits the measured window into TrendSlices equal slices by
	// intended send time, each with the latency histogram of the requests
	// due in it: the record the steady-state judgement reads (a queue
	// that grows within the step shows as latency rising slice by slice).
	Trend []IntervalStats
	// InFlightMean and InFlightMax are sampled at each send in the window.
	InFlightMean float64
	InFlightMax  int64
	// Clamped counts latencies above the histogram's range (60 s).
	Clamped int64
	// Completed is false when the step was cut short (interrupt).
	Completed bool
	// Abandoned counts the requests sent and not waited for, because
	// Options.Abort was closed while they were in flight; their answers
	// are in no figure of the step.
	Abandoned int64
	// Errors counts the failed requests by kind, most frequent first, with
	// a sample message of each, for diagnosis.
	Errors []result.ErrorKind
	// Endpoints holds the figures of each endpoint group that had a
	// request due in the window (Options.Groups), in group order.
	Endpoints []EndpointStats
	// CPU is the generator process's CPU time during the step.
	CPU time.Duration
	// Wall is the step's wall time, start to last completion.
	Wall time.Duration
	// Stall is how late the generator's process woke, time-weighted, over
	// the measured window (stallProbe), in microseconds; nil when nothing
	// watched it (a simulated step).
	Stall *hdrhistogram.Histogram
	// Sides holds each side's figures in a live A/B run (Sides[0] is the
	// StepStats itself); nil otherwise.
	Sides []*StepStats
	// Stream holds what the responses read as event streams measured;
	// nil when none was.
	Stream *StreamStats
	// Good counts the requests due in the window that met every
	// per-request objective (Options.Good) when GoodCounted: one is set.
	Good        int64
	GoodCounted bool
}

// StreamStats is what a step's streamed responses measured, over the
// successful ones due in the measured window. Histograms in
// microseconds.
type StreamStats struct {
	Responses int64
	// TTFT is the time to first token from the intended send time;
	// TTFTSent from the actual send (the difference is the generator's
	// own backlog).
	TTFT, TTFTSent *hdrhistogram.Histogram
	// ITL holds the gaps between consecutive output events; TPOT each
	// response's time per output token after the first ((last − first)
	// ÷ (tokens − 1)).
	ITL, TPOT *hdrhistogram.Histogram
	// Tokens counts the output tokens; UsageResponses how many responses
	// gave theirs in a usage object (the rest counted output events).
	Tokens, UsageResponses int64
	// WindowTokens counts the output tokens of the successful streamed
	// responses that completed inside the measured window: the tokens per
	// second the target delivered, as Goodput is the requests.
	WindowTokens int64
}

func newStreamStats() *StreamStats {
	return &StreamStats{TTFT: stats.New(), TTFTSent: stats.New(), ITL: stats.New(), TPOT: stats.New()}
}

// TrendSlices is how many slices StepStats.Trend splits a window into:
// enough points for a robust slope, few enough that each slice of a short
// step holds tens of requests.
const TrendSlices = 10

// IntervalStats is a slice of the measured window.
type IntervalStats struct {
	Offset   time.Duration
	Requests int64
	Errors   int64
	// InFlightMean is the mean number of requests in flight, sampled at
	// each send due in the interval (all sides together).
	InFlightMean float64
	// SendLagMax is the longest a request due in the interval waited past
	// its intended send time before it was sent.
	SendLagMax time.Duration
	// Histogram is the interval's latency histogram in the standard
	// compressed encoding (stats.Encode). The collector encodes each
	// interval as soon as every request due in it has completed, so a
	// long step holds a few histograms in memory, not one per interval.
	Histogram string
}

type stepRun struct {
	spec    StepSpec
	start   time.Time
	results chan rec
	wg      sync.WaitGroup
	// abandon is closed when the step stops waiting for its requests in
	// flight (Options.Abort): their workers then drop their results.
	abandon chan struct{}
	// running figures for progress, written by the collector
	sent      atomic.Int64
	completed atomic.Int64
	errs      atomic.Int64
	exMu      sync.Mutex
	examples  map[kindKey]string
	// ivSent counts the requests the pacer dispatched per interval of the
	// measured window; ivPassed is how many intervals it has left behind
	// (their counts are final). The collector encodes an interval once it
	// has seen as many results for it as were sent.
	ivSent   []atomic.Int64
	ivPassed atomic.Int64
	// Set by begin for the attacker's own steps: the process CPU at the
	// start, the stall probe, the requests in flight seen at each send,
	// and the collector's end.
	cpu0      time.Duration
	stall     *stallProbe
	inf       *inflight
	collected chan struct{}
	// itl receives each side's gaps between output events, from the
	// workers reading streams.
	itl []*lockedHist
}

// interval returns the index of the interval of the measured window that
// offset falls in (offset at or after the warmup).
func (st *stepRun) interval(off time.Duration) int {
	k := int((off - st.spec.Warmup) / st.spec.Interval)
	return min(k, len(st.ivSent)-1)
}

// Step runs one step: it sends the feed's requests at their intended
// times until spec.Duration, then waits for the requests in flight (each
// bounded by the timeout) and returns what was measured. When ctx is
// cancelled it stops sending at once, waits for the requests in flight and
// returns the partial step with Completed false.
func (a *Attacker) Step(ctx context.Context, feed Feed, spec StepSpec) (*StepStats, error) {
	if spec.Interval <= 0 {
		spec.Interval = time.Second
	}
	st, outs := a.begin(spec)
	hookDone := spec.Hook == nil
	interrupted := false
	var cut time.Duration // when an interrupt stopped the sending
	sched := newBatcher(feed, spec.Duration, a.opts.Coalesce)
	for {
		batch, ok := sched.nextBatch()
		if !ok {
			break
		}
		if a.clock.SleepUntil(ctx, st.start.Add(batch[len(batch)-1].Offset)) {
			interrupted, cut = true, a.clock.Now().Sub(st.start)
			break
		}
		for _, it := range batch {
			if !hookDone && it.Offset >= spec.HookAt {
				hookDone = true
				go spec.Hook()
			}
			a.send(st, it)
		}
	}
	// A step lasts its duration, not until its last scheduled request:
	// at 1 QPS over 3 s the last request goes at 2 s and the step, with
	// the wait for its answers, still covers the whole 3 s (its
	// intervals and duration_s say so). A finite feed that ran out ends
	// the step there.
	if !interrupted && !sched.ended() && a.clock.SleepUntil(ctx, st.start.Add(spec.Duration)) {
		interrupted, cut = true, a.clock.Now().Sub(st.start)
	}
	abandoned := a.drain(ctx, st)
	a.account(st, outs, stepEnd{completed: !interrupted && !sched.ended(), cut: cut, interrupted: interrupted, abandoned: abandoned})
	return outs[0], sched.failed()
}

// begin starts a step's accounting: its run state and each side's
// figures, the stall probe and the collector.
func (a *Attacker) begin(spec StepSpec) (*stepRun, []*StepStats) {
	cpu0 := processCPU()
	st, outs := newStepRun(spec, max(1, len(a.bySide)), a.clock.Now())
	st.cpu0 = cpu0
	st.stall = startStallProbe(spec.Warmup)
	st.inf = newInflight(len(st.ivSent))
	st.collected = make(chan struct{})
	go a.collect(st, outs, st.collected)
	return st, outs
}

// countSent counts a send at offset off that found n requests in flight,
// when it falls in the measured window: in its interval's count and in
// the in-flight figures. It returns the interval, -1 for none.
func (st *stepRun) countSent(off time.Duration, n int64) int {
	if off < st.spec.Warmup {
		return -1
	}
	k := -1
	if len(st.ivSent) > 0 {
		k = st.interval(off)
		st.ivSent[k].Add(1)
	}
	st.inf.add(k, n)
	return k
}

// send dispatches one due request: counted in its interval when it is in
// the measured window, dropped when MaxInFlight requests are already in
// flight, otherwise handed to an idle worker or a new one.
func (a *Attacker) send(st *stepRun, it Item) {
	due := st.start.Add(it.Offset)
	t := a.pick(it.Side)
	p := it.Req[t]
	n := a.inflight.Load()
	if k := st.countSent(it.Offset, n); int64(k) > st.ivPassed.Load() {
		st.ivPassed.Store(int64(k)) // the pacer moves on in order
	}
	st.sent.Add(1)
	st.wg.Add(1)
	if n >= int64(a.opts.MaxInFlight) {
		st.results <- rec{intended: due, class: classDropped, side: uint8(it.Side), group: p.Group}
		st.wg.Done()
		return
	}
	a.inflight.Add(1)
	j := a.jobPool.Get().(*job)
	*j = job{p: p, target: int(t), side: uint8(it.Side), intended: due, st: st}
	select {
	case a.work <- j:
	default:
		if a.workers.Load() < int64(a.opts.MaxInFlight) {
			a.workers.Add(1)
			go a.worker(j)
		} else {
			a.work <- j
		}
	}
}

// drain waits for the step's requests in flight and its collector; an
// interrupted step whose Abort closes stops waiting and reports the
// requests abandoned.
func (a *Attacker) drain(ctx context.Context, st *stepRun) (abandoned bool) {
	st.ivPassed.Store(int64(len(st.ivSent)))
	waited := make(chan struct{})
	go func() {
		st.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-a.abortAfter(ctx):
		abandoned = true
		close(st.abandon)
	}
	if !abandoned {
		close(st.results)
	}
	<-st.collected
	return abandoned
}

// stepEnd is how a step ended, for its accounting.
type stepEnd struct {
	completed   bool
	cut         time.Duration
	interrupted bool
	abandoned   bool
}

// account writes how the step ended into each side's figures: its wall
// time, its CPU and stalls since begin, its requests in flight.
func (a *Attacker) account(st *stepRun, outs []*StepStats, e stepEnd) {
	wall, cpu, stalls := a.clock.Now().Sub(st.start), processCPU()-st.cpu0, st.stall.finish()
	st.inf.apply(outs)
	for _, o := range outs {
		o.Wall, o.CPU, o.Stall = wall, cpu, stalls
		o.Completed = e.completed
		if e.interrupted && e.cut < st.spec.Duration {
			o.cutAt(e.cut)
		}
	}
	if e.abandoned {
		outs[0].Abandoned = st.sent.Load() - st.completed.Load()
	}
}

// cutAt shortens the figures of a step an interrupt stopped at offset
// cut (from the step's start) to the part of the window that ran: no
// request was due after it, so the intervals and trend slices past it
// are empty, and the rates divide by the time that was measured.
func (o *StepStats) cutAt(cut time.Duration) {
	w := max(0, cut-o.Warmup)
	if w >= o.Window {
		return
	}
	o.Window = w
	keep := func(ivs []IntervalStats) []IntervalStats {
		n := 0
		for n < len(ivs) && ivs[n].Offset < w {
			n++
		}
		return ivs[:n]
	}
	o.Intervals = keep(o.Intervals)
	o.Trend = keep(o.Trend)
}

// newStepRun prepares the accounting of one step: the run's shared state
// and each side's empty figures, intervals laid out over the measured
// window. In a live A/B run outs[0] holds the others in Sides.
func newStepRun(spec StepSpec, sides int, start time.Time) (*stepRun, []*StepStats) {
	st := &stepRun{spec: spec, start: start, results: make(chan rec, 1<<14), abandon: make(chan struct{}), examples: map[kindKey]string{}}
	outs := make([]*StepStats, sides)
	for k := range outs {
		o := &StepStats{
			Rate: spec.Rate, Start: start, Warmup: spec.Warmup, Window: spec.Duration - spec.Warmup,
			ByClass: map[string]int64{}, Latency: stats.New(), Service: stats.New(), SendLag: stats.New(),
		}
		nIv := int(math.Ceil(float64(o.Window) / float64(spec.Interval)))
		for i := 0; i < nIv; i++ {
			o.Intervals = append(o.Intervals, IntervalStats{Offset: time.Duration(i) * spec.Interval})
		}
		outs[k] = o
	}
	st.ivSent = make([]atomic.Int64, len(outs[0].Intervals))
	st.itl = make([]*lockedHist, len(outs))
	for k := range st.itl {
		st.itl[k] = newLockedHist()
	}
	if len(outs) > 1 {
		outs[0].Sides = outs
	}
	return st, outs
}

// inflight sums the requests in flight seen at each send due in the
// measured window, over the step and per interval.
type inflight struct {
	sum, n, max int64
	// iv holds, per interval, the sum and the count of the samples.
	iv [][2]int64
}

func newInflight(intervals int) *inflight { return &inflight{iv: make([][2]int64, intervals)} }

// add records n requests in flight at a send due in interval k (-1 when
// the window is too short for an interval).
func (f *inflight) add(k int, n int64) {
	if k >= 0 {
		f.iv[k][0] += n
		f.iv[k][1]++
	}
	f.sum += n
	f.n++
	f.max = max(f.max, n)
}

// apply writes the means into every side's figures; the step's mean is
// shared out among the sides.
func (f *inflight) apply(outs []*StepStats) {
	var mean float64
	if f.n > 0 {
		mean = float64(f.sum) / float64(f.n) / float64(len(outs))
	}
	for _, o := range outs {
		for k, v := range f.iv {
			if v[1] > 0 && k < len(o.Intervals) {
				o.Intervals[k].InFlightMean = float64(v[0]) / float64(v[1])
			}
		}
		o.InFlightMean, o.InFlightMax = mean, f.max
	}
}

// abortAfter returns a channel closed once Options.Abort is closed and
// ctx is done: Abort cuts short only the wait of an interrupted step.
func (a *Attacker) abortAfter(ctx context.Context) <-chan struct{} {
	if a.opts.Abort == nil {
		return nil
	}
	ch := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-a.closed:
			return
		}
		select {
		case <-a.opts.Abort:
			close(ch)
		case <-a.closed:
		}
	}()
	return ch
}

func (a *Attacker) worker(j *job) {
	resp := &Response{}
	for {
		a.do(j, resp)
		select {
		case j = <-a.work:
		case <-a.closed:
			a.workers.Add(-1)
			return
		}
	}
}

func (a *Attacker) do(j *job, resp *Response) {
	st := j.st
	sc := resp.stream
	if sc == nil && a.opts.Stream != StreamOff {
		sc = newStreamScan(a.opts.Stream, a.clock.Now)
		resp.stream = sc
	}
	if sc != nil {
		sc.reset(st.itl[min(int(j.side), len(st.itl)-1)], j.intended.Sub(st.start) >= st.spec.Warmup)
	}
	sent := a.clock.Now()
	t := a.opts.Targets[j.target]
	err := t.Doer.Do(j.p, sent.Add(a.opts.Timeout), a.opts.KeepBody, resp)
	done := a.clock.Now()
	class := classOK
	var status uint16
	streamed := sc != nil && sc.on
	switch {
	case err != nil && streamed && classify(err) == classTimeout:
		class = classStreamTimeout
		st.example(kindKey{class, 0}, func() string {
			return "the stream was still open at the request timeout, " + strconv.FormatInt(sc.events, 10) + " output events in"
		})
	case err == nil && streamed && sc.overflow:
		class = classTooLarge
		st.example(kindKey{class, 0}, func() string { return "an event of the stream passed " + strconv.Itoa(MaxEventBytes) + " bytes" })
	case err != nil:
		class = classify(err)
		st.example(kindKey{class, 0}, err.Error)
	default:
		status = uint16(min(max(resp.Status, 0), 999))
		resp.Recorded = j.p.Status
		switch {
		case resp.Code > 0 && resp.Code <= 16:
			class, status = classGRPC+uint8(resp.Code)-1, 0
			st.example(kindKey{class, 0}, resp.codeLine)
		case a.opts.RecordedStatus && j.p.Status >= 400 && StatusClass(resp.Status) == StatusClass(j.p.Status):
			// The error the request got when it was recorded, again.
		case resp.Status >= 500:
			class = class5xx
			st.example(kindKey{class, status}, resp.statusLine)
		case resp.Status >= 400:
			class = class4xx
			st.example(kindKey{class, status}, resp.statusLine)
		default:
			for _, c := range a.opts.Checks {
				if msg := c(resp); msg != "" {
					class = classCheck
					st.example(kindKey{class, status}, func() string { return msg })
					break
				}
			}
		}
	}
	if len(a.health) > 1 {
		a.observe(j.target, class)
	}
	r := rec{intended: j.intended, sent: sent, done: done, class: class, side: j.side, status: status, group: j.p.Group}
	if streamed {
		tokens, usage := sc.tokens()
		r.streamed, r.usage = true, usage
		r.events, r.tokens = int32(min(sc.events, math.MaxInt32)), int32(min(tokens, math.MaxInt32))
		if sc.events > 0 {
			r.first, r.last = sc.first.Sub(sent), sc.last.Sub(sent)
		}
	}
	select {
	case st.results <- r:
	case <-st.abandon: // the step no longer waits for this answer
	}
	a.inflight.Add(-1)
	j.st = nil
	j.p = nil
	a.jobPool.Put(j)
	st.wg.Done()
}

// example keeps the first message of a kind of error; msg is called only
// for a kind not seen before in the step.
func (st *stepRun) example(k kindKey, msg func() string) {
	st.exMu.Lock()
	if _, ok := st.examples[k]; !ok {
		st.examples[k] = msg()
	}
	st.exMu.Unlock()
}

// errorKinds lists the step's kinds of error, most frequent first, each
// with the first message seen of it.
func (st *stepRun) errorKinds(counts map[kindKey]int64) []result.ErrorKind {
	if len(counts) == 0 {
		return nil
	}
	out := make([]result.ErrorKind, 0, len(counts))
	st.exMu.Lock()
	for k, n := range counts {
		out = append(out, result.ErrorKind{Class: classNames[k.class], Status: int(k.status), Count: n, Sample: st.examples[k]})
	}
	st.exMu.Unlock()
	result.SortErrorKinds(out)
	return out
}

// classify maps a transport error to an error class.
func classify(err error) uint8 {
	var ne net.Error
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return classTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return classTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return classRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNABORTED):
		return classReset
	case errors.Is(err, ErrTooLarge):
		return classTooLarge
	case errors.Is(err, h1.ErrHeaderTooLarge):
		return classHeaderTooLarge
	}
	return classOther
}

// collect owns the step's histograms: one goroutine, one owner. In a
// live A/B run each side has its own figures.
func (a *Attacker) collect(st *stepRun, outs []*StepStats, done chan struct{}) {
	defer close(done)
	spec := st.spec
	type side struct {
		out           *StepStats
		lat, svc, lag stats.Recorder
		stream        *StreamStats
		byClass       [numClasses]int64
		kinds         map[kindKey]int64
		groups        []EndpointStats
	}
	sides := make([]*side, len(outs))
	for k, o := range outs {
		sides[k] = &side{out: o, lat: stats.Recorder{H: o.Latency}, svc: stats.Recorder{H: o.Service}, lag: stats.Recorder{H: o.SendLag}, kinds: map[kindKey]int64{}}
		if g := a.opts.Groups; g != nil {
			sides[k].groups = make([]EndpointStats, len(g.Names)+1)
			for i := range sides[k].groups {
				sides[k].groups[i].Name = g.name(i)
			}
		}
	}
	ivs := newIntervalSet(len(st.ivSent), len(sides))
	window := spec.Duration - spec.Warmup
	var trend [][TrendSlices]*hdrhistogram.Histogram
	if window > 0 {
		trend = make([][TrendSlices]*hdrhistogram.Histogram, len(sides))
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	progress := func() {
		if spec.Progress == nil {
			return
		}
		spec.Progress(Snapshot{
			Elapsed: a.clock.Now().Sub(st.start), Sent: st.sent.Load(), Completed: st.completed.Load(),
			Errors: st.errs.Load(), P99: time.Duration(stats.ValueAtQuantile(outs[0].Latency, 99)) * time.Microsecond,
			InFlight: a.inflight.Load(),
		})
	}
	finish := func() {
		ivs.finish(st, outs, len(st.ivSent), true)
		for k, sd := range sides {
			if sd.stream != nil {
				l := st.itl[k]
				l.mu.Lock()
				sd.stream.ITL.Merge(l.h)
				l.mu.Unlock()
			}
		}
		for k := range trend {
			encodeTrend(outs[k], &trend[k], window)
		}
		for _, sd := range sides {
			for c := uint8(1); c < numClasses; c++ {
				if sd.byClass[c] > 0 {
					sd.out.ByClass[classNames[c]] = sd.byClass[c]
				}
			}
			sd.out.Clamped = sd.lat.Clamped
			sd.out.GoodCounted = a.opts.Good.Set()
			if sd.stream != nil {
				sd.out.Stream = sd.stream
			}
			sd.out.Errors = st.errorKinds(sd.kinds)
			for _, g := range sd.groups {
				if g.Requests > 0 {
					sd.out.Endpoints = append(sd.out.Endpoints, g)
				}
			}
		}
		progress()
	}
	handle := func(r rec) {
		si := 0
		if int(r.side) < len(sides) {
			si = int(r.side)
		}
		sd := sides[si]
		out := sd.out
		st.completed.Add(1)
		if r.streamed && sd.stream == nil {
			sd.stream = newStreamStats()
		}
		if r.class != classOK {
			st.errs.Add(1)
		} else if d := r.done.Sub(st.start); d >= spec.Warmup && d < spec.Duration {
			out.Goodput++
			if r.streamed {
				sd.stream.WindowTokens += int64(r.tokens)
			}
		}
		off := r.intended.Sub(st.start)
		if off < spec.Warmup {
			return
		}
		out.Requests++
		var grp *EndpointStats
		if int(r.group) < len(sd.groups) {
			grp = &sd.groups[r.group]
			grp.Requests++
			if r.class != classOK {
				grp.Errors++
			}
		}
		iv, ivo := -1, &IntervalStats{} // a window too short for an interval
		if len(st.ivSent) > 0 {
			iv = st.interval(off)
			ivs.done[iv]++
			ivo = &out.Intervals[iv]
		}
		ivo.Requests++
		if r.class == classOK {
			out.Successes++
		} else {
			sd.byClass[r.class]++
			sd.kinds[kindKey{r.class, r.status}]++
			ivo.Errors++
		}
		if r.class == classDropped {
			return
		}
		l := r.done.Sub(r.intended)
		if r.class == classOK {
			a.recordStream(sd.stream, out, r, l)
		}
		sd.lat.Record(l)
		sd.svc.Record(r.done.Sub(r.sent))
		sl := r.sent.Sub(r.intended)
		sd.lag.Record(sl)
		ivo.SendLagMax = max(ivo.SendLagMax, sl)
		if sl > a.opts.MaxSendLag {
			out.LateSends++
		}
		v, _ := stats.Micros(l)
		if grp != nil {
			if grp.Latency == nil {
				grp.Latency = stats.New()
			}
			_ = grp.Latency.RecordValue(v)
		}
		if iv >= 0 {
			_ = ivs.hist(si, iv).RecordValue(v)
		}
		if trend != nil {
			j := min(int(int64(off-spec.Warmup)*TrendSlices/int64(window)), TrendSlices-1)
			h := trend[si][j]
			if h == nil {
				h = stats.New()
				trend[si][j] = h
			}
			_ = h.RecordValue(v)
		}
	}
	for {
		select {
		case r, ok := <-st.results:
			if !ok {
				finish()
				return
			}
			handle(r)
		case <-st.abandon:
			// The step stopped waiting: take what has arrived, no more.
			for {
				select {
				case r := <-st.results:
					handle(r)
					continue
				default:
				}
				break
			}
			finish()
			return
		case <-tick.C:
			ivs.finish(st, outs, int(st.ivPassed.Load()), false)
			progress()
		}
	}
}

// recordStream counts a successful request due in the window: its
// stream's figures when it streamed, and whether it met every
// per-request objective.
func (a *Attacker) recordStream(ss *StreamStats, out *StepStats, r rec, latency time.Duration) {
	ttft, tpot := latency, time.Duration(0)
	if r.streamed {
		ss.Responses++
		ss.Tokens += int64(r.tokens)
		if r.usage {
			ss.UsageResponses++
		}
		if r.events > 0 {
			ttft = r.sent.Sub(r.intended) + r.first
			recordDuration(ss.TTFT, ttft)
			recordDuration(ss.TTFTSent, r.first)
			if r.tokens > 1 {
				tpot = (r.last - r.first) / time.Duration(r.tokens-1)
				recordDuration(ss.TPOT, tpot)
			}
		}
	}
	if a.opts.Good.Set() && a.opts.Good.meets(latency, ttft, tpot) {
		out.Good++
	}
}

func recordDuration(h *hdrhistogram.Histogram, d time.Duration) {
	v, _ := stats.Micros(d)
	_ = h.RecordValue(v)
}

// encodeTrend writes the trend slices' histograms into o.Trend; a slice
// no request was due in has an empty histogram.
func encodeTrend(o *StepStats, hs *[TrendSlices]*hdrhistogram.Histogram, window time.Duration) {
	o.Trend = make([]IntervalStats, TrendSlices)
	for j, h := range hs {
		if h == nil {
			h = stats.New()
		}
		o.Trend[j] = IntervalStats{Offset: window * time.Duration(j) / TrendSlices, Requests: h.TotalCount()}
		o.Trend[j].Histogram, _ = stats.Encode(h)
	}
}

// intervalSet holds the latency histograms of the intervals still
// receiving results, one per side, and encodes each interval into the
// step's figures once it is complete. Encoded histograms take a few
// hundred bytes; a live one, 136 KB: a one-hour step of one-second
// intervals would otherwise hold half a gigabyte.
type intervalSet struct {
	done  []int64                     // results seen per interval
	live  [][]*hdrhistogram.Histogram // [side][interval], nil until used
	free  []*hdrhistogram.Histogram
	next  int // the first interval not yet encoded
	empty string
}

func newIntervalSet(n, sides int) *intervalSet {
	s := &intervalSet{done: make([]int64, n), live: make([][]*hdrhistogram.Histogram, sides)}
	for k := range s.live {
		s.live[k] = make([]*hdrhistogram.Histogram, n)
	}
	return s
}

func (s *intervalSet) hist(side, iv int) *hdrhistogram.Histogram {
	h := s.live[side][iv]
	if h == nil {
		if n := len(s.free); n > 0 {
			h, s.free = s.free[n-1], s.free[:n-1]
		} else {
			h = stats.New()
		}
		s.live[side][iv] = h
	}
	return h
}

// finish encodes, in order, the intervals before upTo whose every
// dispatched request has reported; at the end of the step (final: every
// result is in) it encodes them all.
func (s *intervalSet) finish(st *stepRun, outs []*StepStats, upTo int, final bool) {
	for ; s.next < min(upTo, len(s.done)); s.next++ {
		if !final && s.done[s.next] < st.ivSent[s.next].Load() {
			return
		}
		for k, o := range outs {
			h := s.live[k][s.next]
			if h == nil {
				if s.empty == "" {
					s.empty, _ = stats.Encode(stats.New())
				}
				o.Intervals[s.next].Histogram = s.empty
				continue
			}
			o.Intervals[s.next].Histogram, _ = stats.Encode(h)
			h.Reset()
			s.free = append(s.free, h)
			s.live[k][s.next] = nil
		}
	}
}

// Client-side round robin over several targets behaves like a load
// balancer with a health check: a target whose connections are refused or
// reset DownAfter times in a row leaves the rotation, and a TCP dial every
// DownFor checks whether it came back. Without it a dead node would keep
// failing its share of the load, which no real balancer does; with it the
// requests in flight on a node that dies still fail and are counted.
const (
	DownAfter = 3
	DownFor   = time.Second
)

type targetHealth struct {
	fails atomic.Int32
	down  atomic.Bool
}

func (a *Attacker) observe(t int, class uint8) {
	h := &a.health[t]
	switch class {
	case classRefused, classReset:
		if h.fails.Add(1) >= DownAfter && h.down.CompareAndSwap(false, true) {
			h.fails.Store(0)
			go a.probe(t)
		}
	case classOK, class4xx, classCheck:
		h.fails.Store(0)
	}
}

// probe dials a target that left the rotation until it accepts a
// connection again, or the attacker closes.
func (a *Attacker) probe(t int) {
	base := a.opts.Targets[t].Base
	addr := base.Host
	if base.Port() == "" {
		if base.Scheme == "https" {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	tick := time.NewTicker(DownFor)
	defer tick.Stop()
	for {
		select {
		case <-a.closed:
			return
		case <-tick.C:
		}
		c, err := a.opts.Guard.Dialer(DownFor/2).Dial("tcp", addr)
		if err == nil {
			c.Close()
			a.health[t].down.Store(false)
			return
		}
	}
}

// pick returns the next target of a side in round-robin order, skipping
// targets out of the rotation unless every one of them is.
func (a *Attacker) pick(side int) int {
	if side < 0 || side >= len(a.bySide) {
		side = 0
	}
	ts := a.bySide[side]
	n := uint64(len(ts))
	if n == 1 {
		return ts[0]
	}
	rr := a.rrs[side]
	for i := uint64(0); i < n; i++ {
		t := ts[(rr+i)%n]
		if !a.health[t].down.Load() {
			a.rrs[side] = rr + i + 1
			return t
		}
	}
	a.rrs[side] = rr + 1
	return ts[rr%n]
}
