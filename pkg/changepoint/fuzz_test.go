package changepoint_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/changepoint"
)

// Any series, however odd (NaN-free, possibly constant, tiny or huge
// values), gives changes in order, inside the series, with p-values in
// [0, 1], and the same changes twice.
func FuzzDetect(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(30))
	f.Add(make([]byte, 8*40), uint8(4))
	f.Fuzz(func(t *testing.T, raw []byte, window uint8) {
		var xs []float64
		for len(raw) >= 8 && len(xs) < 200 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(raw))
			raw = raw[8:]
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e12 {
				continue
			}
			xs = append(xs, v)
		}
		o := changepoint.Options{Window: int(window)}
		cs := changepoint.Detect(xs, o)
		prev := 0
		for _, c := range cs {
			if c.Index <= prev || c.Index >= len(xs) {
				t.Fatalf("change at %d of %d (previous %d)", c.Index, len(xs), prev)
			}
			if !(c.P >= 0 && c.P <= 1) {
				t.Fatalf("p-value %v", c.P)
			}
			prev = c.Index
		}
		again := changepoint.Detect(xs, o)
		if len(again) != len(cs) {
			t.Fatalf("not deterministic: %d then %d changes", len(cs), len(again))
		}
	})
}
