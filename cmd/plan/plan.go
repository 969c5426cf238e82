// Package plan is the `bestbefore plan` command: N-1 headroom, growth
// projection and the best-before date from a result.
package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/capacity"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/peakload"
	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Options holds the flags of `plan`.
type Options struct {
	IO *iostreams.IOStreams
	// Now is the clock, used when --now is not given.
	Now func() time.Time

	ResultPath string
	// CurrentQPS is today's mean load, in the plan's Unit.
	CurrentQPS float64
	// Unit is "requests" (the default) or "tokens": the best-before, the
	// load and the history's peaks in output tokens per second.
	Unit         string
	Doubling     string
	Growth       string
	PeakFactor   float64
	Nodes        int
	SafetyMargin float64
	Horizon      string
	Date         string
	History      string
	Level        float64
	JSON         bool
	// HTMLPath and MarkdownPath, when set, receive the plan's page and
	// Markdown with charts (report.PlanHTML, report.PlanMarkdown).
	HTMLPath     string
	MarkdownPath string
	// Version stamps the pages.
	Version string
	// Prometheus, Query, Lookback and Resolution fetch the daily peaks
	// from a Prometheus server instead of a CSV.
	Prometheus  string
	Query       string
	Lookback    string
	Resolution  time.Duration
	AllowPublic bool

	// Which flags were given, for defaults that come from the result.
	CurrentSet, PeakFactorSet, NodesSet, MarginSet bool
}

// NewCmdPlan builds `plan`; runF replaces the action in tests.
func NewCmdPlan(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Now: time.Now, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "plan RESULT.json",
		Short: "N-1 headroom, growth projection and the best-before date",
		Long: `plan reads a result and answers: if one node goes down, can the others
carry today's peak, and on what date will growth make the answer no?

Per-node capacity is best_before.qps / nodes; the N-1 capacity is
per-node × (nodes − 1) × safety margin. Today's peak is --current-qps ×
--peak-factor. The best-before date is when the projected peak reaches the
N-1 capacity (today if it already does; none if not within --horizon).

Growth is one of:
  --doubling 60d          the load doubles every 60 days (also 8w, 6mo, 1y)
  --growth 5%/week        compound growth per day, week, month (30d) or year (365d)
  --history peaks.csv     fitted to a CSV "date,peak_qps" of past peaks (or
                          "date,peak_tokens_per_s" with --unit tokens), with a
                          confidence range for the date (--level, default 90%)
  --prometheus URL --query 'sum(rate(http_requests_total[5m]))' [--lookback 90d]
                          fitted to the daily peaks of that query (each whole
                          day's max_over_time), like --history; the server is
                          on loopback or a private address unless --allow-public`,
		Example: `  bestbefore plan reports/demo/result.json --current-qps 300 --peak-factor 1.8 --doubling 60d
  bestbefore plan result.json --history peaks.csv --horizon 1y --json
  bestbefore plan result.json --history peaks.csv --html plan.html --md plan.md
  bestbefore plan result.json --prometheus http://127.0.0.1:9090 --query 'sum(rate(http_requests_total{job="predict"}[5m]))' --lookback 90d`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ResultPath = args[0]
			fl := cmd.Flags()
			opts.CurrentSet = fl.Changed("current-qps")
			opts.PeakFactorSet = fl.Changed("peak-factor")
			opts.NodesSet = fl.Changed("nodes")
			opts.MarginSet = fl.Changed("safety-margin")
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	fl := cmd.Flags()
	fl.Float64Var(&opts.CurrentQPS, "current-qps", 0, "today's mean load in QPS, or in output tokens/s with --unit tokens (required unless --history)")
	fl.StringVar(&opts.Unit, "unit", "requests", "requests: plan in requests per second; tokens: in output tokens per second, from the best-before in tokens of a service that streams (LLM capacity grows in tokens)")
	cmdutil.FixedValues(cmd, "unit", "requests", "tokens")
	fl.StringVar(&opts.Doubling, "doubling", "", "growth as a doubling time, e.g. 60d, 8w, 1y")
	fl.StringVar(&opts.Growth, "growth", "", "growth as compound percent per period, e.g. 5%/week, 0.5%/day, 10%/month")
	fl.Float64Var(&opts.PeakFactor, "peak-factor", 1, "peak load over mean load")
	fl.IntVar(&opts.Nodes, "nodes", 0, "node count the best-before was measured on (default: the result's best_before.nodes)")
	fl.Float64Var(&opts.SafetyMargin, "safety-margin", 0, "share of measured capacity to use, in (0, 1] (default: the result's)")
	fl.StringVar(&opts.Horizon, "horizon", "180d", "how far ahead to look, e.g. 180d, 26w, 1y")
	fl.StringVar(&opts.Date, "now", "", "planning date, YYYY-MM-DD (default: today)")
	fl.StringVar(&opts.History, "history", "", "CSV of past peaks (header date,peak_qps) to fit growth from")
	fl.Float64Var(&opts.Level, "level", 0.9, "confidence level of the --history date range, in (0, 1)")
	fl.BoolVar(&opts.JSON, "json", false, "print the plan as JSON on stdout")
	fl.StringVar(&opts.Prometheus, "prometheus", "", "fit growth to the daily peaks of --query on this Prometheus server (URL)")
	fl.StringVar(&opts.Query, "query", "", "with --prometheus: the load in QPS, one series, e.g. sum(rate(http_requests_total[5m]))")
	fl.StringVar(&opts.Lookback, "lookback", "90d", "with --prometheus: how many days of peaks to fit, e.g. 90d, 26w")
	fl.DurationVar(&opts.Resolution, "resolution", 5*time.Minute, "with --prometheus: the step the day's maximum is taken at")
	fl.BoolVar(&opts.AllowPublic, "allow-public", false, "allow a Prometheus server outside loopback and private address ranges")
	fl.StringVar(&opts.HTMLPath, "html", "", "also write the plan as a self-contained page with charts to `FILE`")
	fl.StringVar(&opts.MarkdownPath, "md", "", "also write the plan as Markdown, the projection month by month, to `FILE`")
	return cmd
}

// Output is the JSON document `plan --json` prints: the plan's fields,
// plus where they came from.
type Output struct {
	Result string `json:"result"`
	Name   string `json:"name,omitempty"`
	*capacity.Plan
	LimitedBy string                `json:"limited_by,omitempty"`
	History   *History              `json:"history,omitempty"`
	Model     *result.CapacityModel `json:"model,omitempty"`
}

// History describes the growth fitted to --history.
type History struct {
	File    string `json:"file"`
	Samples int    `json:"samples"`
	First   string `json:"first"`
	Last    string `json:"last"`
	// Rates are continuous growth per day; Low and High bound the Level
	// confidence interval.
	RatePerDay     float64  `json:"rate_per_day"`
	RateLow        float64  `json:"rate_low"`
	RateHigh       float64  `json:"rate_high"`
	RateStdErr     float64  `json:"rate_std_err"`
	Level          float64  `json:"level"`
	PercentPerWeek float64  `json:"percent_per_week"`
	DoublingDays   *float64 `json:"doubling_days"`
	R2             float64  `json:"r2"`
	// FittedPeakQPS is the fitted peak on the planning date.
	FittedPeakQPS float64 `json:"fitted_peak_qps"`
	notes         []string
}

// Run carries out `plan`.
func Run(opts *Options) error {
	r, err := result.Read(opts.ResultPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return cmdutil.BadInputf("plan: result %s does not exist", opts.ResultPath)
		}
		return cmdutil.BadInputf("plan: cannot read result: %v", err)
	}
	if !r.BestBefore.Found || !(r.BestBefore.QPS > 0) {
		return cmdutil.BadInputf("plan: %s: best_before: no best-before QPS was found in this run (no step met the objectives), so there is no capacity to plan against", opts.ResultPath)
	}
	now, err := planDate(opts)
	if err != nil {
		return err
	}
	unit := ""
	best := r.BestBefore.QPS
	switch opts.Unit {
	case "", "requests":
	case "tokens":
		unit, best = capacity.UnitTokens, r.BestBefore.OutputTokensPerS
		if !(best > 0) {
			return cmdutil.BadInputf("plan: --unit tokens: %s: best_before.output_tokens_per_s: the run measured no streamed output tokens (its service does not stream, or it ran before bestbefore counted tokens); plan in requests", opts.ResultPath)
		}
	default:
		return cmdutil.BadInputf("plan: --unit %q: want requests or tokens", opts.Unit)
	}
	in := capacity.PlanInput{
		BestBeforeQPS: best,
		Nodes:         r.BestBefore.Nodes,
		SafetyMargin:  r.BestBefore.SafetyMargin,
		CurrentQPS:    opts.CurrentQPS,
		PeakFactor:    opts.PeakFactor,
		Now:           now,
		LowerBound:    lowerBound(r),
		Caveats:       caveats(r),
	}
	var notes []string
	if opts.NodesSet {
		if opts.Nodes < 1 {
			return cmdutil.BadInputf("plan: --nodes must be at least 1, got %d", opts.Nodes)
		}
		in.Nodes = opts.Nodes
	} else if in.Nodes < 1 {
		return cmdutil.BadInputf("plan: %s: best_before.nodes is not set; pass --nodes", opts.ResultPath)
	}
	if opts.MarginSet {
		if !(opts.SafetyMargin > 0 && opts.SafetyMargin <= 1) {
			return cmdutil.BadInputf("plan: --safety-margin must be in (0, 1], got %g", opts.SafetyMargin)
		}
		in.SafetyMargin = opts.SafetyMargin
	} else if !(in.SafetyMargin > 0 && in.SafetyMargin <= 1) {
		in.SafetyMargin = 1
		notes = append(notes, "the result records no safety margin; using 1 (pass --safety-margin)")
	}
	if opts.PeakFactorSet && !(opts.PeakFactor > 0) {
		return cmdutil.BadInputf("plan: --peak-factor must be positive, got %g", opts.PeakFactor)
	}
	if opts.CurrentSet && !(opts.CurrentQPS >= 0) {
		return cmdutil.BadInputf("plan: --current-qps must be zero or more, got %g", opts.CurrentQPS)
	}
	horizon, err := capacity.ParseDays(opts.Horizon)
	if err != nil {
		return cmdutil.BadInputf("plan: --horizon: %v", err)
	}
	in.HorizonDays = horizon

	given := 0
	for _, s := range []string{opts.Doubling, opts.Growth, opts.History, opts.Prometheus} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return cmdutil.BadInputf("plan: give exactly one of --doubling (e.g. 60d), --growth (e.g. 5%%/week), --history FILE or --prometheus URL")
	}
	if (opts.Query != "") != (opts.Prometheus != "") {
		return cmdutil.BadInputf("plan: --prometheus URL and --query go together")
	}
	source := ""
	var hist *History
	var samples []capacity.PeakSample
	switch {
	case opts.Doubling != "":
		if in.Growth, err = capacity.ParseDoubling(opts.Doubling); err != nil {
			return cmdutil.BadInputf("plan: --doubling: %v", err)
		}
		source = "--doubling " + opts.Doubling
	case opts.Growth != "":
		if in.Growth, err = capacity.ParseGrowth(opts.Growth); err != nil {
			return cmdutil.BadInputf("plan: --growth: %v", err)
		}
		source = "--growth " + opts.Growth
	default:
		fit, h, ss, err := fitHistory(opts, now)
		if err != nil {
			return err
		}
		hist, samples = h, ss
		notes = append(notes, h.notes...)
		in.Growth = fit.Growth
		rng := fit.Range
		in.GrowthRange = &rng
		source = "history " + h.File
		if !opts.CurrentSet {
			if opts.PeakFactorSet {
				return cmdutil.BadInputf("plan: --peak-factor applies to --current-qps; the history is of peak load already")
			}
			in.CurrentQPS, in.PeakFactor = h.FittedPeakQPS, 1
			notes = append(notes, "today's peak is the fitted history trend on the planning date")
		}
	}
	if !opts.CurrentSet && hist == nil {
		return cmdutil.BadInputf("plan: --current-qps is required (today's mean load), unless --history gives it")
	}
	p, err := capacity.MakePlan(in)
	if err != nil {
		return cmdutil.BadInputf("plan: %v", err)
	}
	p.Growth.Source = source
	p.Unit = unit
	if unit != "" {
		notes = append(notes, "rates are output tokens per second: the best-before is the run's best-before rate × the output tokens a response held at its step; today's load and the history's peaks are taken to be in output tokens per second too")
	}
	p.Assumptions = append(p.Assumptions, notes...)
	out := &Output{Result: opts.ResultPath, Name: r.Name, Plan: p, LimitedBy: r.BestBefore.LimitedBy, History: hist, Model: r.Capacity}
	if out.Model == nil {
		out.Model = capacity.ModelFromResult(r)
	}
	view := report.PlanView{Name: r.Name, Plan: p, History: samples, Range: in.GrowthRange, LimitedBy: r.BestBefore.LimitedBy}
	ro := report.Options{Version: opts.Version}
	for _, w := range []struct {
		path  string
		write func(io.Writer, report.PlanView, report.Options) error
	}{{opts.HTMLPath, report.PlanHTML}, {opts.MarkdownPath, report.PlanMarkdown}} {
		if w.path == "" {
			continue
		}
		var buf bytes.Buffer
		if err := w.write(&buf, view, ro); err != nil {
			return cmdutil.RunFailed(err)
		}
		if err := result.WriteFileAtomic(w.path, buf.Bytes()); err != nil {
			return cmdutil.RunFailed(fmt.Errorf("plan: %w", err))
		}
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return writeText(iostreams.SafeWriter(opts.IO.Out), out)
}

func planDate(opts *Options) (time.Time, error) {
	if opts.Date == "" {
		now := time.Now
		if opts.Now != nil {
			now = opts.Now
		}
		return now().UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, opts.Date); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, opts.Date); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, cmdutil.BadInputf("plan: --now: %q is not a date (want YYYY-MM-DD)", opts.Date)
}

// peaks reads the past peaks: the --history CSV, or the daily peaks of
// --query on the --prometheus server. name says where they came from.
func peaks(opts *Options, now time.Time) (samples []capacity.PeakSample, name string, notes []string, err error) {
	if opts.Prometheus == "" {
		f, err := os.Open(opts.History)
		if err != nil {
			return nil, "", nil, cmdutil.BadInputf("plan: --history: %v", err)
		}
		defer f.Close()
		samples, err := capacity.ReadHistory(f, opts.History)
		if err != nil {
			return nil, "", nil, cmdutil.BadInputf("plan: %v", err)
		}
		return samples, opts.History, nil, nil
	}
	u, err := url.Parse(opts.Prometheus)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", nil, cmdutil.BadInputf("plan: --prometheus %q: want an http:// or https:// URL", opts.Prometheus)
	}
	days, err := capacity.ParseDays(opts.Lookback)
	if err != nil || days < 3 {
		return nil, "", nil, cmdutil.BadInputf("plan: --lookback %q: want at least 3 days, e.g. 90d", opts.Lookback)
	}
	if opts.Resolution < time.Second || opts.Resolution > 6*time.Hour {
		return nil, "", nil, cmdutil.BadInputf("plan: --resolution %v: want between 1s and 6h", opts.Resolution)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := h1.Guard{AllowPublic: opts.AllowPublic}.Client(time.Minute)
	samples, notes, err = peakload.PrometheusPeaks(ctx, client, peakload.PeaksQuery{
		URL: opts.Prometheus, Query: opts.Query, Days: int(days), End: now.UTC().Truncate(24 * time.Hour), Resolution: opts.Resolution,
	})
	if err != nil {
		if errors.Is(err, h1.ErrPublicAddress) {
			return nil, "", nil, cmdutil.BadInputf("plan: --prometheus: %v", err)
		}
		return nil, "", nil, cmdutil.RunFailed(fmt.Errorf("plan: %w", err))
	}
	return samples, "prometheus " + u.Redacted() + " " + opts.Query, notes, nil
}

func fitHistory(opts *Options, now time.Time) (*capacity.GrowthFit, *History, []capacity.PeakSample, error) {
	if !(opts.Level > 0 && opts.Level < 1) {
		return nil, nil, nil, cmdutil.BadInputf("plan: --level must be in (0, 1), got %g", opts.Level)
	}
	samples, name, notes, err := peaks(opts, now)
	if err != nil {
		return nil, nil, nil, err
	}
	fit, err := capacity.FitGrowth(samples, opts.Level)
	if err != nil {
		return nil, nil, nil, cmdutil.BadInputf("plan: %s: %v", name, err)
	}
	h := &History{
		File: name, Samples: fit.Samples, notes: notes,
		First: fit.First.Format(time.DateOnly), Last: fit.Last.Format(time.DateOnly),
		RatePerDay: fit.Growth.RatePerDay, RateLow: fit.Range.Low.RatePerDay, RateHigh: fit.Range.High.RatePerDay,
		RateStdErr: fit.StdErr, Level: fit.Range.Level, PercentPerWeek: fit.Growth.PercentPer(7), R2: fit.R2,
		FittedPeakQPS: fit.PeakAt(now),
	}
	if d := fit.Growth.DoublingDays(); !math.IsInf(d, 1) {
		h.DoublingDays = &d
	}
	return fit, h, samples, nil
}

func writeText(w io.Writer, o *Output) error {
	p := o.Plan
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %-20s %s\n", label, fmt.Sprintf(format, args...))
	}
	name := o.Name
	if name == "" {
		name = o.Result
	}
	fmt.Fprintf(&b, "Capacity plan for %s, as of %s\n\n", name, p.Now)
	limited := ""
	if o.LimitedBy != "" {
		limited = ", limited by " + o.LimitedBy
	}
	line("Best-before", "%s QPS on %s (%s QPS per node)%s", qps(p.BestBeforeQPS), nodes(p.Nodes), qps(p.PerNodeQPS), limited)
	if p.SingleNode {
		line("Usable capacity", "%s QPS on 1 node (safety margin %g); no N-1: losing it loses the service", qps(p.CapacityNQPS), p.SafetyMargin)
	} else {
		line("Usable capacity", "%s QPS on %s; %s QPS on %d if one is lost (safety margin %g)", qps(p.CapacityNQPS), nodes(p.Nodes), qps(p.CapacityNMinus1QPS), p.Nodes-1, p.SafetyMargin)
	}
	if p.PeakFactor != 1 {
		line("Today's peak", "%s QPS (%s QPS mean × %g)", qps(p.PeakQPS), qps(p.CurrentQPS), p.PeakFactor)
	} else {
		line("Today's peak", "%s QPS", qps(p.PeakQPS))
	}
	line("Headroom", "%s of the N capacity, %s of the N-1 capacity", pct(p.HeadroomNPct), pct(p.HeadroomNMinus1Pct))
	g := capacity.Growth{RatePerDay: p.Growth.RatePerDay}
	line("Growth", "%s, from %s", g, p.Growth.Source)
	if h := o.History; h != nil {
		line("", "fitted to %d peaks %s..%s, %g%% range %.3g%%..%.3g%%/week, R² %.3f", h.Samples, h.First, h.Last, h.Level*100,
			capacity.Growth{RatePerDay: h.RateLow}.PercentPer(7), capacity.Growth{RatePerDay: h.RateHigh}.PercentPer(7), h.R2)
	}
	target, label := p.DateTarget()
	switch {
	case p.OverToday:
		line("Best-before date", "%s: TODAY's peak already exceeds %s (%s QPS)", *p.BestBeforeDate, label, qps(target))
	case p.BestBeforeDate != nil:
		line("Best-before date", "%s%s, in %.0f days: the projected peak reaches %s (%s QPS)", p.NoEarlier(), *p.BestBeforeDate, math.Floor(*p.DaysUntilBestBefore+1e-9), label, qps(target))
	default:
		line("Best-before date", "none before the horizon (%s): the projected peak stays under %s", p.HorizonDate, label)
	}
	if r := p.BestBeforeRange; r != nil && !p.OverToday {
		line("", "%g%% range: %s to %s (growth-rate uncertainty only)", r.Level*100, orBeyond(r.Earliest, p.HorizonDate), orBeyond(r.Latest, p.HorizonDate))
	}
	more := ""
	if p.NodesNeededAtHorizon > p.Nodes {
		more = fmt.Sprintf(", %d more than today", p.NodesNeededAtHorizon-p.Nodes)
	}
	line("At the horizon", "%s (%g days): peak %s QPS needs %s to survive losing one%s", p.HorizonDate, p.HorizonDays, qps(p.PeakAtHorizonQPS), nodes(p.NodesNeededAtHorizon), more)
	if m := o.Model; m != nil && p.Unit == "" {
		if k := m.Knee; k != nil {
			line("Latency knee", "p99 climbs past %g× its low-load value at %s QPS (p99 %.1f ms, step %d)", capacity.DefaultKneeFactor, qps(k.QPS), k.P99MS, k.Step)
		}
		if u := m.USL; u != nil {
			peak := "no peak predicted"
			if u.PeakQPS > 0 {
				peak = fmt.Sprintf("peak %s QPS at concurrency %.1f", qps(u.PeakQPS), u.PeakConcurrency)
			}
			line("USL model", "σ %.4g, κ %.4g, λ %.4g, R² %.3f; %s (a model, not a measurement)", u.Sigma, u.Kappa, u.Lambda, u.R2, peak)
			for _, wn := range u.Warnings {
				line("", "warning: %s", wn)
			}
		}
	}
	if len(p.Caveats) > 0 {
		b.WriteString("\nCaveats:\n")
		for _, c := range p.Caveats {
			fmt.Fprintf(&b, "  - %s\n", c)
		}
	}
	b.WriteString("\nAssumes:\n")
	for _, a := range p.Assumptions {
		fmt.Fprintf(&b, "  - %s\n", a)
	}
	_, err := io.WriteString(w, report.PlanUnit(b.String(), p.Unit))
	return err
}

func qps(v float64) string {
	if v >= 100 || v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func pct(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", *v)
}

func nodes(n int) string {
	if n == 1 {
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", n)
}

func orBeyond(d *string, horizon string) string {
	if d == nil {
		return "after " + horizon
	}
	return *d
}

// lowerBound says why a result's best-before is only a lower bound, ""
// when an objective limited it.
func lowerBound(r *result.Result) string {
	switch r.BestBefore.LimitedBy {
	case result.LimitedByMaxQPS:
		return "the ramp reached load.max_qps without breaking an objective"
	case result.LimitedByInterrupted:
		return "the run was interrupted before any step broke an objective"
	case result.LimitedByFixedRate:
		return "a fixed-rate run held its one rate"
	case result.LimitedByGenerator:
		return "the load generator, not the service, stopped the ramp"
	}
	return ""
}

// caveats are what the result says against its own figures.
func caveats(r *result.Result) []string {
	var c []string
	if nl := r.NodeLoss; nl != nil && !nl.Held {
		c = append(c, fmt.Sprintf("the run's node-loss check did not hold: with node %s lost at %s QPS the rest broke the objectives, so the N-1 capacity is not verified", nl.Node, qps(nl.QPS)))
	}
	if r.Status != "" && r.Status != result.StatusCompleted {
		c = append(c, "the run was "+r.Status+": its figures are from the steps that completed")
	}
	return c
}
