package compare

import (
	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"math"
	"testing"
)

func TestUCDF_matchesKnownTable(t *testing.T) {
	// n = m = 3: 20 arrangements, U = 0..9 with counts 1 1 2 3 3 3 3 2 1 1.
	cdf := uCDF(3, 3)
	counts := []float64{1, 1, 2, 3, 3, 3, 3, 2, 1, 1}
	acc := 0.0
	for u, c := range counts {
		acc += c
		if math.Abs(cdf[u]-acc/20) > 1e-12 {
			t.Errorf("P(U ≤ %d) = %v, want %v", u, cdf[u], acc/20)
		}
	}
}

func TestShiftTest_exactPAndHodgesLehmann(t *testing.T) {
	base := []float64{1, 2, 3, 4, 5}
	cand := []float64{11, 12, 13, 14, 15}
	st := newShiftTest([]stratum{{base, cand}})
	p, dir := st.eval(0)
	if want := 2.0 / 252; math.Abs(p-want) > 1e-12 || dir != 1 {
		t.Errorf("complete separation 5 vs 5: p = %v dir %d, want %v and +1", p, dir, want)
	}
	r := st.estimate(0.05)
	if math.Abs(r.Estimate-10) > 1e-6 {
		t.Errorf("Hodges–Lehmann shift %v, want 10", r.Estimate)
	}
	if !(r.Lo > 5 && r.Lo <= 10 && r.Hi >= 10 && r.Hi < 15) {
		t.Errorf("95%% interval [%v, %v] should hold 10 and exclude 5 and 15", r.Lo, r.Hi)
	}
	if small := newShiftTest([]stratum{{[]float64{1}, []float64{2}}}).estimate(0.05); !math.IsInf(small.Lo, -1) || !math.IsInf(small.Hi, 1) {
		t.Errorf("one value a side gives interval [%v, %v], want unbounded", small.Lo, small.Hi)
	}
}

func TestHolm(t *testing.T) {
	got := holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("holm[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

// The paired bootstrap: sides identical slice for slice differ by nothing
// on every draw; a candidate whose every latency is 20% higher differs by
// log 1.2 on every draw (variance ~0 either way: the pairing cancels what
// the slices share); independent sides vary; the same data give the same
// answer.
func TestPairedBootstrap(t *testing.T) {
	mk := func(scale float64, seed int64) []*hdrhistogram.Histogram {
		var out []*hdrhistogram.Histogram
		for j := 0; j < 10; j++ {
			h := hdrhistogram.New(1, 60_000_000, 3)
			for i := 0; i < 100; i++ {
				v := float64(10_000 + (int64(i)*7919+seed*104729+int64(j)*31)%40_000)
				h.RecordValue(int64(v * scale))
			}
			out = append(out, h)
		}
		return out
	}
	base := mk(1, 1)
	if v, ok := pairedBootstrap(base, mk(1, 1), 99); !ok || v > 1e-12 {
		t.Errorf("identical sides: variance %v, %v", v, ok)
	}
	if v, ok := pairedBootstrap(base, mk(1.2, 1), 99); !ok || v > 1e-5 {
		t.Errorf("a 20%% slower copy: variance %v, want ~0", v)
	}
	v1, ok := pairedBootstrap(base, mk(1, 2), 99)
	v2, _ := pairedBootstrap(base, mk(1, 2), 99)
	if !ok || v1 <= 0 || v1 != v2 {
		t.Errorf("independent sides: variance %v then %v, want positive and the same", v1, v2)
	}
	if _, ok := pairedBootstrap(base[:2], base[:2], 99); ok {
		t.Error("two slices: a bootstrap claimed")
	}
}
