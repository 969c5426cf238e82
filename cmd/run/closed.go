package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/rpc"
	"github.com/bestbefore/bestbefore/pkg/runner"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// DefaultClosedDuration is how long a closed loop measures when --duration
// does not say.
const DefaultClosedDuration = 10 * time.Second

// Closed is what a closed loop prints with --format json.
type Closed struct {
	Connections int              `json:"connections"`
	DurationS   float64          `json:"duration_s"`
	WarmupS     float64          `json:"warmup_s"`
	QPS         float64          `json:"qps"`
	Requests    int64            `json:"requests"`
	Errors      int64            `json:"errors"`
	ByClass     map[string]int64 `json:"errors_by_class,omitempty"`
	LatencyMS   result.Latency   `json:"latency_ms"`
	Note        string           `json:"note"`
}

const closedNote = "a closed loop waits for each answer before sending the next, so its latency leaves out the queue an open-loop arrival would have met (coordinated omission): it measures raw capacity; run's ramp finds the best-before"

// runClosed measures the target's raw capacity in a closed loop
// (--connections) and prints it: nothing is written to disk, no
// objective is judged.
func runClosed(ctx context.Context, opts *Options) error {
	ios := opts.IO
	ctx, _, stop := cmdutil.Interrupts(ctx, ios.ErrOut)
	defer stop()
	ro := runner.Options{ScenarioPath: opts.Scenario, Overrides: opts.Set, TrafficOverride: opts.Traffic}
	// --duration is the loop's here, not a fixed-rate step's.
	durFlag := opts.OneLine.Duration
	opts.OneLine.Duration = ""
	cleanup, done, err := oneLineScenario(opts, &ro)
	defer cleanup()
	if err != nil || done {
		return err
	}
	s, err := runner.LoadScenario(&ro)
	if err != nil {
		return cmdutil.BadInput(err)
	}
	t := s.Target
	urls := t.URLs
	if t.URL != "" {
		urls = []string{t.URL}
	}
	if len(urls) == 0 {
		return cmdutil.BadInputf("--connections measures a target given by url or urls (target.bundled and A/B targets ramp with run)")
	}
	trafficPath, info, err := runner.Traffic(ctx, s, ro.TrafficOverride)
	if err == nil {
		err = runner.CheckTargets(ctx, urls, opts.AllowPublic)
	}
	var setup *rpc.Setup
	if err == nil {
		setup, err = runner.GRPCSetup(ctx, s, urls, trafficPath, opts.AllowPublic)
	}
	switch {
	case errors.Is(err, runner.ErrInterrupted):
		return cmdutil.Interrupted(err)
	case errors.Is(err, runner.ErrBadInput):
		return cmdutil.BadInput(err)
	case err != nil:
		return cmdutil.RunFailed(err)
	}
	dur := DefaultClosedDuration
	if durFlag != "" {
		if dur, err = time.ParseDuration(durFlag); err != nil || dur <= 0 {
			return cmdutil.BadInputf("--duration %q: want a positive duration such as 10s", durFlag)
		}
	}
	warmup := s.Load.Warmup.D()
	if !opts.Quiet {
		fmt.Fprintf(ios.ErrOut, "closed loop: %d connections for %s after a %s warmup, against %s\n", opts.Connections, dur, warmup, strings.Join(urls, ", "))
	}
	cfg := sweep.Config{Scenario: s, TargetURLs: urls, TrafficPath: trafficPath, Traffic: info, AllowPublic: opts.AllowPublic}
	if setup != nil {
		cfg.Setup = setup
	}
	st, err := sweep.ClosedLoop(ctx, cfg, opts.Connections, warmup, dur)
	if st == nil {
		if err == nil {
			err = errors.New("the closed loop measured nothing")
		}
		return cmdutil.RunFailed(err)
	}
	c := Closed{Connections: opts.Connections, DurationS: st.DurationS, WarmupS: st.WarmupS, QPS: st.AchievedQPS, Requests: st.Requests,
		Errors: st.Errors, ByClass: st.ErrorsByClass, LatencyMS: st.LatencyMS, Note: closedNote}
	if opts.Format == "json" {
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c); err != nil {
			return err
		}
	} else {
		printClosed(ios, c)
	}
	switch {
	case ctx.Err() != nil:
		return cmdutil.Interrupted(errors.New("interrupted: the figures are over the part that ran"))
	case err != nil:
		return cmdutil.RunFailed(err)
	}
	return nil
}

func printClosed(ios *iostreams.IOStreams, c Closed) {
	w := iostreams.SafeWriter(ios.Out)
	fmt.Fprintf(w, "Closed-loop capacity: %.1f QPS served (%d connections, %.1f s)\n", c.QPS, c.Connections, c.DurationS)
	errs := fmt.Sprintf("%d errors", c.Errors)
	if len(c.ByClass) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(c.ByClass)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, c.ByClass[k]))
		}
		errs += " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(w, "  %d requests, %s\n", c.Requests, errs)
	l := c.LatencyMS
	fmt.Fprintf(w, "  latency from each request's actual send: p50 %s, p90 %s, p99 %s, max %s\n",
		result.FormatMS(l.P50), result.FormatMS(l.P90), result.FormatMS(l.P99), result.FormatMS(l.Max))
	fmt.Fprintf(w, "  Note: %s.\n", closedNote)
}
