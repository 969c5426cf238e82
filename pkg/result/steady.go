package result

import (
	"math"
	"slices"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

// Steady-state test constants (ADR 23).
const (
	// DefaultSteady is the steady objective's bound when a scenario does
	// not set one: latency may grow by 5 ms per second of the step, a
	// backlog growing by 0.5% of the rate. Smaller overloads are left to
	// the best-before's resolution margin (Resolution).
	DefaultSteady = 0.005
	// steadyMinSliceRequests is the fewest requests a trend slice needs
	// for its median to count.
	steadyMinSliceRequests = 5
	// steadyMinSlices is the fewest counted slices a step needs to be
	// judged at all.
	steadyMinSlices = 5
	// SteadyMinRequests is about the fewest requests a step's window
	// needs for the steady-state test: five slices of five (slices with
	// fewer are read in pairs).
	SteadyMinRequests = steadyMinSlices * steadyMinSliceRequests
	// steadyNoiseFactor is how many times the slices' own scatter about
	// the fitted line the rise must exceed.
	steadyNoiseFactor = 4
	// steadyMinRiseMS is the smallest rise that can break the objective,
	// whatever the level: below a millisecond, timer and scheduler jitter.
	steadyMinRiseMS = 1.0
)

// Steadiness is the steady-state reading of a step: the median latency of
// each trend slice, fitted by a robust line (Theil–Sen: the median of the
// slopes between every pair of slices, so a stall in one or two slices
// does not tilt it).
//
// Latency is measured from each request's intended send time, so in an
// open-loop step whose target falls behind, a request due at t waits for
// the backlog of everything due before it: latency grows with t at
// exactly λ/μ − 1, the share of the rate λ that the service rate μ does
// not keep up with. The slope is that share, whatever the service time
// or the step's length; below capacity it is zero but for noise.
type Steadiness struct {
	// Judged is false when the step holds too few slices with enough
	// requests (a short, slow step, or a result written before trends).
	Judged bool
	// StartMS and EndMS are the fitted median latency at the start and
	// the end of the measured window.
	StartMS, EndMS float64
	// RiseMS is EndMS − StartMS.
	RiseMS float64
	// Slope is the latency's growth per unit of time (ms per ms): the
	// share of the rate the backlog grows by.
	Slope float64
	// NoiseMS is the robust scatter of the slice medians about the line
	// (1.4826 × their median absolute residual).
	NoiseMS float64
	// Slices is how many slices counted.
	Slices int
}

// Breaks says whether the trend breaks a steady objective of the given
// bound: the slope must exceed the bound, and the rise across the window
// three times the slices' own scatter and a millisecond, so that neither
// noise nor jitter below what a histogram bucket resolves can fail a step.
func (t Steadiness) Breaks(bound float64) bool {
	if !t.Judged || bound <= 0 {
		return false
	}
	return t.Slope > bound && t.RiseMS > steadyNoiseFactor*t.NoiseMS && t.RiseMS >= steadyMinRiseMS
}

// SteadinessOf reads the step's trend slices.
func SteadinessOf(s *Step) Steadiness {
	n := len(s.Trend)
	if n < steadyMinSlices || s.DurationS <= 0 {
		return Steadiness{}
	}
	width := s.DurationS / float64(n)
	var sls []steadySlice
	full := 0
	for _, sl := range s.Trend {
		h, err := stats.Decode(sl.Histogram)
		if err != nil {
			continue
		}
		sls = append(sls, steadySlice{sl.OffsetS + width/2, h})
		if h.TotalCount() >= steadyMinSliceRequests {
			full++
		}
	}
	if full < steadyMinSlices && len(sls) >= 2*steadyMinSlices {
		// Too few requests a slice: read the slices in pairs.
		paired := sls[:0:0]
		for i := 0; i+1 < len(sls); i += 2 {
			h := stats.New()
			h.Merge(sls[i].h)
			h.Merge(sls[i+1].h)
			paired = append(paired, steadySlice{(sls[i].mid + sls[i+1].mid) / 2, h})
		}
		sls = paired
	}
	ts := make([]float64, 0, n)
	ms := make([]float64, 0, n)
	ses := make([]float64, 0, n)
	for _, sl := range sls {
		h := sl.h
		if h.TotalCount() < steadyMinSliceRequests {
			continue
		}
		ts = append(ts, sl.mid)
		ms = append(ms, stats.QuantileMS(h, 50))
		// The median of n requests is itself uncertain: its
		// distribution-free 95% interval runs between the order
		// statistics at n/2 ± 0.98√n, about ±1.96 standard errors.
		half := 100 * 0.98 / math.Sqrt(float64(h.TotalCount()))
		ses = append(ses, (stats.QuantileMS(h, min(100, 50+half))-stats.QuantileMS(h, max(0, 50-half)))/(2*1.96))
	}
	if len(ts) < steadyMinSlices {
		return Steadiness{Slices: len(ts)}
	}
	t := fitSteadiness(ts, ms, s.DurationS)
	// Ten residuals can sit close to the line by chance; the slices'
	// own sampling error is a floor the scatter is never below.
	t.NoiseMS = max(t.NoiseMS, median(ses))
	return t
}

// steadySlice is one trend slice: its middle (s from the window's start)
// and the latencies due in it.
type steadySlice struct {
	mid float64
	h   *hdrhistogram.Histogram
}

// fitSteadiness fits the Theil–Sen line to the points (t, m) and reads it
// over a window of the given length.
func fitSteadiness(ts, ms []float64, window float64) Steadiness {
	var slopes []float64
	for i := range ts {
		for j := i + 1; j < len(ts); j++ {
			if dt := ts[j] - ts[i]; dt > 0 {
				slopes = append(slopes, (ms[j]-ms[i])/dt)
			}
		}
	}
	b := median(slopes)
	icpt := make([]float64, len(ts))
	for i := range ts {
		icpt[i] = ms[i] - b*ts[i]
	}
	a := median(icpt)
	res := make([]float64, len(ts))
	for i := range ts {
		res[i] = math.Abs(ms[i] - (a + b*ts[i]))
	}
	t := Steadiness{Judged: true, Slices: len(ts), StartMS: a, EndMS: a + b*window, NoiseMS: 1.4826 * median(res)}
	t.RiseMS = t.EndMS - t.StartMS
	t.Slope = b / 1000 // ms per s → ms per ms
	return t
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	k := len(v) / 2
	if len(v)%2 == 1 {
		return v[k]
	}
	return (v[k-1] + v[k]) / 2
}
