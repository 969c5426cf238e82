// Package stats records latencies in HDR histograms, merges them and
// summarizes them into percentiles.
//
// Every histogram has one owner: a Recorder is not safe for concurrent use.
// Values are recorded in microseconds, from 1 µs to 60 s, with three
// significant digits; values above the range are clamped to it and counted.
package stats

import (
	"fmt"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// Range and precision of every histogram the project writes.
const (
	MinValue = 1                // 1 µs
	MaxValue = 60 * 1000 * 1000 // 60 s in µs
	SigFigs  = 3
)

// New returns an empty histogram with the project's range and precision.
func New() *hdrhistogram.Histogram {
	return hdrhistogram.New(MinValue, MaxValue, SigFigs)
}

// Recorder wraps a histogram and counts values clamped into range.
type Recorder struct {
	H       *hdrhistogram.Histogram
	Clamped int64
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{H: New()} }

// Record adds one duration. It does not allocate.
func (r *Recorder) Record(d time.Duration) {
	v, over := Micros(d)
	if over {
		r.Clamped++
	}
	_ = r.H.RecordValue(v)
}

// Micros returns d in microseconds clamped into the histograms' range,
// and whether it was above the range.
func Micros(d time.Duration) (v int64, over bool) {
	v = d.Microseconds()
	if v < MinValue {
		return MinValue, false
	}
	if v > MaxValue {
		return MaxValue, true
	}
	return v, false
}

// Reset empties the recorder.
func (r *Recorder) Reset() {
	r.H.Reset()
	r.Clamped = 0
}

// Summarize returns the usual percentiles of h in milliseconds.
func Summarize(h *hdrhistogram.Histogram) result.Latency {
	if h == nil || h.TotalCount() == 0 {
		return result.Latency{}
	}
	ms := func(v int64) float64 { return float64(v) / 1000 }
	return result.Latency{
		P50:  ms(h.ValueAtQuantile(50)),
		P90:  ms(h.ValueAtQuantile(90)),
		P99:  ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)),
		Max:  ms(h.Max()),
		Mean: h.Mean() / 1000,
	}
}

// QuantileMS returns the value at quantile q (0-100) of h in milliseconds.
func QuantileMS(h *hdrhistogram.Histogram, q float64) float64 {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	return float64(h.ValueAtQuantile(q)) / 1000
}

// Encode returns h in the standard compressed, base64 encoding that other
// HdrHistogram tools read.
func Encode(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("stats: encode histogram: %w", err)
	}
	return string(b), nil
}

// Decode parses a histogram written by Encode. An empty string gives an
// empty histogram.
func Decode(s string) (*hdrhistogram.Histogram, error) {
	if s == "" {
		return New(), nil
	}
	// A histogram's cost grows with its range and precision; only accept
	// the project's own, so a crafted result cannot burn minutes of CPU.
	if len(s) > 16<<20 {
		return nil, fmt.Errorf("stats: decode histogram: %d bytes is too large", len(s))
	}
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("stats: decode histogram: %w", err)
	}
	if h.SignificantFigures() != SigFigs || h.LowestTrackableValue() != MinValue || h.HighestTrackableValue() != MaxValue {
		return nil, fmt.Errorf("stats: decode histogram: range %d..%d at %d digits, want %d..%d at %d (µs)",
			h.LowestTrackableValue(), h.HighestTrackableValue(), h.SignificantFigures(), MinValue, MaxValue, SigFigs)
	}
	return h, nil
}

// Merge adds src into dst and returns the count of values that did not fit.
func Merge(dst, src *hdrhistogram.Histogram) int64 {
	return dst.Merge(src)
}
