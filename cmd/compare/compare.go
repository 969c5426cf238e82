// Package compare is the `bestbefore compare` command, the CI gate.
package compare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/compare"
	"github.com/bestbefore/bestbefore/pkg/history"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/scenario"
)

// Options holds the flags of `compare`.
type Options struct {
	IO        *iostreams.IOStreams
	Base      string
	Candidate string // "" when Base is a live A/B result

	Scenario             string
	MaxP50Increase       string
	MaxP99Increase       string
	MaxP999Increase      string
	MaxTTFTP99Increase   string
	MaxITLP99Increase    string
	MaxBestBeforeDrop    string
	MaxErrorRateIncrease string
	Alpha                float64
	alphaSet             bool
	NoiseFloor           string

	Markdown string
	JUnit    string
	JSON     bool
	Strict   bool
	// RequireSameMachine refuses sides measured on different machines.
	RequireSameMachine bool

	// FromHistory, when positive, takes the baseline from the history
	// store: the last FromHistory completed runs of the candidate's
	// scenario on BaselineBranch, on the candidate's machine.
	FromHistory    int
	BaselineBranch string
	History        cmdutil.HistoryDB
}

// NewCmdCompare builds `compare`; runF replaces the action in tests.
func NewCmdCompare(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "compare BASE CANDIDATE | compare AB_RESULT | compare --baseline-from-history N CANDIDATE",
		Short: "The CI gate: is the candidate slower, or its best-before QPS lower, than the baseline?",
		Long: `Compares two runs step by step (same offered QPS) and overall: best-before QPS,
p50/p99/p99.9 latency and error rate. BASE and CANDIDATE are result.json files
or directories of repeated runs (DIR/*/result.json); a single live A/B result
compares its own baseline and candidate sides.

Latency gates read every request of a step: a percentile's sampling error
comes from its order statistics in the step's histogram, and the noise
between runs from the runs themselves when a side has several, never less
than the machine's noise floor (--noise-floor; a side measured once relies
on it). A live A/B result is compared paired, step by step and interval by
interval: the machine's noise, shared by both sides, cancels. Error rates
are compared as proportions, widened by how bursty the errors were. The
best-before QPS is tested over repeated runs, or judged on the steps.

Every gate is Holm–Bonferroni corrected and judged against its threshold:
regression when the change is significant and its whole interval lies
beyond the threshold, pass when the whole interval lies within it,
inconclusive otherwise; an inconclusive gate says the smallest change this
comparison could decide and what would decide it (more runs, longer steps).

Thresholds: flags, else the gate: section of --scenario, else defaults
(p99 +10%, best-before −10%, error rate +0.1 percentage points). "off"
disables a gate.

With --baseline-from-history N the baseline is the last N completed runs of
the candidate's scenario on --baseline-branch (main) stored in the history
(--db), on the candidate's machine (CPU model and cores): a pull request is
compared with what main measured, without keeping a baseline directory.

Exit codes: 0 pass (or inconclusive without --strict), 1 regression,
2 bad input.`,
		Example: `  bestbefore compare reports/baseline reports/candidate --markdown gate.md --junit gate.xml
  bestbefore compare reports/ab/result.json
  bestbefore compare --baseline-from-history 5 reports/candidate --db reports/history.db`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Base = args[0]
			if len(args) == 2 {
				opts.Candidate = args[1]
			}
			if opts.FromHistory != 0 {
				if len(args) != 1 || opts.FromHistory < 0 {
					return cmdutil.BadInputf("compare: --baseline-from-history N takes one argument, the candidate, and N ≥ 1")
				}
				opts.Base, opts.Candidate = "", args[0]
			}
			opts.alphaSet = cmd.Flags().Changed("alpha")
			if runF != nil {
				return runF(opts)
			}
			return compareRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Scenario, "scenario", "", "read thresholds from the gate: section of this scenario file")
	fl.StringVar(&opts.MaxP99Increase, "max-p99-increase", "", "tolerated p99 increase, e.g. 10% (default 10%)")
	fl.StringVar(&opts.MaxP50Increase, "max-p50-increase", "", "tolerated p50 increase (default: not gated)")
	fl.StringVar(&opts.MaxP999Increase, "max-p999-increase", "", "tolerated p99.9 increase (default: not gated)")
	fl.StringVar(&opts.MaxTTFTP99Increase, "max-ttft-p99-increase", "", "tolerated increase of the time to first token's p99, when both sides streamed (default: shown, not gated)")
	fl.StringVar(&opts.MaxITLP99Increase, "max-itl-p99-increase", "", "tolerated increase of the inter-token latency's p99, when both sides streamed (default: shown, not gated)")
	fl.StringVar(&opts.MaxBestBeforeDrop, "max-best-before-drop", "", "tolerated best-before QPS drop (default 10%)")
	fl.StringVar(&opts.MaxErrorRateIncrease, "max-error-rate-increase", "", "tolerated error-rate increase in percentage points, e.g. 0.1% (default 0.1%)")
	fl.Float64Var(&opts.Alpha, "alpha", 0.05, "family-wise significance level")
	fl.StringVar(&opts.NoiseFloor, "noise-floor", "", "run-to-run noise of p99 on your machines, e.g. 4% (p50 and p99.9 scale with it; default: measured on a shared 2-core machine, docs/ci.md)")
	fl.StringVar(&opts.Markdown, "markdown", "", "also write a Markdown summary (for a PR comment) to this file")
	fl.StringVar(&opts.JUnit, "junit", "", "also write JUnit XML (one testcase per gate; a regression is a <failure>, an inconclusive gate <skipped>, or a <failure> with --strict) to this file")
	fl.BoolVar(&opts.JSON, "json", false, "print the report as JSON on stdout")
	fl.BoolVar(&opts.Strict, "strict", false, "exit 1 on an inconclusive verdict too")
	fl.BoolVar(&opts.RequireSameMachine, "require-same-machine", false, "refuse (exit 2) sides measured on different machines (CPU model, cores); without it the report says they differ")
	fl.IntVar(&opts.FromHistory, "baseline-from-history", 0, "take the baseline from the history store: the last `N` completed runs of the candidate's scenario on its machine")
	fl.StringVar(&opts.BaselineBranch, "baseline-branch", "main", "the branch whose runs --baseline-from-history takes")
	opts.History.Flags(fl, "; with --baseline-from-history")
	return cmd
}

func compareRun(opts *Options) error {
	cfg, err := config(opts)
	if err != nil {
		return cmdutil.BadInput(err)
	}
	var base, cand *compare.Side
	switch {
	case opts.FromHistory > 0:
		if cand, err = compare.Load(opts.Candidate); err != nil {
			return cmdutil.BadInput(err)
		}
		own := map[string]bool{}
		for _, r := range cand.Runs {
			id, _, err := history.ID(r)
			if err != nil {
				return cmdutil.RunFailed(err)
			}
			own[id] = true
		}
		runs, ids, herr := baseline(context.Background(), &opts.History, cand.Runs[0], own, opts.BaselineBranch, opts.FromHistory)
		if herr != nil {
			return herr
		}
		base = &compare.Side{Label: fmt.Sprintf("history: last %d of %s", len(runs), opts.BaselineBranch), Paths: ids, Runs: runs}
	case opts.Candidate == "":
		base, cand, err = compare.LoadAB(opts.Base)
		cfg.Paired = true
	default:
		base, err = compare.Load(opts.Base)
		if err == nil {
			cand, err = compare.Load(opts.Candidate)
		}
	}
	if err != nil {
		return cmdutil.BadInput(err)
	}
	rep, err := compare.Compare(base, cand, cfg)
	if err != nil {
		return cmdutil.BadInput(err)
	}
	if opts.Markdown != "" {
		if err := writeFile(opts.Markdown, rep.Markdown); err != nil {
			return cmdutil.RunFailed(err)
		}
	}
	if opts.JUnit != "" {
		junit := func(w io.Writer) error { return rep.JUnit(w, opts.Strict) }
		if err := writeFile(opts.JUnit, junit); err != nil {
			return cmdutil.RunFailed(err)
		}
	}
	if opts.JSON {
		err = rep.JSON(opts.IO.Out)
	} else {
		err = rep.Text(opts.IO.Out)
	}
	if err != nil {
		return cmdutil.RunFailed(err)
	}
	switch {
	case rep.Verdict == compare.Regression:
		return cmdutil.GateFailed(fmt.Errorf("regression: %d gate(s) failed", len(rep.Regressions())))
	case rep.Verdict == compare.Inconclusive && opts.Strict:
		return cmdutil.GateFailed(errors.New("inconclusive comparison (--strict)"))
	}
	return nil
}

func writeFile(path string, render func(w io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	return result.WriteFileAtomic(path, buf.Bytes())
}

// config merges defaults, the scenario's gate: section and the flags, in
// that order of precedence (flags win).
func config(opts *Options) (compare.Config, error) {
	cfg := compare.DefaultConfig()
	cfg.RequireSameMachine = opts.RequireSameMachine
	if opts.Scenario != "" {
		s, err := scenario.Load(opts.Scenario, nil)
		if err != nil {
			return cfg, err
		}
		if g := s.Gate; g != nil {
			set := func(dst **float64, r *scenario.Ratio) {
				if r != nil {
					v := float64(*r)
					*dst = &v
				}
			}
			set(&cfg.MaxP50Increase, g.MaxP50Increase)
			set(&cfg.MaxP99Increase, g.MaxP99Increase)
			set(&cfg.MaxP999Increase, g.MaxP999Increase)
			set(&cfg.MaxTTFTP99Increase, g.MaxTTFTP99Increase)
			set(&cfg.MaxITLP99Increase, g.MaxITLP99Increase)
			set(&cfg.MaxBestBeforeDrop, g.MaxBestBeforeDrop)
			set(&cfg.MaxErrorRateIncrease, g.MaxErrorRateIncrease)
			if g.Alpha != 0 {
				cfg.Alpha = g.Alpha
			}
			if err := cfg.Validate(); err != nil {
				line := s.Line("gate")
				return cfg, fmt.Errorf("%s:%d: gate: %v", opts.Scenario, line, err)
			}
		}
	}
	for _, fl := range []struct {
		name string
		val  string
		dst  **float64
	}{
		{"--max-p50-increase", opts.MaxP50Increase, &cfg.MaxP50Increase},
		{"--max-p99-increase", opts.MaxP99Increase, &cfg.MaxP99Increase},
		{"--max-p999-increase", opts.MaxP999Increase, &cfg.MaxP999Increase},
		{"--max-ttft-p99-increase", opts.MaxTTFTP99Increase, &cfg.MaxTTFTP99Increase},
		{"--max-itl-p99-increase", opts.MaxITLP99Increase, &cfg.MaxITLP99Increase},
		{"--max-best-before-drop", opts.MaxBestBeforeDrop, &cfg.MaxBestBeforeDrop},
		{"--max-error-rate-increase", opts.MaxErrorRateIncrease, &cfg.MaxErrorRateIncrease},
	} {
		switch fl.val {
		case "":
		case "off", "none":
			*fl.dst = nil
		default:
			v, err := scenario.ParseRatio(fl.val)
			if err != nil {
				return cfg, fmt.Errorf("%s: %v", fl.name, err)
			}
			if v < 0 || math.IsNaN(v) {
				return cfg, fmt.Errorf("%s: must not be negative, got %s", fl.name, fl.val)
			}
			*fl.dst = &v
		}
	}
	if opts.alphaSet {
		cfg.Alpha = opts.Alpha
	}
	if opts.NoiseFloor != "" {
		v, err := scenario.ParseRatio(opts.NoiseFloor)
		if err != nil || !(v > 0) {
			return cfg, fmt.Errorf("--noise-floor: want a positive share such as 4%%, got %q", opts.NoiseFloor)
		}
		cfg.Noise = cfg.Noise.Scaled(v)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// baseline loads the last n runs of the candidate's scenario on branch
// from the history store.
func baseline(ctx context.Context, db *cmdutil.HistoryDB, cand *result.Result, own map[string]bool, branch string, n int) ([]*result.Result, []string, error) {
	s, err := db.OpenRead(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	runs, ids, err := s.Baseline(ctx, cand, own, branch, n)
	switch {
	case errors.Is(err, history.ErrNoBaseline):
		return nil, nil, cmdutil.BadInputf("compare: --baseline-from-history: %v", err)
	case err != nil:
		return nil, nil, cmdutil.RunFailed(err)
	}
	return runs, ids, nil
}
