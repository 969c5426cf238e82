package probe

import (
	"math"
	"slices"
)

// Sub returns h minus an earlier reading prev of the same histogram (the
// observations made in between). A histogram whose counts went down was
// reset: h itself is returned.
func (h Histogram) Sub(prev Histogram) Histogram {
	if len(prev.Counts) != len(h.Counts) || !slices.Equal(prev.Bounds, h.Bounds) {
		return h
	}
	out := Histogram{Bounds: h.Bounds, Counts: make([]float64, len(h.Counts))}
	for i, c := range h.Counts {
		if c < prev.Counts[i] {
			return h
		}
		out.Counts[i] = c - prev.Counts[i]
	}
	return out
}

// Total is the number of observations.
func (h Histogram) Total() float64 {
	var n float64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Quantile estimates the q-quantile (0..1) by linear interpolation inside
// the bucket holding it, as Prometheus's histogram_quantile does. A bucket
// with an infinite bound yields its finite bound. An empty histogram gives 0.
func (h Histogram) Quantile(q float64) float64 {
	total := h.Total()
	if total == 0 || len(h.Bounds) != len(h.Counts)+1 {
		return 0
	}
	q = clamp(q, 0, 1)
	rank := q * total
	var cum float64
	for i, c := range h.Counts {
		if c <= 0 {
			continue
		}
		next := cum + c
		if next >= rank {
			lo, hi := h.Bounds[i], h.Bounds[i+1]
			switch {
			case math.IsInf(hi, 1):
				return finite(lo)
			case math.IsInf(lo, -1):
				return hi
			}
			return lo + (hi-lo)*(rank-cum)/c
		}
		cum = next
	}
	return finite(h.Bounds[len(h.Bounds)-1])
}

func finite(v float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0
	}
	return v
}
