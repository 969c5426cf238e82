package changepoint_test

import (
	"math/rand/v2"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/changepoint"
)

// noisy returns n runs of a level with noise of ±noise (uniform, relative),
// the level times (1+step) from run at.
func noisy(rng *rand.Rand, n int, noise, step float64, at int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		level := 1000.0
		if at >= 0 && i >= at {
			level *= 1 + step
		}
		xs[i] = level * (1 + noise*(2*rng.Float64()-1))
	}
	return xs
}

// 40 runs with 8% noise and one 20% step at run 25: one change, at run 25
// ± 1, of about +20%, in every seed.
func TestFindsARealShift(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		xs := noisy(rand.New(rand.NewPCG(seed, 17)), 40, 0.08, 0.20, 25)
		cs := changepoint.Detect(xs, changepoint.Options{})
		if len(cs) != 1 {
			t.Errorf("seed %d: %d changes %+v, want one at run 25", seed, len(cs), cs)
			continue
		}
		c := cs[0]
		if c.Index < 24 || c.Index > 26 {
			t.Errorf("seed %d: change at run %d, want 25 ± 1", seed, c.Index)
		}
		if r := c.Relative(); r < 0.10 || r > 0.30 || c.P >= changepoint.DefaultMaxP {
			t.Errorf("seed %d: change %+.1f%% (p %.2g), want about +20%% at p < %g", seed, 100*r, c.P, changepoint.DefaultMaxP)
		}
	}
}

// 40 runs of pure noise: no change at the default threshold in at least
// 95% of seeds.
func TestInventsNoShift(t *testing.T) {
	const seeds = 200
	found := 0
	for seed := uint64(1); seed <= seeds; seed++ {
		xs := noisy(rand.New(rand.NewPCG(seed, 99)), 40, 0.08, 0, -1)
		if cs := changepoint.Detect(xs, changepoint.Options{}); len(cs) > 0 {
			found++
		}
	}
	t.Logf("pure noise: a change found in %d of %d seeds", found, seeds)
	if found > seeds*5/100 {
		t.Errorf("pure noise: a change found in %d of %d seeds, want at most 5%%", found, seeds)
	}
}

// Two shifts, up then back down, are both found; a constant series and a
// series too short to test have none; the same input gives the same answer.
func TestShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	a := noisy(rng, 30, 0.03, 0, -1)
	b := noisy(rng, 30, 0.03, 0.5, 0)
	c := noisy(rng, 30, 0.03, 0, -1)
	xs := append(append(append([]float64(nil), a...), b...), c...)
	cs := changepoint.Detect(xs, changepoint.Options{})
	if len(cs) != 2 || cs[0].Index < 29 || cs[0].Index > 31 || cs[1].Index < 59 || cs[1].Index > 61 || cs[0].Relative() < 0.3 || cs[1].Relative() > -0.2 {
		t.Errorf("up and down: %+v, want changes at 30 (+50%%) and 60 (−33%%)", cs)
	}
	again := changepoint.Detect(xs, changepoint.Options{})
	for i := range cs {
		if cs[i] != again[i] {
			t.Errorf("not deterministic: %+v then %+v", cs, again)
		}
	}
	flat := make([]float64, 50)
	for i := range flat {
		flat[i] = 7
	}
	for _, s := range [][]float64{flat, {1}, {1, 2}, nil} {
		if cs := changepoint.Detect(s, changepoint.Options{}); len(cs) != 0 {
			t.Errorf("%v: changes %+v", s, cs)
		}
	}
	// Two levels without noise: a change, certain.
	step := append(append([]float64(nil), flat[:10]...), 9, 9, 9, 9, 9, 9, 9, 9, 9, 9)
	if cs := changepoint.Detect(step, changepoint.Options{}); len(cs) != 1 || cs[0].Index != 10 || cs[0].P != 0 {
		t.Errorf("7×10 then 9×10: %+v, want one change at 10", cs)
	}
	// MinMagnitude drops a significant but small change.
	small := noisy(rand.New(rand.NewPCG(8, 8)), 60, 0.005, 0.03, 30)
	if cs := changepoint.Detect(small, changepoint.Options{}); len(cs) != 1 {
		t.Errorf("a 3%% step in 0.5%% noise: %+v, want it found", cs)
	}
	if cs := changepoint.Detect(small, changepoint.Options{MinMagnitude: 0.05}); len(cs) != 0 {
		t.Errorf("a 3%% step with MinMagnitude 5%%: %+v, want none", cs)
	}
}

func BenchmarkDetect500(b *testing.B) {
	xs := noisy(rand.New(rand.NewPCG(1, 1)), 500, 0.08, 0.2, 250)
	for b.Loop() {
		changepoint.Detect(xs, changepoint.Options{})
	}
}
