package sweep

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// nodeLoss holds load at the N-1 rate on the full cluster, takes one node
// out part-way through, and measures whether the objectives held after the
// loss and how long p99 took to come back under its objective.
func (rn *sweeper) nodeLoss() error {
	s := rn.s
	nl := s.Capacity.NodeLoss
	bb := result.ComputeBestBefore(rn.r.Steps, s.Capacity.Nodes, 1)
	q := nl.QPS
	if q == 0 {
		if !bb.Found {
			rn.r.Warnings = append(rn.r.Warnings, "node-loss verification skipped: no best-before was found to derive the N-1 rate from")
			return nil
		}
		q = bb.QPS * float64(s.Capacity.Nodes-1) / float64(s.Capacity.Nodes)
	}
	dur := nl.Duration.D()
	at := time.Duration(float64(dur) * float64(*nl.At))
	var node string
	var killErr error
	killed := make(chan struct{})
	var killedAt, lostAt time.Time
	hook := func() {
		defer close(killed)
		killedAt = time.Now()
		node, killErr = rn.cfg.NodeKiller.Kill(rn.ctx)
	}
	st, err := rn.step(result.PhaseHold, q, dur, hook, at)
	select {
	case <-killed:
		lostAt = killedAt // written before killed was closed
	case <-time.After(30 * time.Second):
		killErr = fmt.Errorf("the node-loss command did not finish within 30s")
	}
	restoreErr := rn.cfg.NodeKiller.Restore(context.Background())
	if err != nil || st == nil {
		return err
	}
	// The lost node's process and metrics vanish mid-step by design; the
	// monitor's complaints about them are expected, not findings.
	kept := st.Warnings[:0]
	dropped := 0
	for _, w := range st.Warnings {
		if strings.HasPrefix(w, "monitor:") {
			dropped++
			continue
		}
		kept = append(kept, w)
	}
	st.Warnings = kept
	res := &result.NodeLoss{QPS: q, Node: node, LostAtS: at.Seconds(), Step: st.Index, Restored: restoreErr == nil}
	if dropped > 0 {
		res.Notes = append(res.Notes, "the lost node was no longer sampled by the monitor after the loss, as expected")
	}
	if killErr != nil {
		res.Notes = append(res.Notes, "taking the node out failed: "+killErr.Error())
	}
	if restoreErr != nil {
		res.Notes = append(res.Notes, "restoring the node failed: "+restoreErr.Error())
	}
	// Where the loss fell: when the node was taken out, not when it was
	// scheduled to be, as an offset into the hold's window.
	lost := at.Seconds()
	if !lostAt.IsZero() {
		lost = lostAt.Sub(st.StartedAt).Seconds() - st.WarmupS
	}
	res.LostAtS = lost
	p99Bound, hasP99 := rn.r.Objectives.Bound("latency.p99")
	width := s.Load.Interval.D().Seconds()
	for _, iv := range st.Intervals {
		h, _ := stats.Decode(iv.Histogram)
		res.Timeline = append(res.Timeline, result.TimelinePoint{OffsetS: iv.OffsetS, P99MS: stats.QuantileMS(h, 99), Requests: iv.Requests, Errors: iv.Errors})
	}
	from := lost - s.Load.Timeout.D().Seconds()
	rec := recovery(res.Timeline, lost, from, width, p99Bound, hasP99)
	end := len(res.Timeline)
	if rec >= 0 {
		end = rec
	}
	for _, p := range res.Timeline[:end] {
		if p.OffsetS+width > from {
			res.TransitionErrs += p.Errors
		}
	}
	// The objectives after recovery, judged like a step.
	post := stats.New()
	var reqs, errs int64
	if rec >= 0 {
		for _, iv := range st.Intervals[rec:] {
			h, _ := stats.Decode(iv.Histogram)
			stats.Merge(post, h)
			reqs += iv.Requests
			errs += iv.Errors
		}
		d := max(res.Timeline[rec].OffsetS-lost, 0)
		res.RecoverS = &d
	} else {
		res.Never = true
		res.Notes = append(res.Notes, "the service did not recover before the hold ended: errors or p99 above its objective lasted to the last interval")
	}
	ps := result.Step{Requests: reqs, Errors: errs, LatencyMS: result.Summarize(post)}
	if reqs > 0 {
		ps.ErrorRate = float64(errs) / float64(reqs)
	}
	ps.Histogram, _ = stats.Encode(post)
	var fails []result.Failure
	if rec >= 0 {
		fails = result.Judge(&ps, rn.r.Objectives)
	}
	for _, f := range fails {
		res.Notes = append(res.Notes, "after recovery: "+f.String())
	}
	// Held: the hold as a whole met its objectives, transition included,
	// and so did the part after recovery.
	res.Held = st.SLOPass && !res.Never && len(fails) == 0
	if !st.SLOPass {
		res.Notes = append(res.Notes, "the hold broke "+strings.Join(st.Failed, ", ")+" with the node lost")
	}
	rn.r.NodeLoss = res
	return nil
}

// recovery is the index of the timeline interval from which the service
// had recovered from a loss at offset lost, -1 if it never did: the first
// interval from which every later one has no error and keeps p99 under
// its objective. The transition's errors are those of requests due from
// from (one timeout before the loss): the requests in flight on the lost
// node were sent before it and fail with it. An interval is dated by its
// requests' intended send times, so those errors show in the seconds
// before the loss, though they happened at it; when any did, recovery is
// an interval that starts after the loss (a clean interval that began at
// the loss still overlaps the failures), so errors with the loss always
// mean a time to recover above zero.
func recovery(tl []result.TimelinePoint, lost, from, width, p99Bound float64, hasP99 bool) int {
	failedAtLoss := false
	for _, p := range tl {
		if p.OffsetS+width > from && p.Errors > 0 {
			failedAtLoss = true
		}
	}
	rec := -1
	for i := len(tl) - 1; i >= 0; i-- {
		p := tl[i]
		if p.OffsetS+width <= lost || (failedAtLoss && p.OffsetS <= lost) || p.Errors > 0 || p.Requests == 0 || (hasP99 && p.P99MS > p99Bound) {
			break
		}
		rec = i
	}
	return rec
}
