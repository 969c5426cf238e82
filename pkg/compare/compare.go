// Package compare is the CI gate: it decides whether a candidate run is a
// regression against a baseline, with statistics rather than single numbers.
//
// Each matched step contributes per-interval samples (one p50, p99, p99.9
// and error rate per interval histogram); repeated runs contribute one
// best-before QPS each. Every gate is a Mann–Whitney / van Elteren rank test
// of a shift, inverted into a confidence interval, Holm–Bonferroni corrected
// across the gates, and judged against its threshold: regression only when
// the change is significant and its whole interval lies beyond the
// threshold, pass when the whole interval lies within it, inconclusive
// otherwise. See adr/0013-compare-statistics.md.
package compare

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// Verdict is the outcome of one gate or of the whole comparison.
type Verdict string

// Verdicts.
const (
	Pass         Verdict = "pass"
	Regression   Verdict = "regression"
	Inconclusive Verdict = "inconclusive"
	// Info marks a comparison shown without a threshold; it never fails.
	Info Verdict = "info"
)

// Metrics compared.
const (
	MetricBestBefore = "best_before"
	MetricP50        = "p50"
	MetricP99        = "p99"
	MetricP999       = "p999"
	MetricErrorRate  = "error_rate"
)

// Config holds the thresholds and the significance level. A nil threshold
// means the metric is shown but not gated.
type Config struct {
	// Alpha is the family-wise significance level (default 0.05).
	Alpha float64
	// Relative increases of latency percentiles that are tolerated (0.1 = +10%).
	MaxP50Increase  *float64
	MaxP99Increase  *float64
	MaxP999Increase *float64
	// MaxBestBeforeDrop is the tolerated relative drop of the best-before QPS.
	MaxBestBeforeDrop *float64
	// MaxErrorRateIncrease is the tolerated absolute increase of the error
	// rate (0.001 = 0.1 percentage points).
	MaxErrorRateIncrease *float64
}

// DefaultConfig gates p99 at +10%, best-before at −10% and the error rate
// at +0.1 percentage points, at α = 0.05.
func DefaultConfig() Config {
	f := func(v float64) *float64 { return &v }
	return Config{
		Alpha:                0.05,
		MaxP99Increase:       f(0.10),
		MaxBestBeforeDrop:    f(0.10),
		MaxErrorRateIncrease: f(0.001),
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if !(c.Alpha > 0 && c.Alpha < 1) {
		return fmt.Errorf("alpha must be between 0 and 1 (exclusive), got %v", c.Alpha)
	}
	for _, th := range []struct {
		name string
		v    *float64
	}{
		{"max-p50-increase", c.MaxP50Increase},
		{"max-p99-increase", c.MaxP99Increase},
		{"max-p999-increase", c.MaxP999Increase},
		{"max-best-before-drop", c.MaxBestBeforeDrop},
		{"max-error-rate-increase", c.MaxErrorRateIncrease},
	} {
		if th.v != nil && (*th.v < 0 || math.IsNaN(*th.v) || math.IsInf(*th.v, 0)) {
			return fmt.Errorf("%s must not be negative, got %v", th.name, *th.v)
		}
	}
	if c.MaxBestBeforeDrop != nil && *c.MaxBestBeforeDrop >= 1 {
		return fmt.Errorf("max-best-before-drop must be below 100%%, got %v", *c.MaxBestBeforeDrop)
	}
	return nil
}

func (c Config) threshold(metric string) *float64 {
	switch metric {
	case MetricP50:
		return c.MaxP50Increase
	case MetricP99:
		return c.MaxP99Increase
	case MetricP999:
		return c.MaxP999Increase
	case MetricBestBefore:
		return c.MaxBestBeforeDrop
	case MetricErrorRate:
		return c.MaxErrorRateIncrease
	}
	return nil
}

// Side is one side of a comparison: one result, or several repeated runs.
type Side struct {
	// Label names the side as the user gave it (a file or directory).
	Label string
	// Paths are the files the runs were read from, parallel to Runs.
	Paths []string
	Runs  []*result.Result
}

// InputError is a problem with an input file: missing, corrupt, empty or
// not comparable. Commands map it to exit code 2.
type InputError struct {
	Path string
	Msg  string
	Err  error
}

func (e *InputError) Error() string {
	msg := e.Msg
	if e.Err != nil {
		if msg != "" {
			msg += ": "
		}
		msg += e.Err.Error()
	}
	if e.Path == "" {
		return msg
	}
	return e.Path + ": " + msg
}

func (e *InputError) Unwrap() error { return e.Err }

// Load reads one side: a result.json file, or a directory of repeated runs
// (DIR/*/result.json, as `run --repeat` writes them; otherwise DIR/*.json).
// A live A/B result cannot be one side; use LoadAB.
func Load(path string) (*Side, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &InputError{Path: path, Msg: "cannot read result", Err: unwrapPath(err)}
	}
	side := &Side{Label: path}
	var files []string
	if fi.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*", "result.json"))
		if len(files) == 0 {
			files, _ = filepath.Glob(filepath.Join(path, "*.json"))
		}
		if len(files) == 0 {
			return nil, &InputError{Path: path, Msg: "no results in directory (want DIR/*/result.json or DIR/*.json)"}
		}
		sort.Strings(files)
	} else {
		files = []string{path}
	}
	for _, f := range files {
		r, err := readResult(f)
		if err != nil {
			return nil, err
		}
		if len(r.Sides) > 0 {
			return nil, &InputError{Path: f, Msg: "is a live A/B result; compare it alone (bestbefore compare " + f + ")"}
		}
		side.Paths = append(side.Paths, f)
		side.Runs = append(side.Runs, r)
	}
	return side, nil
}

// LoadAB reads a live A/B result and returns its baseline and candidate sides.
func LoadAB(path string) (base, cand *Side, err error) {
	r, err := readResult(path)
	if err != nil {
		return nil, nil, err
	}
	b, c := r.Sides["baseline"], r.Sides["candidate"]
	if b == nil || c == nil {
		return nil, nil, &InputError{Path: path, Msg: `not a live A/B result: "sides" must hold "baseline" and "candidate" (to compare two runs, give BASE and CANDIDATE)`}
	}
	base = &Side{Label: path + "#baseline", Paths: []string{path + "#baseline"}, Runs: []*result.Result{b}}
	cand = &Side{Label: path + "#candidate", Paths: []string{path + "#candidate"}, Runs: []*result.Result{c}}
	return base, cand, nil
}

func readResult(path string) (*result.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{Path: path, Msg: "cannot read result", Err: unwrapPath(err)}
	}
	defer f.Close()
	r, err := result.Decode(f)
	if err != nil {
		return nil, &InputError{Path: path, Msg: "corrupt result", Err: err}
	}
	return r, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Estimate is one side's value of a metric: the median of its samples and,
// where there are enough of them, the relative half-width of the median's
// 95% interval (benchstat's ±).
type Estimate struct {
	Value  Num `json:"value"`
	Spread Num `json:"spread"`
	// N is the number of samples (intervals or runs).
	N int `json:"n"`
}

// Gate is one comparison: a metric, overall or at one step.
type Gate struct {
	// ID is unique within a report, e.g. "overall/p99" or "step/200qps/p99".
	ID     string `json:"id"`
	Metric string `json:"metric"`
	// Scope is "overall" or "step".
	Scope   string  `json:"scope"`
	StepQPS float64 `json:"step_qps,omitempty"`
	// Unit of Base and Cand values: "ms", "qps" or "ratio".
	Unit string   `json:"unit"`
	Base Estimate `json:"baseline"`
	Cand Estimate `json:"candidate"`
	// Change is the estimated change: relative (+0.146 = +14.6%) for
	// latency and best-before, absolute (0.001 = +0.1 pp) for the error
	// rate; Lo and Hi bound it at the report's confidence level.
	Change   Num    `json:"change"`
	Lo       Num    `json:"lo"`
	Hi       Num    `json:"hi"`
	Absolute bool   `json:"absolute,omitempty"`
	P        Num    `json:"p"`
	PAdj     Num    `json:"p_adjusted"`
	Method   string `json:"method"`
	// Threshold is the tolerated change (an increase, or a drop for
	// best-before); nil when the metric is not gated.
	Threshold *float64 `json:"threshold,omitempty"`
	Verdict   Verdict  `json:"verdict"`
	Note      string   `json:"note,omitempty"`

	tested   bool // a test was run (part of the Holm family when gated)
	test     *shiftTest
	logScale bool
}

// SideInfo describes an input side in a report.
type SideInfo struct {
	Label string   `json:"label"`
	Runs  int      `json:"runs"`
	Files []string `json:"files"`
}

// Report is the outcome of Compare.
type Report struct {
	Scenario  string   `json:"scenario"`
	Baseline  SideInfo `json:"baseline"`
	Candidate SideInfo `json:"candidate"`
	Alpha     float64  `json:"alpha"`
	// Tests is the size of the Holm–Bonferroni family.
	Tests int `json:"tests"`
	// Confidence is the level of the printed intervals (1 − α/Tests).
	Confidence float64 `json:"confidence"`
	// Verdict is regression when any gate regressed, inconclusive when an
	// overall gate is, pass otherwise.
	Verdict Verdict  `json:"verdict"`
	Gates   []Gate   `json:"gates"`
	Notes   []string `json:"notes,omitempty"`
}

// Regressions returns the gates that regressed.
func (r *Report) Regressions() []Gate { return r.filter(Regression) }

// Inconclusive returns the gates whose verdict is inconclusive.
func (r *Report) Inconclusive() []Gate { return r.filter(Inconclusive) }

func (r *Report) filter(v Verdict) []Gate {
	var out []Gate
	for _, g := range r.Gates {
		if g.Verdict == v {
			out = append(out, g)
		}
	}
	return out
}

// stepData is one side's pooled samples at one offered rate.
type stepData struct {
	qps                 float64
	p50, p99, p999, err []float64
	passes, runs        int
	requests, errors    int64
}

// Compare judges cand against base.
func Compare(base, cand *Side, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, s := range []*Side{base, cand} {
		if s == nil || len(s.Runs) == 0 {
			return nil, &InputError{Msg: "a side has no results"}
		}
	}
	name, err := scenarioName(base, cand)
	if err != nil {
		return nil, err
	}
	bSteps, err := collectSteps(base)
	if err != nil {
		return nil, err
	}
	cSteps, err := collectSteps(cand)
	if err != nil {
		return nil, err
	}
	type pair struct{ b, c *stepData }
	var matched []pair
	for _, b := range bSteps {
		for _, c := range cSteps {
			if sameRate(b.qps, c.qps) {
				matched = append(matched, pair{b, c})
				break
			}
		}
	}
	if len(matched) == 0 {
		return nil, &InputError{Path: base.Label, Msg: fmt.Sprintf("no common steps with %s: baseline offered %s, candidate %s", cand.Label, rates(bSteps), rates(cSteps))}
	}

	rep := &Report{
		Scenario:  name,
		Baseline:  SideInfo{Label: base.Label, Runs: len(base.Runs), Files: base.Paths},
		Candidate: SideInfo{Label: cand.Label, Runs: len(cand.Runs), Files: cand.Paths},
		Alpha:     cfg.Alpha,
	}

	// The operating range: steps where the baseline met its objectives in
	// at least half of its runs. Beyond it latency measures a growing queue,
	// not the service, and is shown but not gated.
	var inRange []pair
	for _, p := range matched {
		if 2*p.b.passes >= p.b.runs {
			inRange = append(inRange, p)
		}
	}
	if len(inRange) == 0 {
		inRange = matched
		rep.Notes = append(rep.Notes, "the baseline met its objectives at no matched step; every matched step is gated")
	} else if n := len(matched) - len(inRange); n > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d matched step(s) beyond the baseline's operating range (objectives not met) are shown, not gated", n))
	}
	if n := len(bSteps) - len(matched); n > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d baseline step(s) have no candidate step at the same rate (±0.5%%)", n))
	}

	latency := []struct {
		metric string
		get    func(*stepData) []float64
	}{
		{MetricP50, func(s *stepData) []float64 { return s.p50 }},
		{MetricP99, func(s *stepData) []float64 { return s.p99 }},
		{MetricP999, func(s *stepData) []float64 { return s.p999 }},
	}

	// Overall gates first: best-before, then latency and error rate over
	// the operating range.
	bb := bestBeforeGate(base, cand, cfg)
	gates := []*Gate{bb}
	for _, l := range latency {
		var strata []stratum
		var bMed, cMed []float64
		for _, p := range inRange {
			b, c := logs(l.get(p.b)), logs(l.get(p.c))
			if len(b) == 0 || len(c) == 0 {
				continue
			}
			strata = append(strata, stratum{b, c})
			bMed = append(bMed, median(b))
			cMed = append(cMed, median(c))
		}
		g := &Gate{ID: "overall/" + l.metric, Metric: l.metric, Scope: "overall", Unit: "ms", Method: "van Elteren over steps, log scale"}
		g.Base = Estimate{Value: Num(math.Exp(mean(bMed))), Spread: nan(), N: len(bMed)}
		g.Cand = Estimate{Value: Num(math.Exp(mean(cMed))), Spread: nan(), N: len(cMed)}
		g.Note = fmt.Sprintf("geometric mean of %d step medians", len(bMed))
		g.setTest(newShiftTest(strata), cfg.threshold(l.metric), true)
		gates = append(gates, g)
	}
	{
		var strata []stratum
		var bReq, bErr, cReq, cErr int64
		for _, p := range inRange {
			strata = append(strata, stratum{p.b.err, p.c.err})
			bReq, bErr, cReq, cErr = bReq+p.b.requests, bErr+p.b.errors, cReq+p.c.requests, cErr+p.c.errors
		}
		g := &Gate{ID: "overall/" + MetricErrorRate, Metric: MetricErrorRate, Scope: "overall", Unit: "ratio", Absolute: true, Method: "van Elteren over steps"}
		g.Base = Estimate{Value: Num(ratio(bErr, bReq)), Spread: nan(), N: len(strata)}
		g.Cand = Estimate{Value: Num(ratio(cErr, cReq)), Spread: nan(), N: len(strata)}
		g.Note = "errors / requests over the gated steps"
		g.setTest(newShiftTest(strata), cfg.threshold(MetricErrorRate), false)
		gates = append(gates, g)
	}
	gatedRate := map[float64]bool{}
	for _, p := range inRange {
		gatedRate[p.b.qps] = true
	}
	for _, p := range matched {
		gated := gatedRate[p.b.qps]
		for _, l := range latency {
			b, c := l.get(p.b), l.get(p.c)
			g := &Gate{ID: fmt.Sprintf("step/%sqps/%s", fmtQPS(p.b.qps), l.metric), Metric: l.metric, Scope: "step", StepQPS: p.b.qps, Unit: "ms", Method: "Mann–Whitney U, log scale"}
			g.Base, g.Cand = estimateOf(b), estimateOf(c)
			th := cfg.threshold(l.metric)
			if !gated {
				th = nil
				g.Note = "beyond the baseline's operating range"
			}
			g.setTest(newShiftTest([]stratum{{logs(b), logs(c)}}), th, true)
			gates = append(gates, g)
		}
		g := &Gate{ID: fmt.Sprintf("step/%sqps/%s", fmtQPS(p.b.qps), MetricErrorRate), Metric: MetricErrorRate, Scope: "step", StepQPS: p.b.qps, Unit: "ratio", Absolute: true, Method: "Mann–Whitney U"}
		g.Base = Estimate{Value: Num(ratio(p.b.errors, p.b.requests)), Spread: nan(), N: len(p.b.err)}
		g.Cand = Estimate{Value: Num(ratio(p.c.errors, p.c.requests)), Spread: nan(), N: len(p.c.err)}
		th := cfg.threshold(MetricErrorRate)
		if !gated {
			th = nil
			g.Note = "beyond the baseline's operating range"
		}
		g.setTest(newShiftTest([]stratum{{p.b.err, p.c.err}}), th, false)
		gates = append(gates, g)
	}

	// Holm–Bonferroni over every gated test; intervals at the Bonferroni
	// level, simultaneous for the whole family.
	var ps []float64
	var fam []*Gate
	for _, g := range gates {
		if g.tested && g.Threshold != nil {
			ps = append(ps, float64(g.P))
			fam = append(fam, g)
		}
	}
	m := len(fam)
	if m == 0 {
		m = 1
	}
	rep.Tests = len(fam)
	level := cfg.Alpha / float64(m)
	rep.Confidence = 1 - level
	for i, adj := range holm(ps) {
		fam[i].PAdj = Num(adj)
	}
	for _, g := range gates {
		if g.tested {
			g.finish(level, cfg.Alpha)
		}
	}
	if bb.Verdict == "" {
		bb.judgeByEvidence(gates, cfg)
	}

	rep.Verdict = Pass
	for _, g := range gates {
		rep.Gates = append(rep.Gates, *g)
		switch {
		case g.Verdict == Regression:
			rep.Verdict = Regression
		case g.Verdict == Inconclusive && g.Scope == "overall" && rep.Verdict == Pass:
			rep.Verdict = Inconclusive
		}
	}
	return rep, nil
}

// setTest prepares the test of a gate; finish runs it once the family is known.
func (g *Gate) setTest(t *shiftTest, threshold *float64, logScale bool) {
	g.Threshold = threshold
	g.P, g.PAdj, g.Change, g.Lo, g.Hi = nan(), nan(), nan(), nan(), nan()
	if !t.usable() {
		g.Verdict = Inconclusive
		if threshold == nil {
			g.Verdict = Info
		}
		g.Note = joinNote(g.Note, "no samples on one side")
		return
	}
	g.tested = true
	p, _ := t.eval(0)
	g.P = Num(p)
	g.test = t
	g.logScale = logScale
}

func (g *Gate) finish(level, alpha float64) {
	r := g.test.estimate(level)
	conv := func(d float64) float64 {
		if g.logScale {
			return math.Exp(d) - 1 // ±Inf maps to +Inf and −1
		}
		return d
	}
	g.Change, g.Lo, g.Hi = Num(conv(r.Estimate)), Num(conv(r.Lo)), Num(conv(r.Hi))
	if g.Threshold == nil {
		g.Verdict = Info
		return
	}
	t := *g.Threshold
	lo, hi := float64(g.Lo), float64(g.Hi)
	significant := float64(g.PAdj) < alpha
	if g.Metric == MetricBestBefore {
		// A drop is the regression: change below −t.
		switch {
		case lo >= -t:
			g.Verdict = Pass
		case hi < -t && significant:
			g.Verdict = Regression
		default:
			g.Verdict = Inconclusive
		}
		return
	}
	switch {
	case hi <= t:
		g.Verdict = Pass
	case lo > t && significant:
		g.Verdict = Regression
	default:
		g.Verdict = Inconclusive
	}
}

// bestBeforeGate compares the best-before QPS of the runs. With enough
// runs on each side for the rank test to reach the family's level it is a
// tested gate; otherwise it is judged by judgeByEvidence.
func bestBeforeGate(base, cand *Side, cfg Config) *Gate {
	g := &Gate{ID: "overall/" + MetricBestBefore, Metric: MetricBestBefore, Scope: "overall", Unit: "qps"}
	b, c := bestBefores(base), bestBefores(cand)
	g.Base, g.Cand = estimateOf(b), estimateOf(c)
	g.Threshold = cfg.threshold(MetricBestBefore)
	g.P, g.PAdj, g.Change, g.Lo, g.Hi = nan(), nan(), nan(), nan(), nan()
	if mb, mc := median(b), median(c); mb > 0 {
		g.Change = Num(mc/mb - 1)
	}
	if g.Threshold == nil {
		g.Verdict = Info
		return g
	}
	if len(b) >= 2 && len(c) >= 2 {
		t := newShiftTest([]stratum{{logs(floor(b)), logs(floor(c))}})
		// The family is at most every gate; a test that cannot reach
		// α even alone is left to the step-level evidence.
		if t.minP() < cfg.Alpha {
			g.Method = "Mann–Whitney U over runs, log scale"
			g.setTest(t, g.Threshold, true)
			return g
		}
	}
	g.Method = "step-level evidence"
	return g
}

// judgeByEvidence decides the best-before gate when there are too few runs
// for a test of the best-before values themselves: a measured drop within
// the threshold passes (the candidate met its objectives at that rate); a
// larger drop is a regression only when a gated step between the two
// best-befores regressed, inconclusive otherwise.
func (g *Gate) judgeByEvidence(gates []*Gate, cfg Config) {
	t := *g.Threshold
	b, c := float64(g.Base.Value), float64(g.Cand.Value)
	if !(b > 0) {
		g.Verdict = Inconclusive
		g.Note = "the baseline found no best-before QPS"
		return
	}
	change := c/b - 1
	g.Change = Num(change)
	if change >= -t {
		g.Verdict = Pass
		g.Note = fmt.Sprintf("too few runs for a test (%d vs %d); the candidate met its objectives up to %s qps", g.Base.N, g.Cand.N, fmtQPS(c))
		return
	}
	var confirmed []string
	for _, s := range gates {
		if s.Scope == "step" && s.Verdict == Regression && s.StepQPS > c*(1+rateTolerance) && s.StepQPS <= b*(1+rateTolerance) {
			confirmed = append(confirmed, s.ID)
		}
	}
	if len(confirmed) > 0 {
		g.Verdict = Regression
		g.Note = "drop confirmed by step-level regressions: " + joinList(confirmed)
		return
	}
	g.Verdict = Inconclusive
	g.Note = fmt.Sprintf("too few runs for a test (%d vs %d) and no step-level regression between %s and %s qps confirms the drop", g.Base.N, g.Cand.N, fmtQPS(c), fmtQPS(b))
}

func bestBefores(s *Side) []float64 {
	out := make([]float64, 0, len(s.Runs))
	for _, r := range s.Runs {
		q := 0.0
		if r.BestBefore.Found {
			q = r.BestBefore.QPS
		}
		out = append(out, q)
	}
	return out
}

// floor keeps "no best-before" (0) finite on the log scale.
func floor(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Max(x, 1e-3)
	}
	return out
}

// rateTolerance is how far apart two offered rates may be and still be the
// same step.
const rateTolerance = 0.005

func sameRate(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= rateTolerance*math.Max(math.Abs(a), math.Abs(b))
}

func scenarioName(base, cand *Side) (string, error) {
	name := base.Runs[0].Name
	for _, s := range []*Side{base, cand} {
		for i, r := range s.Runs {
			if r.Name != name {
				return "", &InputError{Path: s.Paths[i], Msg: fmt.Sprintf("scenario %q differs from %q in %s; compare runs of the same scenario", r.Name, name, base.Paths[0])}
			}
		}
	}
	return name, nil
}

// collectSteps pools the per-interval samples of a side by offered rate.
// Hold steps (node loss) are not part of the ramp and are left out.
func collectSteps(s *Side) ([]*stepData, error) {
	var out []*stepData
	find := func(q float64) *stepData {
		for _, d := range out {
			if sameRate(d.qps, q) {
				return d
			}
		}
		d := &stepData{qps: q}
		out = append(out, d)
		return d
	}
	for i, r := range s.Runs {
		seen := map[*stepData]bool{}
		for si, st := range r.Steps {
			if st.Phase == result.PhaseHold || !(st.OfferedQPS > 0) {
				continue
			}
			d := find(st.OfferedQPS)
			if !seen[d] {
				seen[d] = true
				d.runs++
				if st.SLOPass {
					d.passes++
				}
			}
			d.requests += st.Requests
			d.errors += st.Errors
			if len(st.Intervals) == 0 {
				// No interval histograms: the step itself is one sample.
				if st.Requests > 0 {
					d.err = append(d.err, float64(st.Errors)/float64(st.Requests))
				}
				if st.LatencyMS.P99 > 0 {
					d.p50 = append(d.p50, st.LatencyMS.P50)
					d.p99 = append(d.p99, st.LatencyMS.P99)
					d.p999 = append(d.p999, st.LatencyMS.P999)
				}
				continue
			}
			for ii, iv := range st.Intervals {
				if iv.Requests > 0 {
					d.err = append(d.err, float64(iv.Errors)/float64(iv.Requests))
				}
				h, err := stats.Decode(iv.Histogram)
				if err != nil {
					return nil, &InputError{Path: s.Paths[i], Msg: fmt.Sprintf("corrupt result: steps[%d].intervals[%d].histogram", si, ii), Err: err}
				}
				if h.TotalCount() == 0 {
					continue
				}
				d.p50 = append(d.p50, stats.QuantileMS(h, 50))
				d.p99 = append(d.p99, stats.QuantileMS(h, 99))
				d.p999 = append(d.p999, stats.QuantileMS(h, 99.9))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].qps < out[j].qps })
	return out, nil
}

func rates(steps []*stepData) string {
	if len(steps) == 0 {
		return "no steps"
	}
	var qs []string
	for _, s := range steps {
		qs = append(qs, fmtQPS(s.qps))
	}
	return joinList(qs) + " qps"
}

func estimateOf(xs []float64) Estimate {
	e := Estimate{Value: Num(median(xs)), Spread: nan(), N: len(xs)}
	lo, hi := medianCI(xs)
	if m := median(xs); m > 0 && !math.IsNaN(lo) {
		e.Spread = Num(math.Max(m-lo, hi-m) / m)
	}
	return e
}

func logs(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if x > 0 {
			out = append(out, math.Log(x))
		}
	}
	return out
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func nan() Num { return Num(math.NaN()) }

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func joinList(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
