// Package pace computes when each request of an open-loop run is due.
//
// Schedules are pure: the offset of the i-th arrival from the start of a
// step depends only on the rate, i and (for Poisson) the seed, never on a
// clock, so they are table-tested without one.
package pace

import (
	"math"
	"math/rand/v2"
	"time"
)

// Arrivals yields the offsets, from the start of a step, at which
// successive requests are due. Offsets never decrease.
type Arrivals interface {
	// Next returns the offset of the next arrival.
	Next() time.Duration
	// Rate is the mean arrival rate per second.
	Rate() float64
}

// ConstantOffset is the offset of the i-th (0-based) arrival at a constant
// rate: i / rate seconds.
func ConstantOffset(rate float64, i int64) time.Duration {
	if rate <= 0 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(float64(i) * float64(time.Second) / rate)
}

// ConstantDue is how many arrivals are due by elapsed at a constant rate,
// counting the one at offset 0.
func ConstantDue(rate float64, elapsed time.Duration) int64 {
	if rate <= 0 || elapsed < 0 {
		return 0
	}
	return int64(math.Floor(elapsed.Seconds()*rate+1e-9)) + 1
}

// Constant arrivals are evenly spaced.
type Constant struct {
	rate float64
	i    int64
}

// NewConstant returns arrivals at rate per second.
func NewConstant(rate float64) *Constant { return &Constant{rate: rate} }

// Next implements Arrivals.
func (c *Constant) Next() time.Duration {
	d := ConstantOffset(c.rate, c.i)
	c.i++
	return d
}

// Rate implements Arrivals.
func (c *Constant) Rate() float64 { return c.rate }

// Poisson arrivals have exponentially distributed gaps with mean 1/rate:
// the arrivals of many independent users.
type Poisson struct {
	rate float64
	rng  *rand.Rand
	t    float64 // seconds
}

// NewPoisson returns seeded Poisson arrivals at mean rate per second.
func NewPoisson(rate float64, seed uint64) *Poisson {
	return &Poisson{rate: rate, rng: rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))}
}

// Next implements Arrivals. The first arrival is at a random offset too,
// as in a real Poisson process observed from an arbitrary start.
func (p *Poisson) Next() time.Duration {
	if p.rate <= 0 {
		return time.Duration(math.MaxInt64)
	}
	p.t += p.rng.ExpFloat64() / p.rate
	return time.Duration(p.t * float64(time.Second))
}

// Rate implements Arrivals.
func (p *Poisson) Rate() float64 { return p.rate }

// Gamma arrivals have gamma-distributed gaps with mean 1/rate and shape
// burstiness: 1 is Poisson, below 1 the arrivals come in bursts with long
// lulls between them (0.5 doubles the variance of a Poisson gap), above 1
// they are more even than Poisson. It is the arrival model of vLLM's
// serving benchmark (--burstiness).
type Gamma struct {
	rate, shape float64
	rng         *rand.Rand
	t           float64 // seconds
}

// NewGamma returns seeded gamma arrivals at mean rate per second; a
// burstiness of 0 is DefaultBurstiness.
func NewGamma(rate, burstiness float64, seed uint64) *Gamma {
	if burstiness <= 0 {
		burstiness = DefaultBurstiness
	}
	return &Gamma{rate: rate, shape: burstiness, rng: rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))}
}

// Next implements Arrivals.
func (g *Gamma) Next() time.Duration {
	if g.rate <= 0 {
		return time.Duration(math.MaxInt64)
	}
	g.t += GammaVariate(g.rng, g.shape) / (g.shape * g.rate)
	return time.Duration(g.t * float64(time.Second))
}

// Rate implements Arrivals.
func (g *Gamma) Rate() float64 { return g.rate }

// GammaVariate draws from the gamma distribution of the given shape and
// scale 1 (mean shape), by Marsaglia and Tsang's method; a shape below 1
// is drawn at shape+1 and scaled by U^(1/shape).
func GammaVariate(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := rng.Float64()
		for u == 0 {
			u = rng.Float64()
		}
		return GammaVariate(rng, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Process names an arrival process a scenario can choose.
const (
	ProcessConstant = "constant"
	ProcessPoisson  = "poisson"
	ProcessBursty   = "bursty"
)

// Processes lists the arrival processes, in the order help shows them.
var Processes = []string{ProcessConstant, ProcessPoisson, ProcessBursty}

// DefaultBurstiness is the gamma shape of bursty arrivals when a scenario
// does not say.
const DefaultBurstiness = 0.5

// New returns the arrivals of the named process at rate per second: the
// one place a process name becomes a schedule. seed draws the random
// processes; burstiness is the gamma shape of bursty arrivals.
func New(process string, rate float64, seed uint64, burstiness float64) Arrivals {
	switch process {
	case ProcessPoisson:
		return NewPoisson(rate, seed)
	case ProcessBursty:
		return NewGamma(rate, burstiness, seed)
	}
	return NewConstant(rate)
}

// StepSeed is the seed of the arrivals of step index of a run seeded
// with run: every step draws its own schedule, and the whole run's is
// reproduced from the one seed.
func StepSeed(run int64, index int) uint64 {
	return uint64(run) + uint64(index)*0x9e3779b97f4a7c15
}

// RecordedSpeed is the replay speed that makes a recording whose mean rate
// is recordedRate arrive at targetRate.
func RecordedSpeed(recordedRate, targetRate float64) float64 {
	if recordedRate <= 0 {
		return 1
	}
	return targetRate / recordedRate
}

// RecordedOffset maps a request recorded at ts (relative to the recording's
// first request) to its offset in a replay at speed, for the cycle-th pass
// through a recording of span span (the gap between its first and last
// request plus one mean gap, so passes do not overlap).
func RecordedOffset(ts time.Duration, cycle int, span time.Duration, speed float64) time.Duration {
	if speed <= 0 {
		speed = 1
	}
	return time.Duration((float64(ts) + float64(cycle)*float64(span)) / speed)
}

var (
	_ Arrivals = (*Constant)(nil)
	_ Arrivals = (*Poisson)(nil)
	_ Arrivals = (*Gamma)(nil)
)
