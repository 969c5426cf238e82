package hdrref_test

import (
	"testing"

	"github.com/bestbefore/bestbefore/internal/hdrref"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// Synthetic histograms at the counts and shapes where nearest rank and
// rounding part ways: every percentile bestbefore reads must be the one
// the reference reads from the same encoded bytes.
func TestValueAtQuantileMatchesJava(t *testing.T) {
	qs := []float64{50, 90, 95, 99, 99.9, 99.99}
	var encoded []string
	var hs []*stats.Recorder
	x := uint64(42)
	for _, n := range []int{1, 2, 5, 10, 99, 100, 101, 333, 600, 999, 1000, 1001, 4321, 20000} {
		for shape := 0; shape < 3; shape++ {
			r := stats.NewRecorder()
			for i := 0; i < n; i++ {
				x = x*6364136223846793005 + 1442695040888963407
				u := float64(x>>11) / (1 << 53)
				var v int64
				switch shape {
				case 0: // uniform 1 ms .. 100 ms
					v = 1000 + int64(u*99_000)
				case 1: // heavy tail: a few in a hundred 10-50x slower
					v = 5000 + int64(u*2000)
					if u > 0.97 {
						v *= 10 + int64(u*40)
					}
				case 2: // few distinct values
					v = int64(1+int(u*4)) * 10_000
				}
				_ = r.H.RecordValue(v)
			}
			s, err := stats.Encode(r.H)
			if err != nil {
				t.Fatal(err)
			}
			encoded = append(encoded, s)
			hs = append(hs, r)
		}
	}
	ref := hdrref.Read(t, encoded, qs)
	compared, differ := 0, 0
	for i, r := range hs {
		for j, q := range qs {
			compared++
			if got := stats.ValueAtQuantile(r.H, q); got != ref[i].Values[j] {
				differ++
				t.Errorf("histogram %d (n=%d) p%v: bestbefore %d µs, Java %d µs", i, r.H.TotalCount(), q, got, ref[i].Values[j])
			}
		}
		compared++
		if got := r.H.Max(); got != ref[i].Max {
			differ++
			t.Errorf("histogram %d max: bestbefore %d µs, Java %d µs", i, got, ref[i].Max)
		}
	}
	t.Logf("%d values compared with HdrHistogram Java, %d differ", compared, differ)
}
