// Package sweep drives a scenario's ramp: it runs constant-rate steps
// through the attacker, judges each against the objectives, stops after
// the configured failures, refines by bisection and assembles the result.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/pace"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/stats"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// StepWatcher samples resources during a step.
type StepWatcher interface {
	Start(ctx context.Context)
	Stop() StepResources
}

// StepResources is what a StepWatcher saw during one step.
type StepResources struct {
	Target *result.TargetResources
	Host   *result.Host
	// GeneratorCPUPercent is the generator's CPU in percent of one core;
	// GeneratorRSSMB its resident memory; zero when not sampled.
	GeneratorCPUPercent float64
	GeneratorRSSMB      float64
	Goroutines          int
	GCPauseP99MS        float64
	Warnings            []string
}

// Observer is told about the run's progress (progress bars, log lines).
type Observer interface {
	StepStarted(index int, phase string, rate float64, duration time.Duration)
	StepProgress(index int, s attack.Snapshot)
	StepDone(step *result.Step)
}

// Planner is an Observer that is also told, before the first step, the
// most steps the run can take and how long a step lasts, for "step n of
// m" and the time left. The ramp usually ends before its last step.
type Planner interface {
	Planned(maxSteps int, step time.Duration)
}

// Stepper runs one step of load and reports what it measured: the
// Attacker against real sockets, or a queueing simulation in virtual time
// (pkg/sim). The ramp, the judgement, the steady-state test and the
// refinement are the same whichever runs the steps.
type Stepper interface {
	Step(ctx context.Context, feed attack.Feed, spec attack.StepSpec) (*attack.StepStats, error)
}

// NodeKiller takes a node out and brings it back, for node-loss verification.
type NodeKiller interface {
	Kill(ctx context.Context) (node string, err error)
	Restore(ctx context.Context) error
}

// Config is everything a run needs besides the scenario.
type Config struct {
	Scenario *scenario.Scenario
	// TargetURLs are the base URLs requests go to (resolved: a bundled
	// cluster's balancer, or the scenario's url/urls).
	TargetURLs []string
	// TrafficPath is the traffic file (resolved against the scenario).
	TrafficPath string
	Monitor     StepWatcher
	Observer    Observer
	NodeKiller  NodeKiller
	// Doer, when set, replaces the default HTTP client for every target.
	Doer func(u *url.URL, maxConns int, maxBytes int64) (attack.Doer, error)
	// AllowPublic lets the default client connect to public and
	// link-local addresses; without it every dial is checked by h1.Guard,
	// after name resolution, whatever the targets resolved to before the
	// run.
	AllowPublic bool
	// Abort, once closed after ctx is cancelled, stops the interrupted
	// step from waiting for its requests in flight (a second Ctrl-C): the
	// result is written at once.
	Abort <-chan struct{}
	// Setup is what the targets' protocol loaded before the run (gRPC:
	// descriptors and connection settings, see pkg/rpc), passed to its
	// client; nil for HTTP.
	Setup any
	// Plan, when set, replaces the ramp by a fixed list of rates (shards).
	Plan []float64
	// RateScale multiplies every rate sent (shard i of n sends 1/n).
	RateScale float64
	// CandidateURLs, when set, makes a live A/B run: every request is sent
	// to TargetURLs (the baseline) and to these (the candidate).
	CandidateURLs []string
	// Traffic is what ScanTraffic found in TrafficPath; when nil, Run
	// scans the file itself before sending anything.
	Traffic *TrafficInfo
	// Filter keeps a share of the traffic lines (shards).
	Filter func(*traffic.Request) bool
	// StartAt aligns step boundaries to the wall clock (shards): step k
	// starts at StartAt + k×StepSlot, and the plan runs to its end (no
	// stop on failures or saturation) so every shard changes rate together.
	StartAt time.Time
	// Shard, when set, is recorded in the result.
	Shard *result.Shard
	// Now, when set, is the clock the result's times are read from.
	Now func() time.Time
	// Stepper, when set, runs the steps instead of an Attacker: no
	// target is dialled and no traffic is read, and the feed it is given
	// carries the arrival schedule without requests.
	Stepper Stepper
}

// Run executes the scenario and returns its result. The result is always
// returned, even with an error or when ctx is cancelled: it then holds the
// completed steps and status interrupted or aborted.
func Run(ctx context.Context, cfg Config) (*result.Result, error) {
	s := cfg.Scenario
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.RateScale == 0 {
		cfg.RateScale = 1
	}
	r := &result.Result{
		Schema:     result.SchemaV1,
		Shard:      cfg.Shard,
		Name:       s.Name,
		Status:     result.StatusCompleted,
		StartedAt:  now().UTC(),
		Objectives: Objectives(s),
		Steps:      []result.Step{},
	}
	r.BestBefore = result.BestBefore{Step: -1, Nodes: s.Capacity.Nodes, SafetyMargin: s.SafetyMarginValue()}
	ab := len(cfg.CandidateURLs) > 0
	var sides [2]*result.Result
	if ab {
		for k := range sides {
			sides[k] = &result.Result{Schema: result.SchemaV1, Name: s.Name, Status: result.StatusCompleted,
				StartedAt: r.StartedAt, Objectives: r.Objectives, Steps: []result.Step{}}
		}
		r.Sides = map[string]*result.Result{"baseline": sides[0], "candidate": sides[1]}
	}
	finish := func() {
		r.FinishedAt = now().UTC()
		r.BestBefore = result.ComputeBestBefore(r.Steps, s.Capacity.Nodes, s.SafetyMarginValue())
		if r.Status == result.StatusInterrupted && r.BestBefore.LimitedBy == result.LimitedByMaxQPS {
			// Stopped between steps: the ramp did not reach max_qps.
			r.BestBefore.LimitedBy = result.LimitedByInterrupted
		}
		r.Warnings = append(r.Warnings, summaryWarnings(r)...)
		for _, sd := range sides {
			if sd == nil {
				continue
			}
			sd.Status, sd.Reason, sd.FinishedAt = r.Status, r.Reason, r.FinishedAt
			sd.BestBefore = result.ComputeBestBefore(sd.Steps, s.Capacity.Nodes, s.SafetyMarginValue())
			sd.Warnings = append(sd.Warnings, summaryWarnings(sd)...)
		}
		if ab {
			r.Warnings = append(r.Warnings, fmt.Sprintf("live A/B run: the steps and best-before shown are the baseline's; the candidate's best-before is %.1f QPS (result.sides; compare this file to judge the candidate)", sides[1].BestBefore.QPS))
		}
	}

	stepper, prov, info, closeAll, err := prepare(ctx, cfg)
	if err != nil {
		finish()
		return r, err
	}
	defer closeAll()

	runCtx, cancel := context.WithTimeout(ctx, s.Limits.MaxDuration.D())
	defer cancel()
	rn := &sweeper{cfg: cfg, s: s, atk: stepper, prov: prov, info: info, r: r, ctx: runCtx, sides: sides, pairWith: -1}
	err = rn.ramp()
	switch {
	case ctx.Err() != nil:
		r.Status = result.StatusInterrupted
		r.Reason = "interrupted"
	case runCtx.Err() != nil:
		r.Status = result.StatusAborted
		r.Reason = fmt.Sprintf("the run reached limits.max_duration (%v)", s.Limits.MaxDuration.D())
	case rn.abortReason != "":
		r.Status = result.StatusAborted
		r.Reason = rn.abortReason
	}
	finish()
	return r, err
}

// prepare builds what sends the steps: with cfg.Stepper, that alone;
// otherwise the targets' clients, the traffic provider and the Attacker.
// closeAll releases them, last built first.
func prepare(ctx context.Context, cfg Config) (stepper Stepper, prov *attack.Provider, info *TrafficInfo, closeAll func(), err error) {
	var closers []func()
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		closers = nil
	}
	if cfg.Stepper != nil {
		return cfg.Stepper, nil, &TrafficInfo{}, closeAll, nil
	}
	s := cfg.Scenario
	bases, err := attack.ParseTargets(append(append([]string(nil), cfg.TargetURLs...), cfg.CandidateURLs...))
	if err != nil {
		closeAll()
		return nil, nil, nil, nil, err
	}
	if len(bases) == 0 {
		closeAll()
		return nil, nil, nil, nil, errors.New("sweep: no target")
	}
	info = cfg.Traffic
	if info == nil {
		if info, err = ScanTraffic(ctx, cfg.TrafficPath); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	src, err := traffic.NewSource(cfg.TrafficPath, s.Traffic.Order == "shuffle", s.Seed)
	if err != nil {
		closeAll()
		return nil, nil, nil, nil, err
	}
	src.Filter = cfg.Filter
	closers = append(closers, func() { src.Close() })

	var checks []attack.Check
	keepBody, recorded := false, false
	for _, c := range s.Checks {
		spec := attack.CheckSpec{Header: c.Header, Equals: c.HeaderIs, JSONPath: c.JSONPath, MinItems: c.MinItems, Contains: c.BodyHas}
		if c.Status != nil {
			if c.Status.Recorded {
				spec.RecordedStatus = true
				recorded = true
			} else {
				spec.Status = &c.Status.Code
			}
		}
		keepBody = keepBody || spec.NeedsBody()
		checks = append(checks, spec.Compile())
	}
	maxConns := s.Load.MaxInFlight
	guard := h1.Guard{AllowPublic: cfg.AllowPublic}
	mkDoer := cfg.Doer
	if mkDoer == nil {
		roots, err := s.Target.RootCAs(s.Resolve)
		if err != nil {
			closeAll()
			return nil, nil, nil, nil, err
		}
		mkDoer = func(u *url.URL, maxConns int, maxBytes int64) (attack.Doer, error) {
			return attack.NewDoer(u, attack.DoerOptions{MaxConns: maxConns, MaxResponseBytes: maxBytes, Guard: guard, Protocol: s.Target.Protocol, RootCAs: roots, Connections: s.Target.Connections, Setup: cfg.Setup})
		}
	}
	targets := make([]attack.Target, len(bases))
	for i, b := range bases {
		d, err := mkDoer(b, maxConns, s.Target.MaxResponseBytes)
		if err != nil {
			closeAll()
			return nil, nil, nil, nil, err
		}
		targets[i] = attack.Target{Base: b, Doer: d}
		if c, ok := d.(interface{ Close() error }); ok {
			closers = append(closers, func() { c.Close() })
		}
	}
	extra := http.Header{}
	for k, v := range s.Target.Headers {
		extra.Set(k, v)
	}
	preps := make([]attack.PrepareFunc, len(targets))
	for i, t := range targets {
		preps[i] = attack.PrepareFor(t, extra)
	}
	groups := attack.NewGroups(info.Endpoints)
	prov = attack.NewProvider(src, preps, info.Count, groups)
	closers = append(closers, prov.Close)
	var targetSide []int
	if len(cfg.CandidateURLs) > 0 {
		targetSide = make([]int, len(bases))
		for i := len(cfg.TargetURLs); i < len(bases); i++ {
			targetSide[i] = 1
		}
	}
	atk := attack.New(attack.Options{
		Groups:  groups,
		Targets: targets, MaxInFlight: s.Load.MaxInFlight, Timeout: s.Load.Timeout.D(),
		Checks: checks, KeepBody: keepBody, RecordedStatus: recorded, MaxSendLag: s.Monitor.MaxSendLag.D(), TargetSide: targetSide,
		Guard: guard, Coalesce: attack.CoalesceFor(s.Monitor.MaxSendLag.D()), Abort: cfg.Abort,
		Stream: streamMode(s.Target.Stream), Good: s.SLO.Good(),
	})
	closers = append(closers, atk.Close)
	return atk, prov, info, closeAll, nil
}

// streamMode is target.stream as the attacker takes it ("auto" is the default).
func streamMode(m string) string {
	if m == "auto" {
		return attack.StreamAuto
	}
	return m
}

// Objectives are the scenario's objectives in force, in plain units.
func Objectives(s *scenario.Scenario) result.Objectives { return s.SLO.InForce() }

// sweeper is one run of a scenario: the ramp, refinement and node-loss
// hold over one result.
type sweeper struct {
	// sides are the baseline and candidate results of a live A/B run.
	sides       [2]*result.Result
	cfg         Config
	s           *scenario.Scenario
	atk         Stepper
	prov        *attack.Provider
	info        *TrafficInfo
	r           *result.Result
	ctx         context.Context
	abortReason string
	abortRun    int
	stepNo      int
	// pairWith is the index of the step the next one measures again
	// (judgedStep), -1 when none.
	pairWith int
}

func (rn *sweeper) ramp() error {
	s := rn.s
	rates := s.Rates()
	if rn.cfg.Plan != nil {
		rates = rn.cfg.Plan
	}
	fails := 0
	aligned := !rn.cfg.StartAt.IsZero()
	if p, ok := rn.cfg.Observer.(Planner); ok {
		most := len(rates)
		if rn.cfg.Plan == nil && rn.sides[0] == nil {
			most += s.Load.Refine
			if nl := s.Capacity.NodeLoss; nl != nil && nl.Verify && rn.cfg.NodeKiller != nil {
				most++
			}
		}
		p.Planned(most, s.Load.StepDuration.D())
	}
	phase := result.PhaseRamp
	if len(rates) == 1 && rn.cfg.Plan == nil {
		phase = result.PhaseFixed
	}
	for _, q := range rates {
		st, err := rn.judgedStep(phase, q)
		if err != nil || st == nil {
			return err
		}
		if rn.abortReason != "" {
			return nil
		}
		if st.Generator.Saturated && !aligned {
			rn.r.Warnings = append(rn.r.Warnings, fmt.Sprintf("the generator could not keep its schedule at %.0f QPS (%s); the ramp stopped there", q, st.Generator.SaturatedWhy))
			break
		}
		if st.SLOPass || st.Unmeasured() {
			fails = 0
			continue
		}
		fails++
		if fails >= s.Load.StopAfterFailures && !aligned {
			break
		}
	}
	if rn.cfg.Plan != nil || rn.sides[0] != nil {
		return nil
	}
	// Refinement: bisect between the best passing rate and the lowest
	// failing one.
	for i := 0; i < s.Load.Refine; i++ {
		bb := result.ComputeBestBefore(rn.r.Steps, s.Capacity.Nodes, 1)
		if bb.FirstFailQPS == 0 {
			break
		}
		// A pass too close to the failure, or above what the failing step
		// delivered, cannot set the best-before (result.TrustedBelow):
		// bisect below that bound.
		lo := bb.QPS
		hi := bb.FirstFailQPS
		if bb.Found && bb.FirstFailStep >= 0 {
			hi = result.TrustedBelow(&rn.r.Steps[bb.FirstFailStep], &rn.r.Steps[bb.Step], result.ServiceCV2(rn.r.Steps))
		}
		mid := math.Round((lo+hi)/2*10) / 10
		if hi-lo < math.Max(1, 0.01*bb.FirstFailQPS) || mid <= lo || mid >= hi {
			break
		}
		st, err := rn.judgedStep(result.PhaseRefine, mid)
		if err != nil {
			return err
		}
		if rn.abortReason != "" || rn.ctx.Err() != nil || st == nil {
			return nil
		}
		if st.Generator.Saturated {
			rn.r.Warnings = append(rn.r.Warnings, fmt.Sprintf("the generator could not keep its schedule at %.1f QPS (%s); the refinement stopped there", mid, st.Generator.SaturatedWhy))
			break
		}
	}
	if nl := s.Capacity.NodeLoss; nl != nil && nl.Verify && rn.cfg.NodeKiller != nil {
		return rn.nodeLoss()
	}
	return nil
}

// judgedStep runs a step of the ramp or the refinement at rate q. A step
// that breaks only queue objectives (steady, throughput), and those
// marginally, is measured once more and the two judged together
// (result.JudgeAgain): a stationary queue's one-off excursion is not a
// limit, a growing queue grows twice.
// Not on a plan aligned across shards, nor in a live A/B run, whose steps
// must line up.
func (rn *sweeper) judgedStep(phase string, q float64) (*result.Step, error) {
	dur := rn.s.Load.StepDuration.D()
	st, err := rn.step(phase, q, dur, nil, 0)
	if err != nil || st == nil || rn.abortReason != "" || !rn.cfg.StartAt.IsZero() || rn.sides[0] != nil {
		return st, err
	}
	if st.Generator.Saturated {
		// A busy machine can stall the generator for a moment; measure
		// the rate once more before concluding it is beyond reach.
		return rn.step(phase, q, dur, nil, 0)
	}
	if !st.MarginalQueueFailure(rn.r.Objectives) {
		return st, nil
	}
	rn.pairWith = len(rn.r.Steps) - 1
	defer func() { rn.pairWith = -1 }()
	again, err := rn.step(phase, q, dur, nil, 0)
	if again == nil {
		return st, err
	}
	return again, err
}

// step runs one step at rate q and appends it to the result. It returns nil
// when the run was interrupted before the step completed.
func (rn *sweeper) step(phase string, q float64, dur time.Duration, hook func(), hookAt time.Duration) (*result.Step, error) {
	s := rn.s
	if rn.ctx.Err() != nil {
		return nil, nil
	}
	idx := rn.stepNo
	rn.stepNo++
	if !rn.cfg.StartAt.IsZero() {
		t := time.NewTimer(time.Until(rn.cfg.StartAt.Add(time.Duration(idx) * StepSlot(s))))
		select {
		case <-t.C:
		case <-rn.ctx.Done():
			t.Stop()
			return nil, nil
		}
	}
	sent := q * rn.cfg.RateScale
	if rn.cfg.Observer != nil {
		rn.cfg.Observer.StepStarted(idx, phase, q, dur)
	}
	var feed attack.Feed
	if s.Traffic.Timing == "recorded" && rn.info.Rate > 0 && rn.prov != nil {
		feed = &attack.RecordedFeed{Provider: rn.prov, Speed: pace.RecordedSpeed(rn.info.Rate, sent), Span: rn.info.Span}
	} else {
		feed = &attack.RateFeed{Arrivals: pace.New(s.Load.Arrival, sent, pace.StepSeed(s.Seed, idx), s.Load.Burstiness), Provider: rn.prov}
	}
	if rn.sides[0] != nil {
		feed = &attack.ABFeed{Inner: feed, Rate: sent}
	}
	if rn.cfg.Monitor != nil {
		rn.cfg.Monitor.Start(rn.ctx)
	}
	spec := attack.StepSpec{
		Rate: sent, Duration: dur, Warmup: s.Load.Warmup.D(), Interval: s.Load.Interval.D(),
		Hook: hook, HookAt: hookAt,
	}
	if phase == result.PhaseHold {
		spec.Warmup = 0
	}
	if rn.cfg.Observer != nil {
		spec.Progress = func(sn attack.Snapshot) { rn.cfg.Observer.StepProgress(idx, sn) }
	}
	ss, err := rn.atk.Step(rn.ctx, feed, spec)
	var sample StepResources
	if rn.cfg.Monitor != nil {
		sample = rn.cfg.Monitor.Stop()
	}
	if err != nil {
		return nil, err
	}
	if !ss.Completed {
		if ss.Abandoned > 0 {
			rn.r.Warnings = append(rn.r.Warnings, fmt.Sprintf("a second interrupt stopped the wait for %d requests in flight at %.0f QPS; the interrupted step is left out of the result", ss.Abandoned, q))
			return nil, nil
		}
		if ss.Requests > 0 && rn.sides[0] == nil {
			rn.keepPartial(idx, phase, q, dur, ss, sample)
		}
		return nil, nil
	}
	st := BuildStep(idx, phase, q, ss, sample, s.Monitor.MaxSendLag.D())
	result.ApplyJudgement(&st, rn.r.Objectives)
	blameStalls(&st, rn.r.Objectives, s.Monitor.MaxSendLag.D())
	if rn.pairWith >= 0 && !st.Generator.Saturated {
		result.JudgeAgain(&rn.r.Steps[rn.pairWith], &st)
	}
	if rn.sides[0] != nil && len(ss.Sides) == 2 {
		pass := false
		for k, sd := range rn.sides {
			sst := BuildStep(idx, phase, q, ss.Sides[k], sample, s.Monitor.MaxSendLag.D())
			result.ApplyJudgement(&sst, rn.r.Objectives)
			blameStalls(&sst, rn.r.Objectives, s.Monitor.MaxSendLag.D())
			sd.Steps = append(sd.Steps, sst)
			pass = pass || sst.SLOPass
		}
		// The top level mirrors the baseline; the ramp goes on while either
		// side still meets its objectives.
		rn.r.Steps = append(rn.r.Steps, rn.sides[0].Steps[len(rn.sides[0].Steps)-1])
		out := &rn.r.Steps[len(rn.r.Steps)-1]
		if rn.cfg.Observer != nil {
			rn.cfg.Observer.StepDone(out)
		}
		rn.checkAbort(out)
		ctl := *out
		ctl.SLOPass = pass
		return &ctl, nil
	}
	rn.r.Steps = append(rn.r.Steps, st)
	out := &rn.r.Steps[len(rn.r.Steps)-1]
	if rn.cfg.Observer != nil {
		rn.cfg.Observer.StepDone(out)
	}
	rn.checkAbort(out)
	return out, nil
}

// StalledWhy begins the reason of a step whose failure the generator's
// stalls explain (blameStalls); the reports and the summary read it.
const StalledWhy = "the generator's process was kept from running"

// MachineStalled says most of the step's send lag is the time the
// generator's process could not run at all (its stall p99 at least half
// its send-lag p99): a busy machine, not a generator with too much to
// send.
func MachineStalled(g *result.Generator) bool {
	return g.StallP99MS > 0 && 2*g.StallP99MS >= g.SendLagP99MS
}

// blameStalls settles a step whose generator the machine held off its
// cores (its stall, or its send lag, past the allowance). Latency counts
// from the intended send time, so the lateness counts against the
// service: a pass that delivered what was scheduled (the throughput
// objective judged it) stands, with a note. A failure the delays explain
// (result.Step.StallExplains) is the machine's, not the service's: the
// step neither passes nor fails, and the run measures the rate again.
// Any other step with sends later than the allowance is the generator's
// (saturated), as a failure the delays cannot explain is the service's.
func blameStalls(st *result.Step, o result.Objectives, allowance time.Duration) {
	g := &st.Generator
	ms := float64(allowance) / float64(time.Millisecond)
	if g.Saturated {
		return
	}
	late := lateSends(st, ms)
	// A send waits at least as long as the process is held, so the
	// delays the requests saw are the larger of the two.
	d := *st
	d.Generator.StallP50MS = math.Max(g.StallP50MS, g.SendLagP50MS)
	d.Generator.StallP99MS = math.Max(g.StallP99MS, g.SendLagP99MS)
	switch {
	case !st.SLOPass && d.StallExplains(o, ms):
		g.Saturated = true
		g.SaturatedWhy = fmt.Sprintf("%s (stall p99 %.1fms, send lag p99 %.1fms, above the %.1fms allowance), which explains %s: other processes on its cores, or a pause",
			StalledWhy, g.StallP99MS, g.SendLagP99MS, ms, strings.Join(st.Failed, ", "))
	case late && st.SLOPass && deliveredAll(st, o):
		st.Warnings = append(st.Warnings, fmt.Sprintf("send lag p99 %.2fms above %.2fms because %s (stall p99 %.2fms): the machine is busy; latency counts the lateness against the service and the step delivered what was scheduled, so its pass stands", g.SendLagP99MS, ms, StalledWhy, g.StallP99MS))
	case late:
		markLate(g, ms)
	}
}

// deliveredAll says the step delivered at least the throughput bound's
// share of the arrivals scheduled in its window, with no allowance for
// its queue's swing: only then does a pass on a busy machine show the
// service kept up, whatever the generator's delays.
func deliveredAll(st *result.Step, o result.Objectives) bool {
	b, ok := o.Bound("throughput")
	ob, known := result.LookupObjective("throughput")
	if !ok || !known {
		return false
	}
	v, measured := ob.Measure(st)
	return measured && v >= b
}

// lateSends says the step's send lag p99 passed the allowance (ms).
func lateSends(st *result.Step, ms float64) bool {
	return st.Requests > 0 && st.Generator.SendLagP99MS > ms
}

// markLate marks a generator whose sends went later than the allowance
// as saturated, saying so.
func markLate(g *result.Generator, ms float64) {
	g.Saturated = true
	g.SaturatedWhy = fmt.Sprintf("send lag p99 %.2fms above %.2fms", g.SendLagP99MS, ms)
}

// keepPartial keeps the step an interrupt cut short, once every request
// sent in it has answered: its figures over the part that ran, judged
// for the reports, marked partial so that it neither sets nor limits the
// best-before.
func (rn *sweeper) keepPartial(idx int, phase string, q float64, dur time.Duration, ss *attack.StepStats, sample StepResources) {
	st := BuildStep(idx, phase, q, ss, sample, rn.s.Monitor.MaxSendLag.D())
	// The steady-state test reads the trend across the whole window; a
	// window cut short has only its first slices, so the part that ran
	// is judged on every other objective.
	o := maps.Clone(rn.r.Objectives)
	delete(o, "steady")
	result.ApplyJudgement(&st, o)
	st.Partial = true
	by := "an interrupt"
	if errors.Is(rn.ctx.Err(), context.DeadlineExceeded) {
		by = "limits.max_duration"
	}
	st.Warnings = append(st.Warnings, fmt.Sprintf("cut short by %s: %.1f s of its %.1f s measured window ran; its %d requests are counted here (judged on every objective but steady), and it neither sets nor limits the best-before",
		by, ss.Window.Seconds(), (dur-ss.Warmup).Seconds(), st.Requests))
	rn.r.Steps = append(rn.r.Steps, st)
	if rn.cfg.Observer != nil {
		rn.cfg.Observer.StepDone(&rn.r.Steps[len(rn.r.Steps)-1])
	}
}

// StepSlot is the wall-clock time each step is given when steps are
// aligned to Config.StartAt: the step, the longest drain of the requests
// in flight (the request timeout) and one second to spare.
func StepSlot(s *scenario.Scenario) time.Duration {
	return s.Load.StepDuration.D() + s.Load.Timeout.D() + time.Second
}

func (rn *sweeper) checkAbort(st *result.Step) {
	a := rn.s.AbortOn
	if a == nil {
		return
	}
	bad := ""
	if a.ErrorRate != nil && st.ErrorRate > float64(*a.ErrorRate) {
		bad = fmt.Sprintf("error rate %.1f%% above abort_on.error_rate %.1f%%", st.ErrorRate*100, float64(*a.ErrorRate)*100)
	}
	if a.P99 != nil && st.LatencyMS.P99 > float64(a.P99.D())/1e6 {
		bad = fmt.Sprintf("p99 %.0fms above abort_on.p99 %v", st.LatencyMS.P99, a.P99.D())
	}
	if bad == "" {
		rn.abortRun = 0
		return
	}
	rn.abortRun++
	if rn.abortRun >= a.For {
		rn.abortReason = fmt.Sprintf("%s for %d step(s) in a row (at %.0f QPS)", bad, rn.abortRun, st.OfferedQPS)
	}
}

// BuildStep turns what the attacker measured into a result step.
func BuildStep(idx int, phase string, offered float64, ss *attack.StepStats, sample StepResources, maxLag time.Duration) result.Step {
	win := ss.Window.Seconds()
	st := result.Step{
		Index: idx, Phase: phase, OfferedQPS: offered, StartedAt: ss.Start.UTC(),
		DurationS: win, WarmupS: ss.Warmup.Seconds(),
		Requests: ss.Requests, Successes: ss.Successes, Errors: ss.Requests - ss.Successes,
		ErrorsByClass: ss.ByClass,
		LatencyMS:     result.Summarize(ss.Latency), ServiceTimeMS: result.Summarize(ss.Service),
		InFlightMean: ss.InFlightMean, InFlightMax: ss.InFlightMax,
		Target: sample.Target, Host: sample.Host,
	}
	if win > 0 {
		st.AchievedQPS = float64(ss.Goodput) / win
	}
	if ss.Rate != offered {
		st.SentQPS = ss.Rate
	}
	if st.Requests > 0 {
		st.ErrorRate = float64(st.Errors) / float64(st.Requests)
	}
	if win > 0 {
		st.ScheduledQPS = float64(st.Requests) / win
	}
	st.LittleConcurrency = float64(ss.Requests-ss.ByClass[result.ClassDropped]) / math.Max(win, 1e-9) * st.LatencyMS.Mean / 1000
	st.Histogram, _ = stats.Encode(ss.Latency)
	st.ServiceHistogram, _ = stats.Encode(ss.Service)
	for _, iv := range ss.Intervals {
		st.Intervals = append(st.Intervals, result.Interval{OffsetS: iv.Offset.Seconds(), Requests: iv.Requests, Errors: iv.Errors,
			InFlightMean: iv.InFlightMean, SendLagMaxMS: float64(iv.SendLagMax.Microseconds()) / 1000, Histogram: iv.Histogram})
	}
	for _, sl := range ss.Trend {
		st.Trend = append(st.Trend, result.Interval{OffsetS: sl.Offset.Seconds(), Requests: sl.Requests, Histogram: sl.Histogram})
	}
	st.Stream = BuildStream(ss.Stream, win)
	if ss.GoodCounted {
		good := ss.Good
		st.GoodRequests = &good
	}
	g := &st.Generator
	g.SendLagP50MS = stats.QuantileMS(ss.SendLag, 50)
	g.SendLagP99MS = stats.QuantileMS(ss.SendLag, 99)
	g.SendLagMaxMS = float64(ss.SendLag.Max()) / 1000
	g.LateSends = ss.LateSends
	g.CPUPercent = 100 * ss.CPU.Seconds() / math.Max(ss.Wall.Seconds(), 1e-9)
	if sample.GeneratorCPUPercent > 0 {
		g.CPUPercent = sample.GeneratorCPUPercent
	}
	g.RSSMB, g.Goroutines, g.GCPauseP99MS = sample.GeneratorRSSMB, sample.Goroutines, sample.GCPauseP99MS
	if ss.Stall != nil && ss.Stall.TotalCount() > 0 {
		g.StallP50MS = stats.QuantileMS(ss.Stall, 50)
		g.StallP99MS = stats.QuantileMS(ss.Stall, 99)
		g.StallMaxMS = float64(ss.Stall.Max()) / 1000
	}
	maxLagMS := float64(maxLag) / float64(time.Millisecond)
	share := g.CPUPercent / 100 / float64(runtime.GOMAXPROCS(0))
	switch {
	case share > 0.9:
		g.Saturated = true
		g.SaturatedWhy = fmt.Sprintf("generator CPU at %.0f%% of its %d core(s)", share*100, runtime.GOMAXPROCS(0))
	case lateSends(&st, maxLagMS) && !MachineStalled(g):
		// Late sends the machine's stalls account for (the process could
		// not run, not too much to send) are judged after the objectives
		// (blameStalls).
		markLate(g, maxLagMS)
	}
	if ss.Clamped > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("%d latencies above 60 s were recorded as 60 s", ss.Clamped))
	}
	if l := st.LittleConcurrency; st.Requests > 100 && math.Abs(l-st.InFlightMean) > math.Max(1, 0.25*math.Max(l, st.InFlightMean)) {
		st.Warnings = append(st.Warnings, fmt.Sprintf("Little's law check: achieved × mean latency gives %.1f requests in flight, %.1f were measured", l, st.InFlightMean))
	}
	st.Warnings = append(st.Warnings, sample.Warnings...)
	for _, e := range ss.Endpoints {
		es := result.Endpoint{Name: e.Name, Requests: e.Requests, Errors: e.Errors}
		_ = es.SetLatency(e.Latency) // an in-range histogram always encodes
		st.Endpoints = append(st.Endpoints, es)
	}
	// One sample message per class of error that came without an answer
	// (an HTTP status says itself, in the error table).
	warned := map[string]bool{}
	var samples []string
	st.ErrorKinds = ss.Errors
	for _, k := range ss.Errors {
		if k.Sample != "" && k.Status == 0 && !warned[k.Class] {
			warned[k.Class] = true
			samples = append(samples, fmt.Sprintf("%s, e.g.: %s", k.Class, k.Sample))
		}
	}
	sort.Strings(samples)
	st.Warnings = append(st.Warnings, samples...)
	return st
}

// BuildStream turns what a step measured of its streamed responses into
// the result's figures; nil when none streamed.
func BuildStream(ss *attack.StreamStats, window float64) *result.Stream {
	if ss == nil {
		return nil
	}
	out := &result.Stream{
		Responses: ss.Responses, OutputTokens: ss.Tokens,
		TTFTMS: result.Summarize(ss.TTFT), TTFTFromSendMS: result.Summarize(ss.TTFTSent),
		ITLMS: result.Summarize(ss.ITL), TPOTMS: result.Summarize(ss.TPOT),
	}
	switch {
	case ss.UsageResponses == 0:
		out.TokensFrom = "events"
	case ss.UsageResponses == ss.Responses:
		out.TokensFrom = "usage"
	default:
		out.TokensFrom = "mixed"
	}
	if window > 0 {
		out.OutputTokensPerS = float64(ss.WindowTokens) / window
	}
	out.TTFTHistogram, _ = stats.Encode(ss.TTFT)
	out.TTFTFromSendHistogram, _ = stats.Encode(ss.TTFTSent)
	out.ITLHistogram, _ = stats.Encode(ss.ITL)
	out.TPOTHistogram, _ = stats.Encode(ss.TPOT)
	return out
}

func summaryWarnings(r *result.Result) []string {
	var w, again []string
	sat, stalled, unmeasured := 0, 0, 0
	worst := 0.0
	for _, st := range r.Steps {
		switch {
		case st.Generator.Saturated && strings.HasPrefix(st.Generator.SaturatedWhy, StalledWhy):
			stalled++
			worst = math.Max(worst, st.Generator.StallP99MS)
		case st.Generator.Saturated:
			sat++
		}
		if st.Remeasured {
			again = append(again, fmt.Sprintf("the step at %.0f QPS broke only %s, which a queue's one-off excursion can do: it was measured again and the two were judged together", st.OfferedQPS, strings.Join(st.Failed, " and ")))
		}
		if st.Unmeasured() {
			unmeasured++
		}
	}
	if sat > 0 {
		w = append(w, fmt.Sprintf("%d step(s) saturated the generator and cannot set the best-before; send fewer checks, give the generator more cores, or shard the load (run --shard)", sat))
	}
	if stalled > 0 {
		w = append(w, fmt.Sprintf("%d step(s) failed while the machine kept the generator's process from running (stall p99 up to %.1f ms): the stalls alone explain those failures, so they are not counted as the service's; each was measured again. The machine is busy: run where the generator has cores of its own", stalled, worst))
	}
	w = append(w, again...)
	if unmeasured > 0 {
		w = append(w, fmt.Sprintf("%d step(s) held too few requests to judge (fewer than %d in the measured window, or none) and neither set nor limit the best-before; lengthen load.step_duration or start the ramp higher", unmeasured, result.SteadyMinRequests))
	}
	var failedBelow bool
	for _, st := range r.Steps {
		if st.Phase != result.PhaseRamp {
			continue
		}
		if !st.SLOPass && !st.Generator.Saturated {
			failedBelow = true
		} else if st.SLOPass && failedBelow {
			w = append(w, fmt.Sprintf("a step at %.0f QPS passed after a lower rate failed: the target is unstable near its limit; the best-before stays below the first failure", st.OfferedQPS))
			break
		}
	}
	return w
}
