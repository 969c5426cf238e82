// Package simulate is the `bestbefore simulate` command.
package simulate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/sim"
)

// Options holds the arguments and flags of `simulate`.
type Options struct {
	IO     *iostreams.IOStreams
	Result string
	// ServiceTime is a change of every service time: +20%, -10%, 1.5x.
	ServiceTime string
	Nodes       int
	Set         []string
	Format      string
}

// NewCmdSimulate builds `simulate RESULT.json [--service-time +20%] [--nodes N]`.
func NewCmdSimulate(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "simulate RESULT.json",
		Short: "What best-before would the service have if it were slower, or had another node? (a model fitted to a run)",
		Long: `Fit a queueing model to a real run and ramp it, in virtual time, as the
run was ramped: the same scenario, objectives, judgement and refinement.

The model is the service as the run measured it: its service times as
measured at the lowest load that passed (drawn from that step's own
histogram), and as many slots as the goodput it delivered when saturated
needs. It needs a run that went past the best-before: a run limited by
max_qps never saw the service's capacity, and simulate says so.

First the model ramps unchanged, and its best-before is set beside the
measured one: how well the model fits. Then it ramps with the changes:

  --service-time +20%   every request takes 20% longer (or -10%, or 1.5x)
  --nodes 4             one more node than the run's three: a third more slots
  --set load.arrival=poisson
                        any scenario key, as run --set takes it`,
		Example: `  bestbefore simulate reports/today/result.json --service-time +20%
  bestbefore simulate reports/today/result.json --nodes 4
  bestbefore simulate reports/today/result.json --set load.arrival=bursty --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Result = args[0]
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.ServiceTime, "service-time", "", "change every service time: +20%, -10% or 1.5x")
	cmd.Flags().IntVar(&opts.Nodes, "nodes", 0, "simulate this many nodes instead of the run's (slots scale with them)")
	cmd.Flags().StringArrayVar(&opts.Set, "set", nil, "override a key of the run's scenario, e.g. --set load.arrival=poisson (repeatable)")
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output: text or json")
	cmdutil.FixedValues(cmd, "format", "text", "json")
	return cmd
}

// ParseScale reads a change of service time: "+20%", "-10%", "1.5x".
func ParseScale(v string) (float64, error) {
	v = strings.TrimSpace(v)
	var f float64
	var err error
	switch {
	case v == "":
		return 1, nil
	case strings.HasSuffix(v, "%"):
		f, err = strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		f = 1 + f/100
	case strings.HasSuffix(v, "x"):
		f, err = strconv.ParseFloat(strings.TrimSuffix(v, "x"), 64)
	default:
		return 0, fmt.Errorf("--service-time %q: want a change such as +20%%, -10%% or 1.5x", v)
	}
	if err != nil || !(f > 0.05 && f <= 100) {
		return 0, fmt.Errorf("--service-time %q: want a change such as +20%%, -10%% or 1.5x, leaving service times between 0.05x and 100x", v)
	}
	return f, nil
}

// Prediction is what simulate prints with --format json.
type Prediction struct {
	Model struct {
		Slots         int     `json:"slots"`
		Nodes         int     `json:"nodes"`
		ServiceMeanMS float64 `json:"service_mean_ms"`
		FromStep      int     `json:"service_times_from_step"`
		SaturatedQPS  float64 `json:"saturated_goodput_qps"`
		CapacityQPS   float64 `json:"capacity_qps"`
	} `json:"model"`
	MeasuredQPS   float64           `json:"measured_best_before_qps"`
	FittedQPS     float64           `json:"fitted_best_before_qps"`
	Changes       map[string]string `json:"changes,omitempty"`
	PredictedQPS  float64           `json:"predicted_best_before_qps"`
	PredictedN1   float64           `json:"predicted_n_minus_1_qps"`
	PredictedBy   string            `json:"predicted_limited_by"`
	PredictedOK   bool              `json:"predicted_found"`
	PredictedWhat result.BestBefore `json:"predicted_best_before"`
}

func run(ctx context.Context, opts *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Format != "text" && opts.Format != "json" {
		return cmdutil.BadInputf("simulate: --format must be text or json, got %q", opts.Format)
	}
	scale, err := ParseScale(opts.ServiceTime)
	if err != nil {
		return cmdutil.BadInputf("simulate: %v", err)
	}
	if opts.Nodes < 0 || opts.Nodes > 1000 {
		return cmdutil.BadInputf("simulate: --nodes must be between 1 and 1000, got %d", opts.Nodes)
	}
	r, err := result.Read(opts.Result)
	if err != nil {
		return cmdutil.BadInputf("simulate: %v", err)
	}
	m, err := sim.Fit(r)
	if err != nil {
		return cmdutil.BadInputf("simulate: %s: %v", opts.Result, err)
	}
	s, err := sim.Scenario(r, nil)
	if err != nil {
		return cmdutil.BadInputf("simulate: %s: %v", opts.Result, err)
	}
	changed, err := sim.Scenario(r, opts.Set)
	if err != nil {
		return cmdutil.BadInputf("simulate: %v", err)
	}
	seed := uint64(r.Manifest.Seed)
	fitted, err := m.Predict(ctx, s, seed)
	if err != nil {
		return cmdutil.RunFailed(fmt.Errorf("simulate: %w", err))
	}
	w := sim.WhatIf{ServiceScale: scale, Nodes: opts.Nodes}
	mw := m.With(w)
	predicted, err := mw.Predict(ctx, changed, seed)
	if err != nil {
		return cmdutil.RunFailed(fmt.Errorf("simulate: %w", err))
	}
	var p Prediction
	p.Model.Slots, p.Model.Nodes = m.Service.Slots, m.Nodes
	p.Model.ServiceMeanMS = float64(m.Service.Time.Mean.Microseconds()) / 1000
	p.Model.FromStep, p.Model.SaturatedQPS, p.Model.CapacityQPS = m.ServiceStep, m.SaturatedQPS, m.Service.Capacity()
	p.MeasuredQPS, p.FittedQPS = r.BestBefore.QPS, fitted.BestBefore.QPS
	p.Changes = map[string]string{}
	if opts.ServiceTime != "" {
		p.Changes["service_time"] = opts.ServiceTime
	}
	if opts.Nodes > 0 {
		p.Changes["nodes"] = strconv.Itoa(opts.Nodes)
	}
	for _, kv := range opts.Set {
		k, v, _ := strings.Cut(kv, "=")
		p.Changes[k] = v
	}
	bb := predicted.BestBefore
	p.PredictedQPS, p.PredictedN1, p.PredictedBy, p.PredictedOK, p.PredictedWhat = bb.QPS, bb.NMinus1QPS, bb.LimitedBy, bb.Found, bb
	out := opts.IO.Out
	if opts.Format == "json" {
		e := json.NewEncoder(out)
		e.SetIndent("", "  ")
		return e.Encode(p)
	}
	writeText(out, opts, r, m, p, scale)
	return nil
}

func writeText(out io.Writer, opts *Options, r *result.Result, m sim.Model, p Prediction, scale float64) {
	st := r.Steps[m.ServiceStep]
	fmt.Fprintf(out, "Model of %s: %d slots over %d node(s), service times as measured at %.0f QPS (mean %.2f ms), capacity %.1f QPS\n",
		opts.Result, m.Service.Slots, m.Nodes, st.OfferedQPS, p.Model.ServiceMeanMS, p.Model.CapacityQPS)
	fmt.Fprintf(out, "  (slots: the goodput of %.1f QPS the service delivered when saturated × the mean service time)\n", m.SaturatedQPS)
	if p.MeasuredQPS > 0 {
		fmt.Fprintf(out, "Fit: the model ramped as the run was gives a best-before of %.1f QPS; the run measured %.1f (%+.1f%%)\n",
			p.FittedQPS, p.MeasuredQPS, 100*(p.FittedQPS/p.MeasuredQPS-1))
	} else {
		fmt.Fprintf(out, "Fit: the model ramped as the run was gives a best-before of %.1f QPS; the run found none\n", p.FittedQPS)
	}
	if len(p.Changes) == 0 {
		fmt.Fprintln(out, "No change asked (--service-time, --nodes, --set): the prediction is the fit.")
		return
	}
	var what []string
	if scale != 1 {
		what = append(what, fmt.Sprintf("service time ×%.3g", scale))
	}
	if opts.Nodes > 0 {
		what = append(what, fmt.Sprintf("%d nodes", opts.Nodes))
	}
	what = append(what, opts.Set...)
	if !p.PredictedOK {
		fmt.Fprintf(out, "What if %s: no best-before (limited by %s)\n", strings.Join(what, ", "), p.PredictedBy)
		return
	}
	fmt.Fprintf(out, "What if %s: best-before %.1f QPS (%+.1f%% against the model's own %.1f), limited by %s",
		strings.Join(what, ", "), p.PredictedQPS, 100*(p.PredictedQPS/p.FittedQPS-1), p.FittedQPS, p.PredictedBy)
	if p.PredictedN1 > 0 {
		fmt.Fprintf(out, "; N-1 %.1f QPS", p.PredictedN1)
	}
	fmt.Fprintln(out)
}
