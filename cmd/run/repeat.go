package run

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/runner"
)

// PartialDir is the subdirectory of a --repeat directory that receives an
// interrupted repetition, out of reach of `compare DIR` (which reads
// DIR/*/result.json): a half-finished ramp would drag the best-before
// distribution down.
const PartialDir = "partial"

// RepDir names repetition i (1-based) inside dir: dir/rep-01, dir/rep-02, ...
func RepDir(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("rep-%02d", i)) }

// RepeatSummary is what `run --repeat K --format json` prints.
type RepeatSummary struct {
	Dir      string `json:"dir"`
	Repeat   int    `json:"repeat"`
	Complete int    `json:"complete"`
	// Interrupted is set when the runs stopped early; Partial is where the
	// interrupted repetition's result was moved.
	Interrupted bool              `json:"interrupted,omitempty"`
	Partial     string            `json:"partial,omitempty"`
	BestBefore  Spread            `json:"best_before"`
	Runs        []json.RawMessage `json:"runs"`
}

// Spread is the distribution of best-before QPS over the repetitions that
// found one.
type Spread struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
	// Range is (max − min) / median, 0 with fewer than two values.
	Range float64 `json:"range"`
}

// SpreadOf summarizes the best-before values.
func SpreadOf(qps []float64) Spread {
	if len(qps) == 0 {
		return Spread{}
	}
	v := append([]float64(nil), qps...)
	sort.Float64s(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	s := Spread{N: n, Min: v[0], Median: med, Max: v[n-1]}
	if n > 1 && med > 0 {
		s.Range = (s.Max - s.Min) / med
	}
	return s
}

// RunRepeat runs the scenario opts.Repeat times, each a normal run written
// to OUT/rep-01, OUT/rep-02, ..., so that `bestbefore compare OUT ...`
// reads the repetitions as samples of one side. It prints a line per
// repetition and the spread of the best-before QPS. An interrupt stops
// the series: the completed repetitions stay, the interrupted one is moved
// to OUT/partial/, and the exit code is 130.
func RunRepeat(ctx context.Context, opts *Options, w Wiring) error {
	if opts.Repeat < 1 {
		return cmdutil.BadInputf("--repeat must be at least 1, got %d", opts.Repeat)
	}
	if opts.Shard != "" {
		return cmdutil.BadInputf("--repeat cannot be combined with --shard: repeat the whole sharded run instead")
	}
	ios := opts.IO
	ctx, _, stop := cmdutil.Interrupts(ctx, ios.ErrOut)
	defer stop()

	dir, err := repeatDir(opts, w)
	if err != nil {
		return err
	}
	if err := checkFresh(dir); err != nil {
		return err
	}

	sum := RepeatSummary{Dir: dir, Repeat: opts.Repeat, Runs: []json.RawMessage{}}
	var qps []float64
	var runErr error
	for i := 1; i <= opts.Repeat; i++ {
		if ctx.Err() != nil {
			sum.Interrupted = true
			break
		}
		rd := RepDir(dir, i)
		if !opts.Quiet {
			fmt.Fprintf(ios.ErrOut, "repetition %d/%d → %s\n", i, opts.Repeat, rd)
		}
		one := *opts
		one.OutDir = rd
		one.Format = "text"
		var got *runner.Outcome
		err := Run(ctx, &one, Wiring{
			Options: w.Options,
			// Run calls Summary with the outcome of every run that
			// started; the repetition prints its own one-line summary.
			Summary: func(_ io.Writer, o *runner.Outcome) error { got = o; return nil },
		})
		if got != nil && got.Result != nil && got.Result.Status == result.StatusInterrupted {
			sum.Interrupted = true
			sum.Partial = movePartial(dir, rd, ios.ErrOut)
			break
		}
		if got != nil && got.Result != nil {
			r := got.Result
			sum.Complete++
			if r.BestBefore.Found {
				qps = append(qps, r.BestBefore.QPS)
			}
			if opts.Format == "json" {
				var b bytes.Buffer
				if err := WriteJSONSummary(&b, got); err == nil {
					sum.Runs = append(sum.Runs, json.RawMessage(bytes.TrimSpace(b.Bytes())))
				}
			} else {
				fmt.Fprintln(ios.Out, repLine(i, opts.Repeat, got))
			}
		}
		if err != nil {
			if cmdutil.CodeOf(err) == cmdutil.ExitInterrupted {
				sum.Interrupted = true
				break
			}
			// A run that could not be carried out (or bad input) ends the
			// series: the next one would fail the same way.
			runErr = err
			break
		}
	}
	sum.BestBefore = SpreadOf(qps)
	if opts.Format == "json" {
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		writeSpread(ios.Out, sum)
	}
	switch {
	case runErr != nil:
		return runErr
	case sum.Interrupted:
		fmt.Fprintf(ios.ErrOut, "interrupted after %d of %d repetitions; %s holds the completed ones\n", sum.Complete, opts.Repeat, dir)
		return cmdutil.Interrupted(nil)
	}
	return nil
}

// repeatDir is --out, or reports/<scenario>-<time> as for a single run.
func repeatDir(opts *Options, w Wiring) (string, error) {
	if opts.OutDir != "" {
		return opts.OutDir, nil
	}
	ro := runner.Options{ScenarioPath: opts.Scenario, Overrides: opts.Set}
	if w.Options != nil {
		w.Options(&ro)
	}
	s, err := runner.LoadScenario(&ro)
	if err != nil {
		return "", cmdutil.BadInput(err)
	}
	name := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '-'
	}, s.Name)
	return filepath.Join("reports", fmt.Sprintf("%s-%s", name, time.Now().Format("20060102-150405"))), nil
}

// checkFresh refuses a directory that already holds results: compare reads
// every DIR/*/result.json, so old runs would silently join the new ones.
func checkFresh(dir string) error {
	old, _ := filepath.Glob(filepath.Join(dir, "*", "result.json"))
	if len(old) > 0 {
		return cmdutil.BadInputf("--out %s already holds results (%s): compare would mix them with the new repetitions; remove them or choose another directory", dir, old[0])
	}
	return nil
}

// movePartial moves an interrupted repetition to DIR/partial/rep-NN and
// returns where it went ("" when it could not be moved).
func movePartial(dir, rd string, stderr io.Writer) string {
	if _, err := os.Stat(rd); err != nil {
		return ""
	}
	dst := filepath.Join(dir, PartialDir, filepath.Base(rd))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
		if err = os.Rename(rd, dst); err == nil {
			fmt.Fprintf(stderr, "the interrupted repetition's partial result moved to %s (compare %s reads only the completed ones)\n", dst, dir)
			return dst
		}
	}
	fmt.Fprintf(stderr, "could not move the interrupted repetition %s aside; remove it before comparing %s\n", rd, dir)
	return ""
}

func repLine(i, k int, o *runner.Outcome) string {
	r := o.Result
	bb := "no best-before (no step met the objectives)"
	if r.BestBefore.Found {
		bb = fmt.Sprintf("best-before %s QPS, N-1 %s QPS, limited by %s", num(r.BestBefore.QPS), num(r.BestBefore.NMinus1QPS), r.BestBefore.LimitedBy)
	}
	el := ""
	if !r.StartedAt.IsZero() && r.FinishedAt.After(r.StartedAt) {
		el = fmt.Sprintf(" in %v", r.FinishedAt.Sub(r.StartedAt).Round(time.Second))
	}
	return fmt.Sprintf("rep %d/%d  %s%s, %d steps: %s  (%s)", i, k, r.Status, el, len(r.Steps), bb, o.ResultPath)
}

func writeSpread(w io.Writer, s RepeatSummary) {
	switch s.BestBefore.N {
	case 0:
		fmt.Fprintf(w, "\nno repetition found a best-before QPS (%d of %d completed)\n", s.Complete, s.Repeat)
	case 1:
		fmt.Fprintf(w, "\nbest-before over 1 run: %s QPS\n", num(s.BestBefore.Median))
	default:
		b := s.BestBefore
		fmt.Fprintf(w, "\nbest-before over %d runs: min %s, median %s, max %s QPS (range %.1f%% of the median)\n",
			b.N, num(b.Min), num(b.Median), num(b.Max), 100*b.Range)
	}
	fmt.Fprintf(w, "compare it: bestbefore compare BASELINE %s\n", s.Dir)
}

func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// checkRepeatFlags refuses --repeat values RunRepeat cannot honour.
func checkRepeatFlags(opts *Options, set bool) error {
	if set && opts.Repeat < 1 {
		return cmdutil.BadInputf("--repeat must be at least 1, got %d", opts.Repeat)
	}
	if opts.Repeat > 0 && opts.Shard != "" {
		return cmdutil.BadInputf("--repeat cannot be combined with --shard: repeat the whole sharded run instead")
	}
	return nil
}
