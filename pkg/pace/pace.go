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
)
