// Package compare is the CI gate: it decides whether a candidate run is a
// regression against a baseline, with statistics rather than single numbers.
//
// Latency gates read every request of each matched step (a percentile of
// the step's histogram with its order-statistic error), the runs' own
// spread or the machine's noise floor, and, for a live A/B result, the
// pairing of its sides; error rates are proportions widened by their
// dispersion; the best-before QPS is a rank test over repeated runs, or
// judged on the steps. Every gate gets an interval, Holm–Bonferroni
// corrected (overall and step gates as two families), and is judged
// against its threshold: regression only when the change is significant
// and its whole interval lies beyond the threshold, pass when the whole
// interval lies within it, inconclusive otherwise, saying what would
// decide it. See adr/0028-gate-uses-every-request-runs-noise-floor-and-pairing.md.
package compare

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

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
	// MetricTTFTP99 and MetricITLP99 are the p99 of the time to first
	// token and of the gaps between tokens, compared when both sides
	// streamed.
	MetricTTFTP99 = "ttft_p99"
	MetricITLP99  = "itl_p99"
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
	// MaxTTFTP99Increase and MaxITLP99Increase gate the time to first
	// token and between tokens (relative, as the latency percentiles),
	// when both sides streamed.
	MaxTTFTP99Increase *float64
	MaxITLP99Increase  *float64
	// MaxBestBeforeDrop is the tolerated relative drop of the best-before QPS.
	MaxBestBeforeDrop *float64
	// MaxErrorRateIncrease is the tolerated absolute increase of the error
	// rate (0.001 = 0.1 percentage points).
	MaxErrorRateIncrease *float64
	// Noise is the run-to-run noise floor of latency percentiles
	// (DefaultNoiseFloor when zero).
	Noise NoiseFloor
	// Paired compares the two sides of one live A/B run step by step and
	// interval by interval: the machine's noise, shared by both, cancels.
	Paired bool
	// RequireSameMachine refuses sides measured on different machines
	// (CPU model, core count) as an input error; without it the report
	// says they differ, in every format (ADR 34).
	RequireSameMachine bool
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
		Noise:                DefaultNoiseFloor,
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
		{"max-ttft-p99-increase", c.MaxTTFTP99Increase},
		{"max-itl-p99-increase", c.MaxITLP99Increase},
		{"max-best-before-drop", c.MaxBestBeforeDrop},
		{"max-error-rate-increase", c.MaxErrorRateIncrease},
		{"noise-floor p50", &c.Noise.P50},
		{"noise-floor p99", &c.Noise.P99},
		{"noise-floor p99.9", &c.Noise.P999},
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
	case MetricTTFTP99:
		return c.MaxTTFTP99Increase
	case MetricITLP99:
		return c.MaxITLP99Increase
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
	f, err := result.Open(path)
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
	// Detectable is the half-width of the interval, on the change's
	// scale: the smallest change beyond the threshold this comparison
	// could call, and how close to it a pass must lie.
	Detectable Num `json:"detectable"`
	// Needs says, for an inconclusive gate, what would let it decide:
	// more runs, or longer steps.
	Needs string `json:"needs,omitempty"`
	// Unresolved marks an inconclusive gate whose interval is wider than
	// its threshold, with an estimate within it (0 errors against 0 on
	// a short run): it cannot decide, so it leaves the verdict to the
	// gates that can.
	Unresolved bool `json:"unresolved,omitempty"`

	tested   bool // a test was run (part of the Holm family when gated)
	test     *shiftTest
	logScale bool
	// normal gates: the estimated difference and its standard error (on
	// the log scale for latency), and the two sides behind them.
	normal bool
	d, se  float64
	lb, lc level
	stepS  float64
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
	// Tests is the size of the overall gates' Holm–Bonferroni family, and
	// Confidence the level of their intervals (1 − α/Tests); StepTests and
	// StepConfidence the same for the step gates' family.
	Tests          int     `json:"tests"`
	Confidence     float64 `json:"confidence"`
	StepTests      int     `json:"step_tests"`
	StepConfidence float64 `json:"step_confidence"`
	// Verdict is regression when any gate regressed, inconclusive when an
	// overall gate is, pass otherwise.
	Verdict Verdict  `json:"verdict"`
	Gates   []Gate   `json:"gates"`
	Notes   []string `json:"notes,omitempty"`
	// Noise is the noise floor the latency gates assumed; Paired is set
	// for a live A/B comparison, where the floor is pairFloor.
	Noise  NoiseFloor `json:"noise_floor"`
	Paired bool       `json:"paired,omitempty"`
	// Machines are the machines each side's runs were measured on ("CPU
	// model ×cores", distinct, in order); SameMachine says both sides
	// ran on one and the same.
	Machines    map[string][]string `json:"machines"`
	SameMachine bool                `json:"same_machine"`
}

// Machine is a run's machine as compare tells machines apart: its CPU
// model and core count ("unknown" when the result does not say).
func Machine(r *result.Result) string {
	m := r.Manifest.CPUModel
	if m == "" {
		m = "unknown CPU"
	}
	return fmt.Sprintf("%s ×%d", m, r.Manifest.CPUs)
}

// machines lists the distinct machines of a side's runs, in order.
func machines(s *Side) []string {
	var out []string
	for _, r := range s.Runs {
		if m := Machine(r); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
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

// stepData is one side's measurements at one offered rate, run by run.
type stepData struct {
	qps              float64
	passes, runs     int
	requests, errors int64
	// stepS is the measured length of the step, seconds.
	stepS float64
	byRun map[int]*stepRun
}

// stepRun is one run's step: the log of each percentile over every
// request of the step with its sampling standard error, the error counts,
// and per interval the same (for the paired comparison and the
// dispersion of errors).
type stepRun struct {
	q                [5]runQ // percentiles' order: p50, p99, p99.9, TTFT p99, ITL p99
	requests, errors int64
	ivReq, ivErr     []int64
	// trend holds the step's trend slices (ten, by intended send time):
	// the blocks of the paired comparison's bootstrap.
	trend []*hdrhistogram.Histogram
}

type runQ struct {
	x, se float64
	ok    bool
}

// percentiles are the latency metrics, in the order of stepRun.q: of
// every request's latency, then (stream set) of the streamed responses'
// time to first token and gaps between tokens.
var percentiles = []struct {
	metric string
	q      float64
	stream string
}{{MetricP50, 50, ""}, {MetricP99, 99, ""}, {MetricP999, 99.9, ""}, {MetricTTFTP99, 99, "ttft"}, {MetricITLP99, 99, "itl"}}

// streamHistogram is a step's encoded histogram of a stream figure, ""
// when the step streamed nothing.
func streamHistogram(st *result.Step, which string) string {
	if st.Stream == nil || st.Stream.Responses == 0 {
		return ""
	}
	if which == "ttft" {
		return st.Stream.TTFTHistogram
	}
	return st.Stream.ITLHistogram
}

// streamed says some step of some run of s streamed.
func streamed(s *Side) bool {
	for _, r := range s.Runs {
		for i := range r.Steps {
			if streamHistogram(&r.Steps[i], "ttft") != "" {
				return true
			}
		}
	}
	return false
}

type pair struct{ b, c *stepData }

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
	bm, cm := machines(base), machines(cand)
	same := len(bm) == 1 && slices.Equal(bm, cm)
	differ := ""
	if !same {
		differ = fmt.Sprintf("the sides ran on different machines (baseline: %s; candidate: %s): a change may be the machine's, not the code's; measure the baseline on the candidate's machine (--baseline-from-history, or run both in one job)", strings.Join(bm, ", "), strings.Join(cm, ", "))
		if cfg.RequireSameMachine && !cfg.Paired {
			return nil, &InputError{Path: cand.Label, Msg: differ + "; --require-same-machine refuses to compare them"}
		}
	}
	bSteps, err := collectSteps(base)
	if err != nil {
		return nil, err
	}
	cSteps, err := collectSteps(cand)
	if err != nil {
		return nil, err
	}
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
		Machines:  map[string][]string{"baseline": bm, "candidate": cm},
		// A live A/B run measures both sides at once on one machine.
		SameMachine: same || cfg.Paired,
	}
	if differ != "" && !cfg.Paired {
		rep.Notes = append(rep.Notes, differ)
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

	noise := cfg.Noise
	if noise == (NoiseFloor{}) {
		noise = DefaultNoiseFloor
	}
	rep.Noise, rep.Paired = noise, cfg.Paired
	if cfg.Paired {
		rep.Notes = append(rep.Notes, fmt.Sprintf("paired comparison of a live A/B run: each step's sides are compared request for request and interval by interval, the machine's noise shared; floor %s", fmtPct(pairFloor)))
	} else {
		rep.Notes = append(rep.Notes, fmt.Sprintf("percentiles over every request of a step; run-to-run noise floor p50 %s, p99 %s, p99.9 %s (%s)", fmtPct(noise.P50), fmtPct(noise.P99), fmtPct(noise.P999), noise.Source))
	}
	bRuns, cRuns := len(base.Runs), len(cand.Runs)

	// Overall gates first: best-before, then latency and error rate over
	// the operating range, on the steps every run of both sides measured.
	var common []pair
	for _, p := range inRange {
		if len(p.b.byRun) == len(base.Runs) && len(p.c.byRun) == len(cand.Runs) {
			common = append(common, p)
		}
	}
	if len(common) == 0 {
		common = inRange
	}
	bs, cs := make([]*stepData, 0, len(common)), make([]*stepData, 0, len(common))
	for _, p := range common {
		bs, cs = append(bs, p.b), append(cs, p.c)
	}
	bb := bestBeforeGate(base, cand, cfg)
	gates := []*Gate{bb}
	streams := streamed(base) && streamed(cand)
	for qi, pc := range percentiles {
		if pc.stream != "" && !streams {
			continue
		}
		g := &Gate{ID: "overall/" + pc.metric, Metric: pc.metric, Scope: "overall", Unit: "ms"}
		g.latency(qi, bs, cs, bRuns, cRuns, noise.of(pc.metric), cfg.Paired)
		g.Note = fmt.Sprintf("geometric mean over %d steps", len(common))
		g.Threshold = cfg.threshold(pc.metric)
		gates = append(gates, g)
	}
	{
		g := &Gate{ID: "overall/" + MetricErrorRate, Metric: MetricErrorRate, Scope: "overall", Unit: "ratio", Absolute: true}
		g.errorRate(bs, cs, bRuns, cRuns)
		g.Note = "errors / requests over the gated steps"
		g.Threshold = cfg.threshold(MetricErrorRate)
		gates = append(gates, g)
	}
	gatedRate := map[float64]bool{}
	for _, p := range inRange {
		gatedRate[p.b.qps] = true
	}
	for _, p := range matched {
		gated := gatedRate[p.b.qps]
		for qi, pc := range percentiles {
			if pc.stream != "" && !streams {
				continue
			}
			g := &Gate{ID: fmt.Sprintf("step/%sqps/%s", fmtQPS(p.b.qps), pc.metric), Metric: pc.metric, Scope: "step", StepQPS: p.b.qps, Unit: "ms"}
			g.latency(qi, []*stepData{p.b}, []*stepData{p.c}, bRuns, cRuns, noise.of(pc.metric), cfg.Paired)
			g.Threshold = cfg.threshold(pc.metric)
			if !gated {
				g.Threshold = nil
				g.Note = "beyond the baseline's operating range"
			}
			gates = append(gates, g)
		}
		g := &Gate{ID: fmt.Sprintf("step/%sqps/%s", fmtQPS(p.b.qps), MetricErrorRate), Metric: MetricErrorRate, Scope: "step", StepQPS: p.b.qps, Unit: "ratio", Absolute: true}
		g.errorRate([]*stepData{p.b}, []*stepData{p.c}, bRuns, cRuns)
		g.Threshold = cfg.threshold(MetricErrorRate)
		if !gated {
			g.Threshold = nil
			g.Note = "beyond the baseline's operating range"
		}
		gates = append(gates, g)
	}
	for _, g := range gates {
		if g.normal && !g.tested {
			g.Verdict = Inconclusive
			if g.Threshold == nil {
				g.Verdict = Info
			}
			g.Note = joinNote(g.Note, "no samples on one side")
		}
	}

	// Two families, each Holm–Bonferroni corrected with intervals at its
	// Bonferroni level: the overall gates, which decide the verdict, and
	// the step gates, which say where a change is (and fail the gate when
	// one step regressed beyond its threshold). A false regression needs a
	// whole interval beyond a threshold, not merely a significant change;
	// the rates the harness measures are in docs/ci.md.
	for _, scope := range []string{"overall", "step"} {
		var ps []float64
		var fam []*Gate
		for _, g := range gates {
			if g.Scope == scope && g.tested && g.Threshold != nil {
				ps = append(ps, float64(g.P))
				fam = append(fam, g)
			}
		}
		level := cfg.Alpha / float64(max(1, len(fam)))
		if scope == "overall" {
			rep.Tests, rep.Confidence = len(fam), 1-level
		} else {
			rep.StepTests, rep.StepConfidence = len(fam), 1-level
		}
		for i, adj := range holm(ps) {
			fam[i].PAdj = Num(adj)
		}
		for _, g := range gates {
			if g.Scope == scope && g.tested {
				g.finish(level, cfg.Alpha)
			}
		}
	}
	if bb.Verdict == "" {
		bb.judgeByEvidence(gates, cfg)
	}

	// Regression when any gate regressed; otherwise pass when an overall
	// gate decided pass and every other one passed or could not resolve
	// its threshold; inconclusive when one could and did not decide, or
	// none decided at all.
	rep.Verdict = Pass
	decided := false
	for _, g := range gates {
		rep.Gates = append(rep.Gates, *g)
		switch {
		case g.Verdict == Regression:
			rep.Verdict = Regression
		case g.Scope != "overall":
		case g.Verdict == Pass:
			decided = true
		case g.Verdict == Inconclusive && !g.Unresolved && rep.Verdict == Pass:
			rep.Verdict = Inconclusive
		}
	}
	if rep.Verdict == Pass && !decided {
		rep.Verdict = Inconclusive
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
	conv := func(d float64) float64 {
		if g.logScale {
			return math.Exp(d) - 1 // ±Inf maps to +Inf and −1
		}
		return d
	}
	if g.normal {
		z := zOf(level)
		h := z * g.se
		g.Change, g.Lo, g.Hi = Num(conv(g.d)), Num(conv(g.d-h)), Num(conv(g.d+h))
		g.Detectable = Num(conv(h))
	} else {
		r := g.test.estimate(level)
		g.Change, g.Lo, g.Hi = Num(conv(r.Estimate)), Num(conv(r.Lo)), Num(conv(r.Hi))
	}
	if g.Threshold == nil {
		g.Verdict = Info
		return
	}
	t := *g.Threshold
	lo, hi := float64(g.Lo), float64(g.Hi)
	significant := float64(g.PAdj) < alpha
	// An overall gate whose change is significant and whose estimate lies
	// beyond the threshold is a regression, as benchstat-style gates
	// judge it; requiring the whole interval beyond the threshold left a
	// single run's 20% slowdown undecided (ADR 31). The false regressions
	// this rule gives are measured (docs/ci.md).
	change := float64(g.Change)
	if g.Scope != "overall" {
		// Step gates, many and each a chance of a false alarm, still
		// need their whole interval beyond the threshold.
		change = lo
		if g.Metric == MetricBestBefore {
			change = hi
		}
	}
	if g.Metric == MetricBestBefore {
		// A drop is the regression: change below −t.
		switch {
		case lo >= -t:
			g.Verdict = Pass
		case significant && change < -t:
			g.Verdict = Regression
		default:
			g.Verdict = Inconclusive
		}
		return
	}
	switch {
	case hi <= t:
		g.Verdict = Pass
	case significant && change > t:
		g.Verdict = Regression
	default:
		g.Verdict = Inconclusive
		ts := t
		if g.logScale {
			ts = math.Log1p(t)
		}
		if g.normal {
			g.Needs = needs(g.lb, g.lc, ts, zOf(level), g.stepS)
		}
		if g.normal && change <= t && float64(g.Detectable) > t {
			// The run cannot resolve the threshold: say what it could
			// see and what would decide it, and leave the verdict to the
			// gates that can decide.
			g.Unresolved = true
			level := func(v float64) string {
				if g.Absolute {
					return fmtPct(v)
				}
				return fmtFloat(v) + " " + g.Unit
			}
			g.Note = joinNote(g.Note, fmt.Sprintf("cannot resolve %s: %s → %s, only a rise beyond %s would be seen; the other gates decide; to decide at %s: %s",
				fmtChange(t, g.Absolute), level(float64(g.Base.Value)), level(float64(g.Cand.Value)),
				fmtChange(float64(g.Detectable), g.Absolute), fmtChange(t, g.Absolute), g.Needs))
			return
		}
		if g.normal {
			g.Note = joinNote(g.Note, fmt.Sprintf("detectable: changes beyond ±%s of the threshold (the interval's half-width); to decide at %s: %s",
				strings.TrimPrefix(fmtChange(float64(g.Detectable), g.Absolute), "+"), fmtChange(t, g.Absolute), g.Needs))
		}
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

// collectSteps gathers a side's measurements by offered rate, run by run.
// Hold steps (node loss) are not part of the ramp and are left out.
func collectSteps(s *Side) ([]*stepData, error) {
	var out []*stepData
	find := func(q float64) *stepData {
		for _, d := range out {
			if sameRate(d.qps, q) {
				return d
			}
		}
		d := &stepData{qps: q, byRun: map[int]*stepRun{}}
		out = append(out, d)
		return d
	}
	for i, r := range s.Runs {
		for si, st := range r.Steps {
			if st.Phase == result.PhaseHold || !(st.OfferedQPS > 0) || st.Remeasured || st.Partial {
				continue // a re-measured step's verdict is the next one's at its rate
			}
			d := find(st.OfferedQPS)
			if d.byRun[i] != nil {
				continue // a rate measured twice in one run: the first counts
			}
			d.runs++
			if st.SLOPass {
				d.passes++
			}
			d.requests += st.Requests
			d.errors += st.Errors
			if d.stepS == 0 {
				d.stepS = st.DurationS
			}
			sr := &stepRun{requests: st.Requests, errors: st.Errors}
			d.byRun[i] = sr
			corrupt := func(field string, err error) error {
				return &InputError{Path: s.Paths[i], Msg: fmt.Sprintf("corrupt result: steps[%d].%s", si, field), Err: err}
			}
			h, err := stats.Decode(st.Histogram)
			if err != nil {
				return nil, corrupt("histogram", err)
			}
			for qi, pc := range percentiles {
				src := h
				if pc.stream != "" {
					enc := streamHistogram(&st, pc.stream)
					if enc == "" {
						continue
					}
					if src, err = stats.Decode(enc); err != nil {
						return nil, corrupt("stream."+pc.stream+"_histogram", err)
					}
				}
				x, se, ok := quantileOf(src, pc.q)
				sr.q[qi] = runQ{x, se, ok}
			}
			for _, iv := range st.Intervals {
				sr.ivReq = append(sr.ivReq, iv.Requests)
				sr.ivErr = append(sr.ivErr, iv.Errors)
			}
			for ti, tr := range st.Trend {
				th, err := stats.Decode(tr.Histogram)
				if err != nil {
					return nil, corrupt(fmt.Sprintf("trend[%d].histogram", ti), err)
				}
				sr.trend = append(sr.trend, th)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].qps < out[j].qps })
	return out, nil
}

// latency sets up a normal gate of percentile qi over the steps (one for a
// step gate, the common gated steps for an overall one): per run, the mean
// over the steps of the log percentile of every request of the step, with
// its sampling variance; per side, the mean over runs with the variance of
// that mean (levelOf: the runs' own spread, never below the noise floor).
// Paired (a live A/B run, one run a side), the difference is taken step by
// step, its variance from a paired bootstrap over the step's trend slices,
// over a small floor. bRuns and cRuns are the sides' numbers of runs.
func (g *Gate) latency(qi int, bs, cs []*stepData, bRuns, cRuns int, floor float64, paired bool) {
	g.normal, g.logScale = true, true
	g.P, g.PAdj, g.Change, g.Lo, g.Hi, g.Detectable = nan(), nan(), nan(), nan(), nan(), nan()
	if len(bs) > 0 {
		g.stepS = bs[0].stepS
	}
	perRun := func(steps []*stepData, runs int) (xs, samp []float64) {
		for r := range runs {
			var sx, sv float64
			n := 0
			for _, st := range steps {
				sr := st.byRun[r]
				if sr == nil || !sr.q[qi].ok {
					continue
				}
				sx += sr.q[qi].x
				sv += sr.q[qi].se * sr.q[qi].se
				n++
			}
			if n == 0 {
				continue
			}
			xs = append(xs, sx/float64(n))
			samp = append(samp, sv/float64(n*n))
		}
		return xs, samp
	}
	bx, bv := perRun(bs, bRuns)
	cx, cv := perRun(cs, cRuns)
	if len(bx) == 0 || len(cx) == 0 {
		return
	}
	g.Base = Estimate{Value: Num(math.Exp(mean(bx))), Spread: nan(), N: len(bx)}
	g.Cand = Estimate{Value: Num(math.Exp(mean(cx))), Spread: nan(), N: len(cx)}
	if paired {
		g.Method = "paired: step quantiles of every request, intervals matched, log scale"
		g.lb, g.lc = levelOf(bx, bv, pairFloor/math.Sqrt2), levelOf(cx, cv, pairFloor/math.Sqrt2)
		// Step by step, the variance of the difference: a paired block
		// bootstrap over the step's trend slices, both sides' slices drawn
		// together, so what the sides share (the machine, the moment, the
		// requests) cancels as it does in the difference itself. Without
		// slices, the two sides' sampling variances, as if independent.
		var v float64
		n := 0
		for k := range bs {
			b, c := bs[k].byRun[0], cs[k].byRun[0]
			if b == nil || c == nil || !b.q[qi].ok || !c.q[qi].ok {
				continue
			}
			vk, ok := 0.0, false
			if percentiles[qi].stream == "" { // the trend slices hold latencies
				vk, ok = pairedBootstrap(b.trend, c.trend, percentiles[qi].q)
			}
			if !ok {
				vk = b.q[qi].se*b.q[qi].se + c.q[qi].se*c.q[qi].se
			}
			v += vk + pairFloor*pairFloor
			n++
		}
		if n == 0 {
			return
		}
		g.d = mean(cx) - mean(bx)
		g.se = math.Sqrt(v) / float64(n)
	} else {
		g.Method = "percentiles of every request per step, runs and noise floor, log scale"
		g.lb, g.lc = levelOf(bx, bv, floor), levelOf(cx, cv, floor)
		pool(&g.lb, &g.lc)
		g.d = g.lc.mean - g.lb.mean
		g.se = math.Sqrt(g.lb.varMean + g.lc.varMean)
	}
	g.tested = true
	g.P = Num(pOf(g.d / g.se))
}

// errorRate sets up a normal gate of the error rate over the steps: each
// side's errors over its requests, with the binomial variance widened by
// the over-dispersion its intervals show (errors come in bursts), and by
// the runs' own spread when there are enough of them (levelOf).
func (g *Gate) errorRate(bs, cs []*stepData, bRuns, cRuns int) {
	g.normal = true
	g.Method = "errors over requests, binomial widened by interval dispersion and runs"
	g.P, g.PAdj, g.Change, g.Lo, g.Hi, g.Detectable = nan(), nan(), nan(), nan(), nan(), nan()
	if len(bs) > 0 {
		g.stepS = bs[0].stepS
	}
	side := func(steps []*stepData, runs int) (level, bool) {
		var req, errs int64
		var rates []float64
		var ivReq, ivErr []int64
		for r := range runs {
			var rr, re int64
			for _, st := range steps {
				if sr := st.byRun[r]; sr != nil {
					rr, re = rr+sr.requests, re+sr.errors
					ivReq, ivErr = append(ivReq, sr.ivReq...), append(ivErr, sr.ivErr...)
				}
			}
			if rr == 0 {
				continue
			}
			req, errs = req+rr, errs+re
			rates = append(rates, float64(re)/float64(rr))
		}
		if req == 0 {
			return level{}, false
		}
		p := (float64(errs) + 0.5) / (float64(req) + 1)
		phi := dispersion(ivReq, ivErr, float64(errs)/float64(req))
		// The sampling variance of one run's rate, on its share of the
		// requests.
		perRun := phi * p * (1 - p) * float64(len(rates)) / float64(req)
		l := levelOf(rates, slices.Repeat([]float64{perRun}, len(rates)), 0)
		l.mean = float64(errs) / float64(req)
		return l, true
	}
	lb, okb := side(bs, bRuns)
	lc, okc := side(cs, cRuns)
	if !okb || !okc {
		return
	}
	g.lb, g.lc = lb, lc
	g.Base = Estimate{Value: Num(lb.mean), Spread: nan(), N: lb.k}
	g.Cand = Estimate{Value: Num(lc.mean), Spread: nan(), N: lc.k}
	g.d = lc.mean - lb.mean
	g.se = math.Sqrt(lb.varMean + lc.varMean)
	g.tested = true
	g.P = Num(pOf(g.d / g.se))
}

// dispersion is the over-dispersion of errors across intervals: the
// Pearson χ² of the interval counts against a common rate p over its
// degrees of freedom, at least 1 (pure binomial).
func dispersion(req, errs []int64, p float64) float64 {
	if p <= 0 || p >= 1 || len(req) < 2 {
		return 1
	}
	var chi float64
	n := 0
	for i := range req {
		if req[i] == 0 {
			continue
		}
		e := float64(req[i]) * p
		d := float64(errs[i]) - e
		chi += d * d / (e * (1 - p))
		n++
	}
	if n < 2 {
		return 1
	}
	return math.Max(1, chi/float64(n-1))
}

func variance(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	m := mean(xs)
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return ss / float64(len(xs)-1)
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
