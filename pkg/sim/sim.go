// Package sim is a queueing simulation of a service, run in virtual time:
// k slots served in arrival order (FIFO), each request holding a slot for
// a service time drawn from a distribution, with optional stalls and
// errors. Its Stepper runs one step of a ramp the way the attacker does
// against a socket, and hands the outcomes to the attacker's own
// accounting (attack.Account), so the sweep, the judgement, the
// steady-state test and the refinement run on it unchanged. It is the
// oracle the best-before is checked against: the capacity of k slots of
// mean service time E[S] is k / E[S], known without measuring.
package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Service time distributions. Every one keeps the mean it is given, so a
// service's capacity depends on its slots and mean alone.
const (
	Fixed       = "fixed"       // every request takes the mean
	Uniform     = "uniform"     // mean ± Spread × mean, uniformly
	Exponential = "exponential" // memoryless, mean as given
	Lognormal   = "lognormal"   // heavy tail: log-sd Spread (1 gives p99 ≈ 6 × median)
	Bimodal     = "bimodal"     // a share Spread of requests 10 × slower than the rest
)

// Distributions lists the service time distributions.
var Distributions = []string{Fixed, Uniform, Exponential, Lognormal, Bimodal}

// Dist is a service time distribution.
type Dist struct {
	Kind string
	Mean time.Duration
	// Spread shapes the distribution: the half-width of uniform as a
	// share of the mean (0-1), the log-sd of lognormal, the slow share
	// of bimodal (0-1), the stretch of empirical. Unused by fixed and
	// exponential.
	Spread float64
	// bins are an empirical distribution's buckets (NewEmpirical).
	bins []bin
}

// String names the distribution as a flag would.
func (d Dist) String() string {
	switch d.Kind {
	case Uniform, Lognormal, Bimodal:
		return fmt.Sprintf("%s %v (%.3g)", d.Kind, d.Mean.Round(10*time.Microsecond), d.Spread)
	case Empirical:
		return fmt.Sprintf("as measured, mean %v", d.Mean.Round(10*time.Microsecond))
	}
	return fmt.Sprintf("%s %v", d.Kind, d.Mean.Round(10*time.Microsecond))
}

// Validate says what is wrong with d, if anything.
func (d Dist) Validate() error {
	if d.Mean <= 0 {
		return fmt.Errorf("service time mean must be positive, got %v", d.Mean)
	}
	switch d.Kind {
	case Fixed, Exponential:
	case Empirical:
		if len(d.bins) == 0 || d.Spread <= 0 {
			return errors.New("an empirical distribution needs measured service times (sim.NewEmpirical)")
		}
	case Uniform, Bimodal:
		if !(d.Spread >= 0 && d.Spread <= 1) {
			return fmt.Errorf("%s spread must be between 0 and 1, got %v", d.Kind, d.Spread)
		}
	case Lognormal:
		if !(d.Spread > 0 && d.Spread <= 3) {
			return fmt.Errorf("lognormal spread (log-sd) must be above 0 and at most 3, got %v", d.Spread)
		}
	default:
		return fmt.Errorf("service time distribution must be one of %s, got %q", strings.Join(Distributions, ", "), d.Kind)
	}
	return nil
}

// bimodalSlow is how many times slower bimodal's slow requests are.
const bimodalSlow = 10

// Draw returns one service time.
func (d Dist) Draw(rng *rand.Rand) time.Duration {
	m := float64(d.Mean)
	var v float64
	switch d.Kind {
	case Empirical:
		v = d.drawEmpirical(rng)
	case Uniform:
		v = m * (1 + d.Spread*(2*rng.Float64()-1))
	case Exponential:
		v = m * rng.ExpFloat64()
	case Lognormal:
		mu := math.Log(m) - d.Spread*d.Spread/2
		v = math.Exp(mu + d.Spread*rng.NormFloat64())
	case Bimodal:
		fast := m / (1 - d.Spread + bimodalSlow*d.Spread)
		v = fast
		if rng.Float64() < d.Spread {
			v = fast * bimodalSlow
		}
	default:
		v = m
	}
	return time.Duration(max(v, 1))
}

// Service is the simulated service.
type Service struct {
	Slots int
	Time  Dist
	// ErrorRate is the share of requests answered with a 500 after their
	// service time.
	ErrorRate float64
	// StallEvery and StallFor, when both are set, pause the service for
	// StallFor every StallEvery of virtual time (a stop-the-world pause):
	// nothing starts and nothing in progress advances; requests wait,
	// none fail.
	StallEvery, StallFor time.Duration
}

// Capacity is the most the service can sustain: slots ÷ mean service
// time, less the share of time stalls take.
func (s Service) Capacity() float64 {
	c := float64(s.Slots) / s.Time.Mean.Seconds()
	if s.StallEvery > 0 && s.StallFor > 0 {
		c *= 1 - min(1, float64(s.StallFor)/float64(s.StallEvery))
	}
	return c
}

// Validate says what is wrong with s, if anything.
func (s Service) Validate() error {
	if s.Slots < 1 || s.Slots > 100000 {
		return fmt.Errorf("slots must be between 1 and 100000, got %d", s.Slots)
	}
	if err := s.Time.Validate(); err != nil {
		return err
	}
	if !(s.ErrorRate >= 0 && s.ErrorRate <= 1) {
		return fmt.Errorf("error rate must be between 0 and 1, got %v", s.ErrorRate)
	}
	if s.StallFor < 0 || s.StallEvery < 0 || (s.StallEvery > 0 && s.StallFor >= s.StallEvery) {
		return fmt.Errorf("a stall (%v every %v) must be shorter than its period", s.StallFor, s.StallEvery)
	}
	return nil
}

func (s Service) String() string {
	out := fmt.Sprintf("%d slots × %s", s.Slots, s.Time)
	if s.ErrorRate > 0 {
		out += fmt.Sprintf(", %g%% errors", 100*s.ErrorRate)
	}
	if s.StallEvery > 0 && s.StallFor > 0 {
		out += fmt.Sprintf(", stalls of %v every %v", s.StallFor, s.StallEvery)
	}
	return out
}

// Epoch is where virtual time starts.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Stepper runs steps against the simulated service (it implements
// sweep.Stepper). Each step starts with an idle service, as a real step
// does once the previous step's requests have all been answered.
type Stepper struct {
	Service Service
	// Timeout is the client's request timeout: a request not answered by
	// then is an error of class timeout (its slot stays busy until the
	// service is done with it, as a real server's would).
	Timeout time.Duration
	// MaxEvents bounds the arrivals one step may simulate.
	MaxEvents int
	rng       *rand.Rand
	clock     time.Time
}

// DefaultMaxEvents bounds a simulated step: ten thousand QPS for a
// hundred seconds.
const DefaultMaxEvents = 1_000_000

// NewStepper returns a Stepper for svc whose service times are drawn
// from seed.
func NewStepper(svc Service, timeout time.Duration, seed uint64) *Stepper {
	return &Stepper{Service: svc, Timeout: timeout, MaxEvents: DefaultMaxEvents,
		rng: rand.New(rand.NewPCG(seed, 0xda3e39cb94b95bdb)), clock: Epoch}
}

// Step implements sweep.Stepper: it reads the step's arrivals from feed,
// serves them in virtual time and accounts for them as the attacker does.
func (m *Stepper) Step(ctx context.Context, feed attack.Feed, spec attack.StepSpec) (*attack.StepStats, error) {
	if err := ctx.Err(); err != nil {
		return &attack.StepStats{}, nil
	}
	start := m.clock
	svc := m.Service
	free := make(slotHeap, svc.Slots) // when each slot is next free, as offsets
	var inflight slotHeap             // when each request in flight is answered
	outs := make([]attack.Outcome, 0, int(spec.Rate*spec.Duration.Seconds())+16)
	end := time.Duration(0)
	for {
		it, err := feed.Next()
		if err != nil {
			return nil, err
		}
		t := it.Offset
		if t >= spec.Duration {
			if u, ok := feed.(interface{ Unread() }); ok {
				u.Unread()
			}
			break
		}
		if len(outs) >= m.MaxEvents {
			return nil, fmt.Errorf("sim: more than %d arrivals in one step", m.MaxEvents)
		}
		for len(inflight) > 0 && inflight[0] <= t {
			heap.Pop(&inflight)
		}
		done := m.admit(free, t)
		o := attack.Outcome{Intended: start.Add(t), Sent: start.Add(t), InFlight: int64(len(inflight))}
		answered := done
		switch {
		case m.Timeout > 0 && done-t > m.Timeout:
			answered = t + m.Timeout
			o.Class = result.ClassTimeout
		case svc.ErrorRate > 0 && m.rng.Float64() < svc.ErrorRate:
			o.Class, o.Status = result.ClassHTTP5xx, 500
		default:
			o.Status = 200
		}
		o.Done = start.Add(answered)
		heap.Push(&inflight, answered)
		end = max(end, answered)
		outs = append(outs, o)
	}
	ss, err := attack.Account(spec, start, outs)
	if err != nil {
		return nil, err
	}
	// The next step starts once every answer is in, a second later.
	m.clock = start.Add(max(end, spec.Duration) + time.Second)
	return ss, nil
}

// admit serves a request arriving at t in arrival order: it takes the
// slot free soonest, starts once that slot is free and no stall holds,
// and returns when it is done (the G/G/k FIFO recursion over free, the
// slots' next free times).
func (m *Stepper) admit(free slotHeap, t time.Duration) time.Duration {
	done := m.serve(m.afterStall(max(t, free[0])), m.Service.Time.Draw(m.rng))
	free[0] = done
	heap.Fix(&free, 0)
	return done
}

// serve returns when work started at begin is done: a stall pauses the
// work in progress too (a stop-the-world pause), so the service's
// capacity is exactly Capacity.
func (m *Stepper) serve(begin, work time.Duration) time.Duration {
	s := m.Service
	if s.StallEvery <= 0 || s.StallFor <= 0 {
		return begin + work
	}
	t := begin
	for {
		stall := (t/s.StallEvery+1)*s.StallEvery - s.StallFor
		if t+work <= stall {
			return t + work
		}
		work -= stall - t
		t = stall + s.StallFor
	}
}

// afterStall moves a start that falls in a stall to the stall's end.
func (m *Stepper) afterStall(t time.Duration) time.Duration {
	s := m.Service
	if s.StallEvery <= 0 || s.StallFor <= 0 {
		return t
	}
	// Stalls occupy [n·every − for, n·every) for n ≥ 1.
	n := t/s.StallEvery + 1
	if stall := n*s.StallEvery - s.StallFor; t >= stall {
		return n * s.StallEvery
	}
	return t
}

type slotHeap []time.Duration

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h slotHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)        { *h = append(*h, x.(time.Duration)) }
func (h *slotHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
