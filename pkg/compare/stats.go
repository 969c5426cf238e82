package compare

import (
	"math"
	"sort"
)

// stratum is one pair of samples compared together: the baseline's and the
// candidate's values at one step (or the per-run values of one metric).
type stratum struct {
	base, cand []float64
}

// shiftTest is a rank test of "the candidate's values are the baseline's
// shifted by delta" over one or more strata. With one stratum it is the
// Mann–Whitney U test (exact for small samples without ties, normal
// approximation with tie correction otherwise); with several it is van
// Elteren's stratified sum of Wilcoxon rank sums, each weighted by 1/(N+1).
type shiftTest struct {
	strata []stratum
	// exact is the null distribution of U for the single stratum when it
	// is small enough to count exactly (nil otherwise): exact[u] = P(U ≤ u).
	exact []float64
}

// exactLimit bounds n·m for the exact U distribution.
const exactLimit = 400

func newShiftTest(strata []stratum) *shiftTest {
	var kept []stratum
	for _, s := range strata {
		if len(s.base) > 0 && len(s.cand) > 0 {
			kept = append(kept, s)
		}
	}
	t := &shiftTest{strata: kept}
	if len(kept) == 1 {
		n, m := len(kept[0].base), len(kept[0].cand)
		if n*m <= exactLimit {
			t.exact = uCDF(n, m)
		}
	}
	return t
}

// usable reports whether there is anything to test.
func (t *shiftTest) usable() bool { return len(t.strata) > 0 }

// eval returns the two-sided p-value of the test on cand−delta against
// base, and the direction of the difference: +1 when the shifted candidate
// ranks above the baseline, −1 below, 0 balanced.
func (t *shiftTest) eval(delta float64) (p float64, dir int) {
	var num, variance float64
	ties := false
	var uStat float64
	for _, s := range t.strata {
		n, m := len(s.base), len(s.cand)
		N := n + m
		vals := make([]rv, 0, N)
		for _, v := range s.base {
			vals = append(vals, rv{v, false})
		}
		for _, v := range s.cand {
			vals = append(vals, rv{v - delta, true})
		}
		w, tieSum := rankSum(vals)
		if tieSum > 0 {
			ties = true
		}
		e := float64(m) * float64(N+1) / 2
		v := float64(n) * float64(m) / 12 * (float64(N+1) - tieSum/(float64(N)*float64(N-1)))
		wt := 1 / float64(N+1)
		num += wt * (w - e)
		variance += wt * wt * v
		uStat = w - float64(m)*float64(m+1)/2
	}
	switch {
	case num > 1e-12:
		dir = 1
	case num < -1e-12:
		dir = -1
	}
	if t.exact != nil && !ties {
		u := int(math.Round(uStat))
		nm := len(t.exact) - 1
		lower := t.exact[u]
		upper := t.exact[nm-u] // P(U ≥ u) = P(U ≤ nm−u) by symmetry
		return math.Min(1, 2*math.Min(lower, upper)), dir
	}
	if variance <= 0 {
		return 1, 0
	}
	z := num / math.Sqrt(variance)
	return math.Min(1, math.Erfc(math.Abs(z)/math.Sqrt2)), dir
}

type rv struct {
	v    float64
	cand bool
}

// rankSum returns the sum of the candidate's mid-ranks and Σ(t³−t) over
// groups of ties.
func rankSum(vals []rv) (w, tieSum float64) {
	sort.Slice(vals, func(i, j int) bool { return vals[i].v < vals[j].v })
	for i := 0; i < len(vals); {
		j := i + 1
		for j < len(vals) && vals[j].v == vals[i].v {
			j++
		}
		mid := float64(i+1+j) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if vals[k].cand {
				w += mid
			}
		}
		if t := float64(j - i); t > 1 {
			tieSum += t*t*t - t
		}
		i = j
	}
	return w, tieSum
}

// uCDF returns P(U ≤ u) for u = 0..n·m under the null hypothesis, counting
// the arrangements of n baseline and m candidate values.
func uCDF(n, m int) []float64 {
	// c[j][u]: arrangements of i baseline and j candidate values with U = u,
	// rolled over i. U counts (baseline, candidate) pairs with the
	// candidate above; appending a baseline value above j candidate values
	// adds nothing, appending a candidate value above i baseline values adds i.
	nm := n * m
	prev := make([][]float64, m+1)
	for j := range prev {
		prev[j] = make([]float64, nm+1)
		prev[j][0] = 1 // i = 0: one arrangement, U = 0
	}
	for i := 1; i <= n; i++ {
		cur := make([][]float64, m+1)
		for j := 0; j <= m; j++ {
			cur[j] = make([]float64, nm+1)
			for u := 0; u <= nm; u++ {
				c := prev[j][u] // last value is a baseline one
				if j > 0 && u-i >= 0 {
					c += cur[j-1][u-i] // last value is a candidate one, above i baseline values
				}
				cur[j][u] = c
			}
		}
		prev = cur
	}
	counts := prev[m]
	var total float64
	for _, c := range counts {
		total += c
	}
	cdf := make([]float64, nm+1)
	var acc float64
	for u, c := range counts {
		acc += c
		cdf[u] = acc / total
	}
	return cdf
}

// minP is the smallest two-sided p-value the test can give (complete
// separation of the samples).
func (t *shiftTest) minP() float64 {
	lo, _ := t.span()
	p, _ := t.eval(lo)
	return p
}

// span returns shifts beyond which every shifted candidate value lies
// above (lo) or below (hi) every baseline value, in every stratum.
func (t *shiftTest) span() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range t.strata {
		bmin, bmax := minMax(s.base)
		cmin, cmax := minMax(s.cand)
		lo = math.Min(lo, cmin-bmax)
		hi = math.Max(hi, cmax-bmin)
	}
	pad := math.Max(1e-9, (hi-lo)*1e-3+math.Abs(hi)*1e-9+math.Abs(lo)*1e-9)
	return lo - pad, hi + pad
}

func minMax(xs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo = math.Min(lo, x)
		hi = math.Max(hi, x)
	}
	return lo, hi
}

// shiftResult is the outcome of a shift test: the raw p-value of "no
// shift", the estimated shift and its confidence interval. Bounds are
// ±Inf when the samples are too small to bound the shift at that level.
type shiftResult struct {
	P        float64
	Estimate float64
	Lo, Hi   float64
}

// estimate runs the test at delta = 0 and inverts it: the estimate is the
// shift that balances the ranks (the Hodges–Lehmann estimator for one
// stratum) and the interval holds every shift the test does not reject at
// level a.
func (t *shiftTest) estimate(a float64) shiftResult {
	p0, _ := t.eval(0)
	lo, hi := t.span()
	// The balance point: dir goes from +1 (small delta) to −1 (large delta).
	up := bisect(lo, hi, func(d float64) bool { _, dir := t.eval(d); return dir > 0 })
	down := bisect(lo, hi, func(d float64) bool { _, dir := t.eval(d); return dir >= 0 })
	est := (up + down) / 2
	res := shiftResult{P: p0, Estimate: est, Lo: math.Inf(-1), Hi: math.Inf(1)}
	if pLo, _ := t.eval(lo); pLo < a {
		// Rejected with the candidate above at lo; accepted at est.
		res.Lo = bisect(lo, est, func(d float64) bool { p, dir := t.eval(d); return p < a && dir > 0 })
	}
	if pHi, _ := t.eval(hi); pHi < a {
		res.Hi = bisect(est, hi, func(d float64) bool { p, dir := t.eval(d); return !(p < a && dir < 0) })
	}
	if res.Lo > est {
		res.Lo = est
	}
	if res.Hi < est {
		res.Hi = est
	}
	return res
}

// bisect returns the boundary in [lo, hi] where pred turns from true to
// false, assuming pred(lo) is true and pred is monotone.
func bisect(lo, hi float64, pred func(float64) bool) float64 {
	for i := 0; i < 60; i++ {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if pred(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// holm returns Holm–Bonferroni adjusted p-values, in the order given.
func holm(ps []float64) []float64 {
	m := len(ps)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ps[idx[a]] < ps[idx[b]] })
	adj := make([]float64, m)
	running := 0.0
	for rank, i := range idx {
		v := math.Min(1, float64(m-rank)*ps[i])
		running = math.Max(running, v)
		adj[i] = running
	}
	return adj
}

// median returns the median of xs (NaN when empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianCI returns a distribution-free 95% interval for the median from
// order statistics, or NaNs when there are too few values (fewer than 6).
func medianCI(xs []float64) (lo, hi float64) {
	n := len(xs)
	if n < 6 {
		return math.NaN(), math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	// Largest k with P(Bin(n, 1/2) ≤ k−1) ≤ 0.025.
	k := 0
	cum := 0.0
	coef := math.Pow(0.5, float64(n))
	for j := 0; j < n; j++ {
		cum += coef
		if cum > 0.025 {
			break
		}
		k = j + 1
		coef = coef * float64(n-j) / float64(j+1)
	}
	if k < 1 {
		return math.NaN(), math.NaN()
	}
	return s[k-1], s[n-k]
}
