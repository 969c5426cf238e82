package compare

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// NoiseFloor is the run-to-run noise of a latency percentile on one kind
// of machine: the standard deviation of its logarithm between two runs of
// the same code (0.03 = 3%). A side measured once cannot estimate its own
// run-to-run noise; the floor stands in for it (or the sampling error of
// its requests, when larger), and with repeated runs it bounds the runs'
// own spread from below, so that runs that happened to agree do not claim
// a precision the machine does not have.
type NoiseFloor struct {
	P50, P99, P999 float64
	// Source says where the figures come from, for the report.
	Source string
}

// DefaultNoiseFloor was measured on the project's 2-core CI machine
// (MeasureNoise over A/A runs of scenarios/ci.yaml: the committed
// baseline's five, and the gate harness's, docs/ci.md), rounded up.
var DefaultNoiseFloor = NoiseFloor{P50: 0.02, P99: 0.03, P999: 0.05, Source: "measured on a shared 2-core machine, docs/ci.md; --noise-floor sets yours"}

// Scaled returns the floor with p99 at v and p50 and p99.9 in the same
// proportion to it as in n, saying where it came from.
func (n NoiseFloor) Scaled(v float64) NoiseFloor {
	k := v / n.P99
	return NoiseFloor{P50: n.P50 * k, P99: v, P999: n.P999 * k, Source: "given with --noise-floor"}
}

func (n NoiseFloor) of(metric string) float64 {
	switch metric {
	case MetricP50:
		return n.P50
	case MetricP99, MetricTTFTP99, MetricITLP99:
		return n.P99
	case MetricP999:
		return n.P999
	}
	return 0
}

// pairFloor is the floor of a live A/B comparison, where both sides share
// the machine and every request goes to both at the same instant: what
// remains is each side's own noise (its process, its GC), far below the
// machine's.
const pairFloor = 0.01

// zOf is the two-sided standard normal quantile of level a: the z with
// P(|Z| > z) = a.
func zOf(a float64) float64 { return math.Sqrt2 * math.Erfinv(1-a) }

// pOf is the two-sided p-value of a standard normal statistic z.
func pOf(z float64) float64 { return math.Erfc(math.Abs(z) / math.Sqrt2) }

// quantileOf returns the log of the q-th percentile (0-100, in ms) of the n
// requests in h, and the standard error of that log from sampling alone:
// the order statistics that bound the quantile with 95% confidence
// (binomial ranks around q·n, distribution-free) read from the same
// histogram, their log distance divided by 2·1.96. The histogram's own
// resolution (3 significant digits) bounds it from below. ok is false for
// an empty histogram.
func quantileOf(h *hdrhistogram.Histogram, q float64) (x, se float64, ok bool) {
	n := h.TotalCount()
	if n == 0 {
		return 0, 0, false
	}
	v := stats.ValueAtQuantile(h, q)
	if v <= 0 {
		v = 1
	}
	p := q / 100
	half := 1.96 * math.Sqrt(float64(n)*p*(1-p))
	lo := int64(math.Floor(float64(n)*p - half))
	hi := int64(math.Ceil(float64(n)*p+half)) + 1
	lo = max(1, min(lo, n))
	hi = max(1, min(hi, n))
	vlo := max(stats.ValueAtQuantile(h, 100*float64(lo)/float64(n)), 1)
	vhi := max(stats.ValueAtQuantile(h, 100*float64(hi)/float64(n)), 1)
	se = (math.Log(float64(vhi)) - math.Log(float64(vlo))) / (2 * 1.96)
	return math.Log(float64(v) / 1000), math.Max(se, 1e-3), true // µs recorded, ms reported
}

// level is one side's estimate of a quantity measured once per run: the
// mean over its runs, and the variance of that mean.
type level struct {
	mean, varMean float64
	// perRun is the variance of one run's value; k is the number of runs.
	perRun float64
	k      int
	// samp is the mean sampling variance of one run's value (what its
	// requests alone explain, the part longer steps shrink); floor2 is the
	// square of the noise floor.
	samp, floor2 float64
	// estimated is set when perRun comes from the runs' own spread.
	estimated bool
}

// minRunsForSpread is how many runs a side needs for its own spread to be
// trusted as its run-to-run variance.
const minRunsForSpread = 3

// levelOf estimates a side from per-run values and their sampling
// variances. A side of three runs or more has the variance it shows,
// never less than the noise floor's. A side with fewer has the floor, or
// the sampling variance of its runs when that is larger (few requests);
// pool then lends it the spread its other side showed, when that side
// could estimate it: the same scenario on the same machine, compared on
// the log scale, varies alike from run to run.
func levelOf(xs, samp []float64, floor float64) level {
	k := len(xs)
	l := level{k: k, floor2: floor * floor, samp: mean(samp)}
	l.mean = mean(xs)
	l.perRun = math.Max(l.floor2, l.samp)
	if k >= minRunsForSpread {
		l.perRun = math.Max(l.floor2, variance(xs))
		l.estimated = true
	}
	l.varMean = l.perRun / float64(k)
	return l
}

// pool lends a side that could not estimate its run-to-run variance the
// variance the other side showed, plus any sampling variance its own runs
// have beyond the other's (fewer requests), never below the floor.
func pool(a, b *level) {
	lend := func(to *level, from level) {
		if to.estimated || !from.estimated {
			return
		}
		to.perRun = math.Max(to.floor2, from.perRun+math.Max(0, to.samp-from.samp))
		to.varMean = to.perRun / float64(to.k)
	}
	lend(a, *b)
	lend(b, *a)
}

// needs says what would let a comparison with these two sides decide at
// threshold t (on the scale of the change: log for latency), at the
// family's z: the runs per side that bring the interval's half-width under
// t, and the step length that would, with the runs as they are. stepS is
// the measured length of a step today, in seconds (0 when unknown).
func needs(b, c level, t, z, stepS float64) string {
	if !(t > 0) {
		return ""
	}
	limit := (t / z) * (t / z) // the variance of the difference that decides
	var parts []string
	if b.varMean < limit {
		// A committed baseline stays as it is; the candidate's runs are
		// what a job can add.
		if kc := int(math.Ceil(c.perRun / (limit - b.varMean))); kc > c.k {
			parts = append(parts, fmt.Sprintf("%d candidate runs (now %d)", kc, c.k))
		}
	} else if k := int(math.Ceil((b.perRun + c.perRun) / limit)); k > max(b.k, c.k) {
		parts = append(parts, fmt.Sprintf("%d runs on each side (now %d and %d)", k, b.k, c.k))
	}
	// Longer steps shrink only the sampling part; what a run's spread or
	// the floor adds beyond it stays.
	fixed := math.Max(0, b.perRun-b.samp)/float64(b.k) + math.Max(0, c.perRun-c.samp)/float64(c.k)
	samp := math.Min(b.samp, b.perRun)/float64(b.k) + math.Min(c.samp, c.perRun)/float64(c.k)
	switch {
	case stepS <= 0 || samp <= 0:
	case fixed >= limit:
		if len(parts) == 0 {
			parts = append(parts, "more runs: the run-to-run noise floor alone is wider than the threshold allows")
		} else {
			parts[len(parts)-1] += " (longer steps alone cannot narrow it below the run-to-run noise floor)"
		}
	default:
		x := samp / (limit - fixed)
		if x > 1 {
			parts = append(parts, fmt.Sprintf("steps of %s s measured (now %s s)", fmtFloat(math.Ceil(x*stepS)), fmtFloat(stepS)))
		}
	}
	if len(parts) == 0 {
		return "the change lies close to the threshold: more runs narrow the interval around it"
	}
	return joinOr(parts)
}

func joinOr(xs []string) string {
	out := ""
	for i, x := range xs {
		switch {
		case i == 0:
		case i == len(xs)-1:
			out += ", or "
		default:
			out += ", "
		}
		out += x
	}
	return out
}

// MeasureNoise measures the noise floor of the machine the runs were made
// on: runs of the same scenario and the same code, one after another (an
// A/A series). For each percentile it takes, at every step all the runs
// measured and passed, the variance of the log percentile across runs,
// and returns the root mean square over the steps: how much one run
// differs from the next, which one run cannot show.
func MeasureNoise(runs []*result.Result) (NoiseFloor, error) {
	if len(runs) < 3 {
		return NoiseFloor{}, fmt.Errorf("compare: measuring noise needs at least 3 runs, got %d", len(runs))
	}
	side := &Side{Runs: runs}
	for i := range runs {
		side.Paths = append(side.Paths, fmt.Sprintf("run %d", i+1))
	}
	steps, err := collectSteps(side)
	if err != nil {
		return NoiseFloor{}, err
	}
	var sum [3]float64
	n := 0
	for _, st := range steps {
		if len(st.byRun) != len(runs) || st.passes != len(runs) {
			continue
		}
		n++
		for qi := range sum { // the latency percentiles: the floor is theirs
			var xs []float64
			for _, sr := range st.byRun {
				if sr.q[qi].ok {
					xs = append(xs, sr.q[qi].x)
				}
			}
			sum[qi] += variance(xs)
		}
	}
	if n == 0 {
		return NoiseFloor{}, fmt.Errorf("compare: no step that every run measured and passed")
	}
	f := func(qi int) float64 { return math.Sqrt(sum[qi] / float64(n)) }
	return NoiseFloor{P50: f(0), P99: f(1), P999: f(2), Source: fmt.Sprintf("measured over %d runs, %d steps", len(runs), n)}, nil
}

// pairedBootstrap estimates the variance of log Q_c − log Q_b, the
// difference of the q-th percentiles of two paired sides, by a paired
// block bootstrap over their slices (slice j of each side holds the
// requests due in the same part of the step): the slices are drawn with
// replacement, the same draw for both sides, the difference computed on
// each draw. What the sides share moves both together and cancels, as it
// does in the difference itself. The draws are seeded: the same data give
// the same answer. ok is false with fewer than 3 usable slices.
func pairedBootstrap(b, c []*hdrhistogram.Histogram, q float64) (float64, bool) {
	g := min(len(b), len(c))
	if g < 3 {
		return 0, false
	}
	wb, wc := make([][]bucket, g), make([][]bucket, g)
	for j := 0; j < g; j++ {
		if b[j] == nil || c[j] == nil {
			return 0, false
		}
		wb[j], wc[j] = bucketsOf(b[j]), bucketsOf(c[j])
	}
	rng := rand.New(rand.NewPCG(0x62657374, 0x6265666f))
	const draws = 400
	pick := make([]int, g)
	var ds []float64
	var sb, sc []bucket
	for i := 0; i < draws; i++ {
		for j := range pick {
			pick[j] = rng.IntN(g)
		}
		sb, sc = sb[:0], sc[:0]
		for _, j := range pick {
			sb, sc = append(sb, wb[j]...), append(sc, wc[j]...)
		}
		xb, okb := quantileOfBuckets(sb, q)
		xc, okc := quantileOfBuckets(sc, q)
		if okb && okc {
			ds = append(ds, xc-xb)
		}
	}
	if len(ds) < draws/2 {
		return 0, false
	}
	return variance(ds), true
}

// bucket is a histogram's recorded value (the highest value equivalent to
// its bucket, as percentiles report it) and its count.
type bucket struct{ v, n int64 }

func bucketsOf(h *hdrhistogram.Histogram) []bucket {
	var out []bucket
	for _, bar := range h.Distribution() {
		if bar.Count > 0 {
			out = append(out, bucket{bar.To, bar.Count})
		}
	}
	return out
}

// quantileOfBuckets is the log of the q-th percentile (0-100, in ms) of the
// union of bs, by the nearest-rank rule of stats.ValueAtQuantile.
func quantileOfBuckets(bs []bucket, q float64) (float64, bool) {
	var total int64
	for _, b := range bs {
		total += b.n
	}
	if total == 0 {
		return 0, false
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Compare(a.v, b.v) })
	rank := stats.NearestRank(q, total)
	var seen int64
	for _, b := range bs {
		seen += b.n
		if seen >= rank {
			return math.Log(float64(max(b.v, 1)) / 1000), true
		}
	}
	return math.Log(float64(max(bs[len(bs)-1].v, 1)) / 1000), true
}
