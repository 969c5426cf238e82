package attack

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// Closed runs a closed-loop step: conns workers, each sending its next
// request as soon as its last was answered, for spec.Duration. It
// measures what a service serves flat out (wrk's -c, k6's virtual
// users): its raw capacity. There is no schedule: each request's
// intended time is when it was sent, so the latency leaves out the queue
// an open-loop arrival would have met (coordinated omission), and a step
// run this way says nothing of a best-before. The figures go through the
// same accounting as an open-loop step's; only requests sent after the
// warmup count.
func (a *Attacker) Closed(ctx context.Context, feed Feed, conns int, spec StepSpec) (*StepStats, error) {
	if spec.Interval <= 0 {
		spec.Interval = spec.Duration
	}
	conns = max(1, conns)
	st, outs := a.begin(spec)
	end := st.start.Add(spec.Duration)

	var mu sync.Mutex
	var feedErr error
	// next reads the feed, picks the target and counts the send, under
	// one lock: the feed, the pick and the in-flight figures are the
	// pacer's alone in an open-loop step. No interval is marked passed:
	// another worker may still count a send into it.
	next := func(now time.Time) (Item, int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if feedErr != nil {
			return Item{}, 0, false
		}
		it, err := feed.Next()
		if err != nil {
			feedErr = err
			return it, 0, false
		}
		st.countSent(now.Sub(st.start), a.inflight.Load())
		return it, a.pick(it.Side), true
	}
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := &Response{}
			for ctx.Err() == nil {
				now := a.clock.Now()
				if !now.Before(end) {
					return
				}
				it, t, ok := next(now)
				if !ok {
					return
				}
				st.sent.Add(1)
				st.wg.Add(1)
				a.inflight.Add(1)
				j := a.jobPool.Get().(*job)
				*j = job{p: it.Req[t], target: t, side: uint8(it.Side), intended: now, st: st}
				a.do(j, resp)
			}
		}()
	}
	wg.Wait()
	interrupted := ctx.Err() != nil
	abandoned := a.drain(ctx, st)
	a.account(st, outs, stepEnd{completed: !interrupted && feedErr == nil, cut: a.clock.Now().Sub(st.start), interrupted: interrupted, abandoned: abandoned})
	if feedErr != nil && !errors.Is(feedErr, io.EOF) {
		return outs[0], feedErr
	}
	return outs[0], nil
}
