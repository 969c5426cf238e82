// Package stats records latencies in HDR histograms, merges them and
// summarizes them into percentiles.
//
// Every histogram has one owner: a Recorder is not safe for concurrent use.
// Values are recorded in microseconds, from 1 µs to 60 s, with three
// significant digits; values above the range are clamped to it and counted.
package stats

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
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

// ValueAtQuantile returns the value at quantile q (0-100) of h, by the
// nearest-rank rule of HdrHistogram's reference implementation (Java's
// getValueAtPercentile, which hdr-histogram-js follows): the highest
// value equivalent to the smallest recorded value v such that at least
// ceil(q/100·n) samples, and at least one, are ≤ v. q = 0 gives the
// lowest equivalent value of the smallest sample.
//
// hdrhistogram-go's own ValueAtQuantile ranks by round(q/100·n) instead,
// which reads one bucket low whenever q/100·n has a fraction under a half
// (p99.9 of 600 samples is rank 599 there, 600 here). This function is the
// one every reported percentile in the project goes through. An empty
// histogram gives 0. It does not allocate.
func ValueAtQuantile(h *hdrhistogram.Histogram, q float64) int64 {
	n := h.TotalCount()
	if n == 0 {
		return 0
	}
	if q <= 0 {
		// The reference returns the lowest equivalent value of the first
		// recorded bucket; Min is that.
		return h.Min()
	}
	rank := NearestRank(q, n)
	// Ask the library for exactly that rank: it computes
	// int64(q/100·n + 0.5), which for q = 100·rank/n is rank plus a
	// rounding error far below one half.
	return h.ValueAtQuantile(100 * float64(rank) / float64(n))
}

// NearestRank is the 1-based rank of quantile q (0-100) among n samples,
// computed as the reference implementation does: the quantile is first
// lowered by one ulp so that a product landing a hair above a whole rank
// by floating-point error is not pushed to the next one.
func NearestRank(q float64, n int64) int64 {
	q = math.Min(math.Max(math.Nextafter(q, math.Inf(-1)), 0), 100)
	rank := int64(math.Ceil(q / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return rank
}

// QuantileMS returns ValueAtQuantile of h in milliseconds; 0 for a nil or
// empty histogram.
func QuantileMS(h *hdrhistogram.Histogram, q float64) float64 {
	if h == nil {
		return 0
	}
	return float64(ValueAtQuantile(h, q)) / 1000
}

// Encode returns h in the standard compressed, base64 encoding that other
// HdrHistogram tools read.
//
// The payload is HdrHistogram's V2 encoding, byte for byte as the
// library writes it (header, then the counts up to the highest one as
// ZigZag LEB128 varints, runs of zeros as one negative count); it is
// deflated at zlib's BestSpeed with a pooled writer rather than at
// BestCompression with a new one, which cost a step's accounting more
// than everything else it does. Any zlib level decodes alike, in Go and
// in Java.
func Encode(h *hdrhistogram.Histogram) (string, error) {
	snap := h.Export()
	counts := snap.Counts
	limit := len(counts)
	for limit > 1 && counts[limit-1] == 0 {
		limit--
	}
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.payload = e.payload[:0]
	for i := 0; i < limit; {
		c := counts[i]
		i++
		if c == 0 {
			zeros := int64(1)
			for i < limit && counts[i] == 0 {
				zeros++
				i++
			}
			if zeros > 1 {
				c = -zeros
			}
		}
		z := uint64((c << 1) ^ (c >> 63))
		if z >= 1<<56 {
			// The format's last byte carries 8 bits, not 7 and a
			// continuation: counts this large take the library's path.
			b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
			if err != nil {
				return "", fmt.Errorf("stats: encode histogram: %w", err)
			}
			return string(b), nil
		}
		e.payload = binary.AppendUvarint(e.payload, z)
	}
	ratio := snap.IntegerToDoubleConversionRatio
	if ratio == 0 {
		ratio = 1
	}
	raw := e.raw[:0]
	raw = binary.BigEndian.AppendUint32(raw, v2EncodingCookie)
	raw = binary.BigEndian.AppendUint32(raw, uint32(len(e.payload)))
	raw = binary.BigEndian.AppendUint32(raw, 0) // normalizing index offset
	raw = binary.BigEndian.AppendUint32(raw, uint32(snap.SignificantFigures))
	raw = binary.BigEndian.AppendUint64(raw, uint64(snap.LowestTrackableValue))
	raw = binary.BigEndian.AppendUint64(raw, uint64(snap.HighestTrackableValue))
	raw = binary.BigEndian.AppendUint64(raw, math.Float64bits(ratio))
	raw = append(raw, e.payload...)
	e.raw = raw
	e.deflated.Reset()
	e.zw.Reset(&e.deflated)
	if _, err := e.zw.Write(raw); err != nil {
		return "", fmt.Errorf("stats: encode histogram: %w", err)
	}
	if err := e.zw.Close(); err != nil {
		return "", fmt.Errorf("stats: encode histogram: %w", err)
	}
	out := make([]byte, 0, 8+e.deflated.Len())
	out = binary.BigEndian.AppendUint32(out, v2CompressedEncodingCookie)
	out = binary.BigEndian.AppendUint32(out, uint32(e.deflated.Len()))
	out = append(out, e.deflated.Bytes()...)
	return base64.StdEncoding.EncodeToString(out), nil
}

// The cookies of HdrHistogram's V2 encodings (the library's
// V2EncodingCookieBase and V2CompressedEncodingCookieBase, with the word
// size of 8 bytes the format carries in its low bits).
const (
	v2EncodingCookie           = 0x1c849303 | 0x10
	v2CompressedEncodingCookie = 0x1c849304 | 0x10
)

// encoder keeps Encode's buffers and zlib writer between calls.
type encoder struct {
	payload, raw []byte
	deflated     bytes.Buffer
	zw           *zlib.Writer
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.zw, _ = zlib.NewWriterLevel(&e.deflated, zlib.BestSpeed) // a valid level cannot fail
	return e
}}

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
