// Package history is the `bestbefore history` command: store runs, list
// them, find where a metric's level changed, and draw it over time.
package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/changepoint"
	"github.com/bestbefore/bestbefore/pkg/history"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Options are what every history verb shares: the streams it writes to
// and the store it opens.
type Options struct {
	IO *iostreams.IOStreams
	cmdutil.HistoryDB
}

func (o *Options) flags(cmd *cobra.Command) {
	o.HistoryDB.Flags(cmd.Flags(), "")
}

// NewCmdHistory builds `history` and its verbs.
func NewCmdHistory(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Keep runs over time: the best-before's history, its change points, a chart",
		Long: `history keeps the runs of every scenario over time and answers: what has the
best-before been over the last fifty merges, and when did it change?

The store is an SQLite file (` + history.DefaultPath + `) or, for CI runners that
share no disk, a PostgreSQL database (--db postgres://user:pass@host/db); both
hold the same schema, migrated on open.

A typical CI: after each run on main, history add; on a pull request,
compare --baseline-from-history 5; weekly, history changes.`,
		Example: `  bestbefore history add reports/today
  bestbefore history list --scenario ci
  bestbefore history changes --metric best_before
  bestbefore history report --scenario ci --html history.html
  bestbefore compare --baseline-from-history 5 reports/candidate`,
	}
	cmd.AddCommand(newCmdAdd(f), newCmdList(f), newCmdChanges(f), newCmdReport(f))
	return cmd
}

// ---- add ----

type addOptions struct {
	Options
	Paths          []string
	Commit, Branch string
	JSON           bool
}

func newCmdAdd(f *cmdutil.Factory) *cobra.Command {
	o := &addOptions{Options: Options{IO: f.IOStreams}}
	cmd := &cobra.Command{
		Use:   "add RESULT.json|DIR...",
		Short: "Store runs in the history",
		Long: `add stores each result: a result.json, a run's directory, or a directory of
runs (DIR/*/result.json, as run --repeat writes them). A result already stored
is left as it is: runs are keyed by the hash of their content.

The commit and branch come from --commit and --branch, else from the CI's
environment (GITHUB_SHA and GITHUB_HEAD_REF or GITHUB_REF_NAME; GitLab's
CI_COMMIT_SHA and CI_COMMIT_REF_NAME; BUILDKITE_COMMIT and BUILDKITE_BRANCH;
Jenkins' GIT_COMMIT and GIT_BRANCH), else from git in the working directory.`,
		Example: `  bestbefore history add reports/today
  bestbefore history add reports/ci --db postgres://ci:secret@db.internal/bestbefore --commit "$SHA" --branch main`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			return runAdd(cmd.Context(), o)
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&o.Commit, "commit", "", "the commit the runs measured (default: from the CI's environment or git)")
	cmd.Flags().StringVar(&o.Branch, "branch", "", "the branch the runs measured (default: from the CI's environment or git)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print what was stored as JSON")
	return cmd
}

// resultFiles expands the arguments of add into result files.
func resultFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, cmdutil.BadInputf("history add: %s: %v", p, unwrap(err))
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		if f := filepath.Join(p, "result.json"); exists(f) {
			out = append(out, f)
			continue
		}
		m, _ := filepath.Glob(filepath.Join(p, "*", "result.json"))
		if len(m) == 0 {
			return nil, cmdutil.BadInputf("history add: %s: no result.json in it or in its subdirectories", p)
		}
		sort.Strings(m)
		out = append(out, m...)
	}
	return out, nil
}

func exists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Added is what add prints with --json, one per result.
type Added struct {
	File     string `json:"file"`
	ID       string `json:"id"`
	Added    bool   `json:"added"`
	Scenario string `json:"scenario"`
	Commit   string `json:"commit"`
	Branch   string `json:"branch"`
	Machine  string `json:"machine"`
}

func runAdd(ctx context.Context, o *addOptions) error {
	files, err := resultFiles(o.Paths)
	if err != nil {
		return err
	}
	var results []*result.Result
	for _, f := range files {
		r, err := result.Read(f)
		if err != nil {
			return cmdutil.BadInputf("history add: %s: %v", f, err)
		}
		results = append(results, r)
	}
	meta := history.Detect(o.Commit, o.Branch, os.Getenv)
	s, err := o.Open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	var out []Added
	for i, r := range results {
		id, added, err := s.Add(ctx, r, meta)
		if err != nil {
			return cmdutil.RunFailed(err)
		}
		out = append(out, Added{File: files[i], ID: id, Added: added, Scenario: r.Name, Commit: meta.Commit, Branch: meta.Branch, Machine: history.Machine(r.Manifest)})
	}
	w := iostreams.SafeWriter(o.IO.Out)
	if o.JSON {
		return writeJSON(w, out)
	}
	for _, a := range out {
		verb := "added"
		if !a.Added {
			verb = "already stored"
		}
		fmt.Fprintf(w, "%s %s: %s, run %s (commit %s, branch %s, %s) in %s\n", verb, a.File, a.Scenario, history.ShortID(a.ID), orDash(short(a.Commit)), orDash(a.Branch), a.Machine, s.Name())
	}
	return nil
}

func short(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// ---- list ----

type listOptions struct {
	Options
	Scenario, Branch string
	Limit            int
	JSON             bool
}

func newCmdList(f *cmdutil.Factory) *cobra.Command {
	o := &listOptions{Options: Options{IO: f.IOStreams}}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "One line a stored run, newest first",
		Example: `  bestbefore history list --scenario ci --limit 20
  bestbefore history list --json | jq '.[0].best_before_qps'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runList(cmd.Context(), o) },
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&o.Scenario, "scenario", "", "only this scenario's runs (its name)")
	cmd.Flags().StringVar(&o.Branch, "branch", "", "only this branch's runs")
	cmd.Flags().IntVar(&o.Limit, "limit", 50, "at most this many runs (0: all)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the runs as JSON")
	return cmd
}

func runList(ctx context.Context, o *listOptions) error {
	if o.Limit < 0 {
		return cmdutil.BadInputf("history list: --limit must be 0 or more, got %d", o.Limit)
	}
	s, err := o.OpenRead(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	runs, err := s.List(ctx, history.Filter{Scenario: o.Scenario, Branch: o.Branch, Limit: o.Limit})
	if err != nil {
		return cmdutil.RunFailed(err)
	}
	w := iostreams.SafeWriter(o.IO.Out)
	if o.JSON {
		if runs == nil {
			runs = []history.Run{}
		}
		return writeJSON(w, runs)
	}
	if len(runs) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "no runs in %s yet: store some with bestbefore history add\n", s.Name())
		return nil
	}
	// Runs of a service that streams tokens add its two figures.
	streams := false
	for _, r := range runs {
		streams = streams || r.BestBeforeTokensPerS != nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "started (UTC)\tscenario\tcommit\tbranch\tstatus\tbest-before\tN-1\tp99"
	if streams {
		head += "\tin tokens\tTTFT p99"
	}
	fmt.Fprintln(tw, head+"\tmachine\trun")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", r.StartedAt.Format("2006-01-02 15:04"), r.Scenario, orDash(short(r.Commit)), orDash(r.Branch), r.Status,
			num(r.BestBeforeQPS, " QPS"), num(r.NMinus1QPS, " QPS"), num(r.P99MS, " ms"))
		if streams {
			fmt.Fprintf(tw, "\t%s\t%s", num(r.BestBeforeTokensPerS, " tokens/s"), num(r.TTFTP99MS, " ms"))
		}
		fmt.Fprintf(tw, "\t%s\t%s\n", r.Machine, history.ShortID(r.ID))
	}
	return tw.Flush()
}

func num(v *float64, unit string) string {
	if v == nil {
		return "–"
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", *v), "0"), ".") + unit
}

// ---- changes ----

type changesOptions struct {
	Options
	Scenario, Metric string
	MaxP             float64
	JSON             bool
}

func newCmdChanges(f *cmdutil.Factory) *cobra.Command {
	o := &changesOptions{Options: Options{IO: f.IOStreams}}
	cmd := &cobra.Command{
		Use:   "changes",
		Short: "Where a metric's level shifted, over the stored runs",
		Long: `changes finds the runs at which a metric's level shifted, in each scenario's
completed runs on each machine, in time order: E-Divisive means with a
Student's t-test (the method of Apache Otava and MongoDB's signal processing),
deterministic, each change with its run and commit, the mean level before and
after, the relative change and a p-value. Runs on different machines (CPU
model and cores) are never compared with each other.

Metrics: best_before (QPS), n_minus_1 (QPS), p99 (ms, at the best-before
step), error_rate (at the best-before step).`,
		Example: `  bestbefore history changes
  bestbefore history changes --scenario ci --metric p99 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runChanges(cmd.Context(), o) },
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&o.Scenario, "scenario", "", "only this scenario")
	cmd.Flags().StringVar(&o.Metric, "metric", "best_before", strings.Join(history.Metrics(), ", ")+" (best_before_tokens and ttft_p99: runs of a service that streams tokens)")
	cmd.Flags().Float64Var(&o.MaxP, "max-p", changepoint.DefaultMaxP, "significance a change must reach")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the series and their changes as JSON")
	cmdutil.FixedValues(cmd, "metric", history.Metrics()...)
	return cmd
}

func runChanges(ctx context.Context, o *changesOptions) error {
	m, err := history.LookupMetric(o.Metric)
	if err != nil {
		return cmdutil.BadInputf("history changes: --metric: %v", err)
	}
	if !(o.MaxP > 0 && o.MaxP < 1) {
		return cmdutil.BadInputf("history changes: --max-p must be in (0, 1), got %g", o.MaxP)
	}
	s, err := o.OpenRead(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	runs, err := s.List(ctx, history.Filter{Scenario: o.Scenario})
	if err != nil {
		return cmdutil.RunFailed(err)
	}
	series := history.Analyze(runs, m, changepoint.Options{MaxP: o.MaxP})
	w := iostreams.SafeWriter(o.IO.Out)
	if o.JSON {
		if series == nil {
			series = []*history.Series{}
		}
		return writeJSON(w, series)
	}
	if len(series) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "no completed runs in %s: store some with bestbefore history add\n", s.Name())
		return nil
	}
	for _, se := range series {
		span := ""
		if n := len(se.Runs); n > 0 {
			span = fmt.Sprintf(", %s .. %s", se.Runs[0].StartedAt.Format(time.DateOnly), se.Runs[n-1].StartedAt.Format(time.DateOnly))
		}
		skipped := ""
		if se.Skipped > 0 {
			skipped = fmt.Sprintf("; %d without a %s left out", se.Skipped, o.Metric)
		}
		fmt.Fprintf(w, "%s on %s: %s over %d runs%s%s\n", se.Scenario, se.Machine, o.Metric, len(se.Runs), span, skipped)
		if len(se.Changes) == 0 {
			fmt.Fprintf(w, "  no change at p < %g\n", o.MaxP)
		}
		for _, c := range se.Changes {
			fmt.Fprintf(w, "  run %d (%s, commit %s, %s): %s → %s%s (%+.1f%%), p %.2g\n", c.Index+1, c.Run[:12], orDash(short(c.Commit)), c.StartedAt.Format("2006-01-02 15:04"),
				fmtLevel(c.Before), fmtLevel(c.After), m.Unit, 100*c.Relative, c.P)
		}
	}
	return nil
}

func fmtLevel(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// ---- report ----

type reportOptions struct {
	Options
	Version  string
	Scenario string
	HTML     string
	PeakQPS  float64
	MaxP     float64
}

func newCmdReport(f *cmdutil.Factory) *cobra.Command {
	o := &reportOptions{Options: Options{IO: f.IOStreams}, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "report --html FILE",
		Short: "Draw a scenario's best-before, N-1 and p99 over time",
		Long: `report draws, for each scenario and machine in the store (or --scenario's), the
best-before and N-1 QPS and the p99 at the best-before over time: one point a
run (its commit on hover), the change points marked, the p99 objective and,
with --peak-qps, the planned peak drawn. One self-contained page, like
report.html.`,
		Example: `  bestbefore history report --scenario ci --html history.html --peak-qps 600`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.HTML == "" {
				return cmdutil.BadInputf("history report: --html FILE is required")
			}
			return runReport(cmd.Context(), o)
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&o.Scenario, "scenario", "", "only this scenario")
	cmd.Flags().StringVar(&o.HTML, "html", "", "write the page to `FILE`")
	cmd.Flags().Float64Var(&o.PeakQPS, "peak-qps", 0, "the planned peak load, drawn against the best-before and N-1")
	cmd.Flags().Float64Var(&o.MaxP, "max-p", changepoint.DefaultMaxP, "significance a change must reach")
	return cmd
}

func runReport(ctx context.Context, o *reportOptions) error {
	s, err := o.OpenRead(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	runs, err := s.List(ctx, history.Filter{Scenario: o.Scenario})
	if err != nil {
		return cmdutil.RunFailed(err)
	}
	var views []report.HistoryView
	cpo := changepoint.Options{MaxP: o.MaxP}
	p99 := map[[2]string]*history.Series{}
	for _, se := range history.Analyze(runs, metric("p99"), cpo) {
		p99[[2]string{se.Scenario, se.Machine}] = se
	}
	for _, se := range history.Analyze(runs, metric("best_before"), cpo) {
		v := report.HistoryView{Scenario: se.Scenario, Machine: se.Machine, PeakQPS: o.PeakQPS}
		for i, r := range se.Runs {
			v.Points = append(v.Points, report.HistoryPoint{Time: r.StartedAt, Commit: r.Commit, Branch: r.Branch, Run: r.ID,
				BestBeforeQPS: se.Values[i], NMinus1QPS: deref(r.NMinus1QPS), P99MS: deref(r.P99MS)})
			if r.SLOP99MS != nil {
				v.SLOP99MS = *r.SLOP99MS
			}
		}
		for _, c := range se.Changes {
			v.BestBeforeChanges = append(v.BestBeforeChanges, report.HistoryChange{Time: c.StartedAt, Commit: c.Commit, Relative: c.Relative})
		}
		if ps := p99[[2]string{se.Scenario, se.Machine}]; ps != nil {
			for _, c := range ps.Changes {
				v.P99Changes = append(v.P99Changes, report.HistoryChange{Time: c.StartedAt, Commit: c.Commit, Relative: c.Relative})
			}
		}
		if len(v.Points) > 0 {
			views = append(views, v)
		}
	}
	if len(views) == 0 {
		return cmdutil.BadInputf("history report: no completed run with a best-before in %s%s", s.Name(), map[bool]string{true: " for scenario " + o.Scenario}[o.Scenario != ""])
	}
	var buf bytes.Buffer
	if err := report.HistoryHTML(&buf, views, report.Options{Version: o.Version}); err != nil {
		return cmdutil.RunFailed(err)
	}
	if err := result.WriteFileAtomic(o.HTML, buf.Bytes()); err != nil {
		return cmdutil.RunFailed(err)
	}
	fmt.Fprintf(o.IO.ErrOut, "wrote %s: %d scenario(s), %d run(s)\n", o.HTML, len(views), countPoints(views))
	return nil
}

func countPoints(vs []report.HistoryView) int {
	n := 0
	for _, v := range vs {
		n += len(v.Points)
	}
	return n
}

func deref(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}

// writeJSON prints v as indented JSON, for --json.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// metric is a metric history follows by name.
func metric(name string) history.Metric {
	m, err := history.LookupMetric(name)
	if err != nil {
		panic(err) // a name written here, in the catalogue
	}
	return m
}
