package attack

import (
	"fmt"
	"time"
)

// Outcome is one request of a step that was sent by something other than
// the Attacker (the queueing simulation of pkg/sim, in virtual time): when
// it was due, sent and answered, and how it ended.
type Outcome struct {
	Intended, Sent, Done time.Time
	// Class is "" for a success, else an error class (result.Class*).
	Class string
	// Status is the HTTP status answered, 0 when none came.
	Status int
	// InFlight is how many requests were in flight when it was sent,
	// itself not counted.
	InFlight int64
}

// classCode maps an error class name back to its hot-path code.
func classCode(name string) (uint8, error) {
	for c, n := range classNames {
		if n == name {
			return uint8(c), nil
		}
	}
	return 0, fmt.Errorf("attack: unknown error class %q", name)
}

// Account turns the outcomes of one step, in order of intended time,
// into the step's figures through the same collector that accounts for
// the Attacker's own sends: histograms, intervals, trend slices, goodput,
// requests in flight and error kinds are computed by one code path,
// whoever sent the requests. start is the step's start on the outcomes'
// clock.
func Account(spec StepSpec, start time.Time, outcomes []Outcome) (*StepStats, error) {
	if spec.Interval <= 0 {
		spec.Interval = time.Second
	}
	st, outs := newStepRun(spec, 1, start)
	inf := newInflight(len(st.ivSent))
	recs := make([]rec, 0, len(outcomes))
	last := start.Add(spec.Duration)
	for _, o := range outcomes {
		c, err := classCode(o.Class)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec{intended: o.Intended, sent: o.Sent, done: o.Done, class: c, status: uint16(min(max(o.Status, 0), 999))})
		if o.Done.After(last) {
			last = o.Done
		}
		off := o.Intended.Sub(start)
		if off < spec.Warmup || off >= spec.Duration {
			continue
		}
		k := -1
		if len(st.ivSent) > 0 {
			k = st.interval(off)
			st.ivSent[k].Add(1)
		}
		inf.add(k, o.InFlight)
		st.sent.Add(1)
	}
	st.ivPassed.Store(int64(len(st.ivSent)))
	collected := make(chan struct{})
	a := &Attacker{}
	go a.collect(st, outs, collected)
	for _, r := range recs {
		st.results <- r
	}
	close(st.results)
	<-collected
	inf.apply(outs)
	outs[0].Wall = last.Sub(start)
	outs[0].Completed = true
	return outs[0], nil
}
