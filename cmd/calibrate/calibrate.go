// Package calibrate is the `bestbefore calibrate` command: how much load
// this machine can generate, measured.
package calibrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/calibrate"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
)

// Options holds the flags of `calibrate`.
type Options struct {
	IO         *iostreams.IOStreams
	JSON       bool
	Quiet      bool
	Duration   time.Duration
	Start      float64
	Max        float64
	MaxSendLag time.Duration
	Budget     time.Duration
	// Save writes the figure to CachePath (default: the user cache dir)
	// for `run` to warn against.
	Save      bool
	CachePath string
	// Trial replaces the engine in tests.
	Trial func(ctx context.Context, rate float64, d time.Duration) (calibrate.Trial, error)
}

// NewCmdCalibrate builds `calibrate`; runF replaces the action in tests.
func NewCmdCalibrate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	var noSave bool
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Measure how much load this machine can generate",
		Long: `calibrate finds the highest constant rate this machine sends on schedule
(send lag p99 under --max-send-lag) through the same engine and HTTP/1.1
client as run, against a minimal HTTP server started in the same process
on loopback. It doubles the rate from --start until a trial fails or
--max passes, then bisects to within 5%; each trial lasts --duration (its
first fifth is warmup) and the search stops within --budget.

The figure includes serving the requests: the server shares the process
and the cores. A real target costs more to serve, so treat it as the
most one generator on this machine can offer, not what a run will reach.

The result is saved to $XDG_CACHE_HOME/bestbefore/calibrate.json (the
user cache directory), with the machine's hostname, CPU model and
GOMAXPROCS. run reads it and warns, on stderr and in result.json's
warnings, when a scenario ramps above the figure; only a calibration of
the same machine counts, and run never calibrates by itself.

Exit codes: 0 done, 2 bad flags, 3 no rate was sent on schedule,
130 interrupted.`,
		Example: `  bestbefore calibrate
  bestbefore calibrate --json | jq .rate_qps
  bestbefore calibrate --max-send-lag 5ms --duration 3s --budget 60s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Save = !noSave
			if opts.Duration < 100*time.Millisecond {
				return cmdutil.BadInputf("--duration must be at least 100ms, got %v", opts.Duration)
			}
			if opts.Max < calibrate.MinRate {
				return cmdutil.BadInputf("--max must be at least %v QPS, got %v", calibrate.MinRate, opts.Max)
			}
			if opts.Start < calibrate.MinRate {
				return cmdutil.BadInputf("--start must be at least %v QPS, got %v", calibrate.MinRate, opts.Start)
			}
			if opts.MaxSendLag <= 0 {
				return cmdutil.BadInputf("--max-send-lag must be positive, got %v", opts.MaxSendLag)
			}
			if opts.Budget < opts.Duration {
				return cmdutil.BadInputf("--budget %v is shorter than one trial (--duration %v)", opts.Budget, opts.Duration)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.JSON, "json", false, "print the calibration as JSON on stdout")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "no per-trial lines on stderr")
	fl.DurationVar(&opts.Duration, "duration", calibrate.DefaultDuration, "length of each trial")
	fl.Float64Var(&opts.Start, "start", calibrate.DefaultStart, "first rate tried, QPS")
	fl.Float64Var(&opts.Max, "max", calibrate.DefaultMax, "highest rate tried, QPS")
	fl.DurationVar(&opts.MaxSendLag, "max-send-lag", calibrate.DefaultMaxSendLag, "send lag p99 a trial must stay under (as monitor.max_send_lag in a scenario)")
	fl.DurationVar(&opts.Budget, "budget", calibrate.DefaultBudget, "longest the whole search may take")
	fl.BoolVar(&noSave, "no-save", false, "do not save the figure for run to warn against")
	fl.StringVar(&opts.CachePath, "cache", "", "where to save the figure (default: the user cache directory's bestbefore/calibrate.json)")
	return cmd
}

// Run calibrates and prints the figure.
func Run(ctx context.Context, opts *Options) error {
	ios := opts.IO
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	co := calibrate.Options{
		Duration: opts.Duration, Start: opts.Start, Max: opts.Max, MaxSendLag: opts.MaxSendLag,
		Budget: opts.Budget, Trial: opts.Trial,
	}
	if !opts.Quiet {
		fmt.Fprintf(ios.ErrOut, "calibrating: trials of %v from %.0f QPS up to %.0f, within %v\n", opts.Duration, opts.Start, opts.Max, opts.Budget)
		co.Progress = func(t calibrate.Trial) { progressLine(ios.ErrOut, t) }
	}
	rep, err := calibrate.Run(ctx, co)
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return cmdutil.Interrupted(errors.New("calibration interrupted; nothing saved"))
	case errors.Is(err, calibrate.ErrNoRate):
		if opts.JSON && rep != nil {
			writeJSON(ios.Out, rep)
		}
		return cmdutil.RunFailed(fmt.Errorf("%v: this machine cannot generate load on schedule at even %v QPS with send lag p99 under %v", err, calibrate.MinRate, opts.MaxSendLag))
	default:
		return cmdutil.RunFailed(err)
	}
	saved := ""
	if opts.Save {
		path := opts.CachePath
		if path == "" {
			path, err = calibrate.DefaultCachePath()
		}
		if err == nil {
			err = calibrate.Save(path, rep)
		}
		if err != nil {
			fmt.Fprintf(ios.ErrOut, "warning: the calibration was not saved: %v\n", err)
		} else {
			saved = path
		}
	}
	if opts.JSON {
		return writeJSON(ios.Out, rep)
	}
	return writeText(ios.Out, rep, saved)
}

func progressLine(w io.Writer, t calibrate.Trial) {
	verdict := "ok"
	if !t.Pass {
		verdict = "FAIL " + t.Detail
	}
	fmt.Fprintf(w, "  %8.0f QPS  achieved %8.0f  send lag p50 %.3fms p99 %.3fms  CPU %5.0f%%  %5.1fµs/req  %s\n",
		t.RateQPS, t.AchievedQPS, t.SendLagP50MS, t.SendLagP99MS, t.CPUPercent, t.CPUPerRequestUS, verdict)
}

func writeJSON(w io.Writer, r *calibrate.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func writeText(w io.Writer, r *calibrate.Report, saved string) error {
	bound := map[string]string{
		"max":        "the highest rate tried (--max) passed",
		"budget":     "the time budget ran out (--budget)",
		"trials":     "the trial limit was reached",
		"send_lag":   fmt.Sprintf("at %.0f QPS the send lag p99 went over %gms", r.FirstFailQPS, r.MaxSendLagMS),
		"errors":     fmt.Sprintf("at %.0f QPS requests failed", r.FirstFailQPS),
		"throughput": fmt.Sprintf("at %.0f QPS fewer than 95%% of the requests completed", r.FirstFailQPS),
	}[r.LimitedBy]
	if bound == "" {
		bound = r.LimitedBy
	}
	m := r.Machine
	_, err := fmt.Fprintf(w, `This machine generates %.0f QPS on schedule (send lag p99 under %gms).
  CPU per request     %.1f µs (generator and in-process server together)
  send lag            p50 %.3fms, p99 %.3fms at %.0f QPS
  process CPU         %.0f%% of one core (GOMAXPROCS %d)
  limited by          %s
  machine             %s, %s, %d CPUs
  %d trials of %gs in %.1fs
Note: %s.
`, r.RateQPS, r.MaxSendLagMS, r.CPUPerRequestUS, r.SendLagP50MS, r.SendLagP99MS, r.RateQPS,
		r.CPUPercent, m.GOMAXPROCS, bound, m.Hostname, m.CPUModel, m.NumCPU, len(r.Trials), r.TrialS, r.ElapsedS, r.Note)
	if err != nil {
		return err
	}
	if saved != "" {
		_, err = fmt.Fprintf(w, "Saved to %s: bestbefore run warns when a scenario ramps above %.0f QPS on this machine.\n", saved, r.RateQPS)
	}
	return err
}
