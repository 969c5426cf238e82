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
func (rn *runner) nodeLoss() error {
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
	hook := func() {
		defer close(killed)
		node, killErr = rn.cfg.NodeKiller.Kill(rn.ctx)
	}
	st, err := rn.step(result.PhaseHold, q, dur, hook, at)
	select {
	case <-killed:
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
	p99Bound, hasP99 := rn.r.Objectives.LatencyMS["p99"]
	// transition is how long after the loss errors are put down to it.
	transition := 2 * time.Second
	if iv := s.Load.Interval.D(); iv > transition {
		transition = iv
	}
	// Objectives over the part of the step after the loss.
	post := stats.New()
	var reqs, errs int64
	after := 0
	for _, iv := range st.Intervals {
		h, _ := stats.Decode(iv.Histogram)
		p99 := stats.QuantileMS(h, 99)
		res.Timeline = append(res.Timeline, result.TimelinePoint{OffsetS: iv.OffsetS, P99MS: p99, Requests: iv.Requests, Errors: iv.Errors})
		// The objectives are judged after the transition: the requests in
		// flight on the lost node fail whatever the others can carry, and
		// are counted apart as transition errors.
		if iv.OffsetS+1e-9 >= at.Seconds()+transition.Seconds() {
			stats.Merge(post, h)
			reqs += iv.Requests
			errs += iv.Errors
			after++
		}
	}
	// Transition errors: errors in the intervals from the loss to the end
	// of the transition.
	for _, p := range res.Timeline {
		if p.OffsetS+s.Load.Interval.D().Seconds() > at.Seconds() && p.OffsetS < at.Seconds()+transition.Seconds() {
			res.TransitionErrs += p.Errors
		}
	}
	if after == 0 {
		res.Notes = append(res.Notes, "the hold ended within the transition: lengthen capacity.node_loss.duration to judge the objectives after the loss")
	}
	ps := result.Step{Requests: reqs, Errors: errs, LatencyMS: result.Summarize(post)}
	if reqs > 0 {
		ps.ErrorRate = float64(errs) / float64(reqs)
	}
	ps.Histogram, _ = stats.Encode(post)
	fails := result.Judge(&ps, rn.r.Objectives)
	res.Held = len(fails) == 0
	for _, f := range fails {
		res.Notes = append(res.Notes, "after the loss: "+f.String())
	}
	// Time to recover: from the loss to the first interval from which every
	// later interval keeps p99 under its objective.
	if hasP99 {
		rec := -1
		for i := len(res.Timeline) - 1; i >= 0; i-- {
			p := res.Timeline[i]
			if p.OffsetS+s.Load.Interval.D().Seconds() <= at.Seconds() {
				break
			}
			if p.P99MS > p99Bound || p.Requests == 0 {
				break
			}
			rec = i
		}
		switch {
		case rec < 0:
			res.Never = true
		default:
			d := res.Timeline[rec].OffsetS - at.Seconds()
			if d < 0 {
				d = 0
			}
			res.RecoverS = &d
		}
	}
	rn.r.NodeLoss = res
	return nil
}
