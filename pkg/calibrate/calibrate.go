// Package calibrate measures how much load this machine can generate:
// the highest constant rate the real engine (pkg/attack with the lean
// HTTP/1.1 client) sends on schedule, with send lag p99 under a bound,
// against a minimal HTTP server in the same process on loopback.
//
// The figure includes the cost of serving those requests: the server
// shares the process and the cores, so the generator alone would go
// somewhat higher. It is an upper bound for `run` on this machine (a real
// target costs far more to serve than the calibration server), which is
// why `run` warns when a scenario ramps above it.
package calibrate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/pace"
	"github.com/bestbefore/bestbefore/pkg/stats"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Defaults for Options.
const (
	DefaultDuration   = 2 * time.Second
	DefaultStart      = 1000.0
	DefaultMax        = 100000.0
	DefaultMaxSendLag = time.Millisecond
	DefaultBudget     = 30 * time.Second
	DefaultTolerance  = 0.05
	DefaultMaxTrials  = 16
	// MinRate is the lowest rate tried; a machine that cannot send it on
	// schedule has no calibrated figure.
	MinRate = 10.0
)

// Schema names the calibration document's format.
const Schema = "bestbefore.calibrate/v1"

// ErrNoRate is returned (with the report) when even the lowest rate tried
// was not sent on schedule.
var ErrNoRate = errors.New("calibrate: no rate was sent on schedule")

// Options configure Run. Zero values take the defaults.
type Options struct {
	// Duration of each trial, its first fifth a warmup that is not measured.
	Duration time.Duration
	// Start is the first rate tried; Max the highest.
	Start float64
	Max   float64
	// MaxSendLag is the send lag p99 a passing trial stays under.
	MaxSendLag time.Duration
	// Budget bounds the whole search: no trial starts that would end
	// after it.
	Budget time.Duration
	// Tolerance ends the bisection when the failing rate is within this
	// share of the passing one.
	Tolerance float64
	// MaxTrials bounds the number of trials.
	MaxTrials int
	// Retries is how many times a failing rate is tried again before it
	// counts as failed: a shared machine's hiccup (another process, a GC)
	// can fail one trial at a rate the generator sustains. Default 1;
	// negative for none.
	Retries int
	// Progress, when set, is told about each trial as it ends.
	Progress func(Trial)
	// Trial, when set, replaces the engine (tests): it runs one trial at
	// rate for d and says what was measured; Pass and Why are filled in by
	// Run.
	Trial func(ctx context.Context, rate float64, d time.Duration) (Trial, error)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Trial is one constant-rate attempt.
type Trial struct {
	RateQPS     float64 `json:"rate_qps"`
	AchievedQPS float64 `json:"achieved_qps"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	// SendLag* are the delays between each request's intended and actual
	// send time, ms.
	SendLagP50MS float64 `json:"send_lag_p50_ms"`
	SendLagP99MS float64 `json:"send_lag_p99_ms"`
	SendLagMaxMS float64 `json:"send_lag_max_ms"`
	LatencyP99MS float64 `json:"latency_p99_ms"`
	// CPUPercent is the process's CPU (generator and server) in percent of
	// one core; CPUPerRequestUS the same per request sent, µs.
	CPUPercent      float64 `json:"cpu_percent"`
	CPUPerRequestUS float64 `json:"cpu_per_request_us"`
	Pass            bool    `json:"pass"`
	// Why says what failed: send_lag, errors or throughput.
	Why    string `json:"why,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Report is the outcome of a calibration, also the document cached for
// `run` and printed by `calibrate --json`.
type Report struct {
	Schema string `json:"schema"`
	// Found is false when no rate passed.
	Found bool `json:"found"`
	// RateQPS is the highest rate sent on schedule; the other figures are
	// those of that trial.
	RateQPS         float64 `json:"rate_qps"`
	CPUPerRequestUS float64 `json:"cpu_per_request_us"`
	CPUPercent      float64 `json:"cpu_percent"`
	SendLagP50MS    float64 `json:"send_lag_p50_ms"`
	SendLagP99MS    float64 `json:"send_lag_p99_ms"`
	MaxSendLagMS    float64 `json:"max_send_lag_ms"`
	// LimitedBy says what bounded the figure: send_lag, errors or
	// throughput (a higher rate failed, FirstFailQPS), max (the highest
	// rate allowed passed), budget or trials (the search ran out of time or
	// trials before any rate failed).
	LimitedBy string `json:"limited_by"`
	// FirstFailQPS is the lowest rate that failed, 0 if none did.
	FirstFailQPS float64 `json:"first_fail_qps,omitempty"`
	// IncludesServing is always true: the calibration server runs in the
	// same process, so its CPU is part of the figures.
	IncludesServing bool      `json:"includes_serving"`
	Note            string    `json:"note"`
	Machine         Machine   `json:"machine"`
	MeasuredAt      time.Time `json:"measured_at"`
	TrialS          float64   `json:"trial_s"`
	ElapsedS        float64   `json:"elapsed_s"`
	Trials          []Trial   `json:"trials"`
}

// Note is the caveat every report carries.
const Note = "measured against a minimal HTTP server in the same process on loopback: the figures include serving the requests, and a real target costs more to serve"

func (o *Options) defaults() error {
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Start == 0 {
		o.Start = DefaultStart
	}
	if o.Max == 0 {
		o.Max = DefaultMax
	}
	if o.MaxSendLag == 0 {
		o.MaxSendLag = DefaultMaxSendLag
	}
	if o.Budget == 0 {
		o.Budget = DefaultBudget
	}
	if o.Tolerance == 0 {
		o.Tolerance = DefaultTolerance
	}
	if o.MaxTrials == 0 {
		o.MaxTrials = DefaultMaxTrials
	}
	if o.Retries == 0 {
		o.Retries = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.Duration < 100*time.Millisecond:
		return fmt.Errorf("duration must be at least 100ms, got %v", o.Duration)
	case !(o.Max >= MinRate) || math.IsInf(o.Max, 0):
		return fmt.Errorf("max must be at least %v QPS, got %v", MinRate, o.Max)
	case !(o.Start >= MinRate) || math.IsInf(o.Start, 0):
		return fmt.Errorf("start must be at least %v QPS, got %v", MinRate, o.Start)
	case o.MaxSendLag < 0:
		return fmt.Errorf("max send lag must be positive, got %v", o.MaxSendLag)
	case o.Budget < o.Duration:
		return fmt.Errorf("budget %v is shorter than one trial (%v)", o.Budget, o.Duration)
	case !(o.Tolerance > 0 && o.Tolerance < 1):
		return fmt.Errorf("tolerance must be in (0, 1), got %v", o.Tolerance)
	case o.MaxTrials < 1:
		return fmt.Errorf("max trials must be at least 1, got %d", o.MaxTrials)
	}
	if o.Start > o.Max {
		o.Start = o.Max
	}
	return nil
}

// Run searches for the highest rate sent on schedule: it doubles the rate
// from Start until a trial fails (or Max passes), then bisects between the
// last passing and the first failing rate until they are within Tolerance.
// A failing first trial divides the rate by four until one passes. A rate
// fails only when it fails Retries+1 trials in a row.
// The report is returned also with an error (interrupted, ErrNoRate),
// holding the trials done.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	began := o.Now()
	rep := &Report{
		Schema: Schema, IncludesServing: true, Note: Note, Machine: CurrentMachine(),
		MeasuredAt: began.UTC(), TrialS: o.Duration.Seconds(),
		MaxSendLagMS: float64(o.MaxSendLag) / float64(time.Millisecond), Trials: []Trial{},
	}
	run := o.Trial
	if run == nil {
		e, err := newEngine(o)
		if err != nil {
			return rep, fmt.Errorf("calibrate: %w", err)
		}
		defer e.Close()
		run = e.trial
	}

	lo, hi := 0.0, math.Inf(1)
	var longest time.Duration
	rate := o.Start
	retries := max(o.Retries, 0)
	err := func() error {
		for {
			// Out of trials or time: the figure stands, bounded by the
			// failing rate if one was found.
			if len(rep.Trials) >= o.MaxTrials {
				if rep.FirstFailQPS == 0 {
					rep.LimitedBy = "trials"
				}
				return nil
			}
			el := o.Now().Sub(began)
			if el+max(longest, o.Duration) > o.Budget {
				if rep.FirstFailQPS == 0 {
					rep.LimitedBy = "budget"
				}
				return nil
			}
			t0 := o.Now()
			t, err := run(ctx, rate, o.Duration)
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			longest = max(longest, o.Now().Sub(t0))
			t.RateQPS = rate
			judge(&t, o.MaxSendLag)
			rep.Trials = append(rep.Trials, t)
			if o.Progress != nil {
				o.Progress(t)
			}
			if !t.Pass && retries > 0 {
				retries--
				continue
			}
			retries = max(o.Retries, 0)
			if t.Pass {
				lo = rate
				rep.setBest(t)
				if rate >= o.Max {
					rep.LimitedBy = "max"
					return nil
				}
			} else {
				hi = rate
				rep.FirstFailQPS = rate
				rep.LimitedBy = t.Why
			}
			switch {
			case math.IsInf(hi, 1):
				rate = math.Min(rate*2, o.Max)
			case lo == 0:
				rate = math.Round(rate / 4)
				if rate < MinRate {
					return nil
				}
			default:
				if hi-lo <= o.Tolerance*hi {
					return nil
				}
				rate = math.Round((lo + hi) / 2)
				if rate <= lo || rate >= hi {
					return nil
				}
			}
		}
	}()
	rep.ElapsedS = o.Now().Sub(began).Seconds()
	if err != nil {
		return rep, fmt.Errorf("calibrate: %w", err)
	}
	if !rep.Found {
		return rep, fmt.Errorf("%w: %.0f QPS failed (%s)", ErrNoRate, rep.FirstFailQPS, rep.LimitedBy)
	}
	return rep, nil
}

func (r *Report) setBest(t Trial) {
	if r.Found && t.RateQPS <= r.RateQPS {
		return
	}
	r.Found = true
	r.RateQPS = t.RateQPS
	r.CPUPerRequestUS = t.CPUPerRequestUS
	r.CPUPercent = t.CPUPercent
	r.SendLagP50MS = t.SendLagP50MS
	r.SendLagP99MS = t.SendLagP99MS
}

// judge decides whether a trial kept its schedule: send lag p99 within
// maxLag, at most 0.1% errors, and at least 95% of the rate completed.
func judge(t *Trial, maxLag time.Duration) {
	lagMS := float64(maxLag) / float64(time.Millisecond)
	t.Pass, t.Why, t.Detail = true, "", ""
	switch {
	case t.Requests == 0:
		t.Pass, t.Why, t.Detail = false, "throughput", "no request was measured"
	case t.SendLagP99MS > lagMS:
		t.Pass, t.Why = false, "send_lag"
		t.Detail = fmt.Sprintf("send lag p99 %.3fms above %.3fms", t.SendLagP99MS, lagMS)
	case float64(t.Errors) > 0.001*float64(t.Requests):
		t.Pass, t.Why = false, "errors"
		t.Detail = fmt.Sprintf("%d of %d requests failed", t.Errors, t.Requests)
	case t.AchievedQPS < 0.95*t.RateQPS:
		t.Pass, t.Why = false, "throughput"
		t.Detail = fmt.Sprintf("%.0f QPS completed of %.0f", t.AchievedQPS, t.RateQPS)
	}
}

// engine runs trials through the real attacker against the in-process
// server; connections are kept from trial to trial.
type engine struct {
	srv *server
	atk *attack.Attacker
	req []*attack.Prepared
}

const maxInFlight = 1024

func newEngine(o Options) (*engine, error) {
	srv, err := startServer()
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(srv.URL())
	if err != nil {
		srv.Close()
		return nil, err
	}
	d, err := attack.NewH1Doer(srv.URL(), h1.Options{MaxConns: maxInFlight, MaxResponseBytes: 1 << 16})
	if err != nil {
		srv.Close()
		return nil, err
	}
	atk := attack.New(attack.Options{
		Targets:     []attack.Target{{Base: base, Doer: d}},
		MaxInFlight: maxInFlight, Timeout: attack.DefaultTimeout, MaxSendLag: o.MaxSendLag,
		Coalesce: attack.CoalesceFor(o.MaxSendLag),
	})
	req, err := attack.Prepare(&traffic.Request{Method: "GET", Path: "/calibrate"}, base, nil)
	if err != nil {
		atk.Close()
		srv.Close()
		return nil, err
	}
	return &engine{srv: srv, atk: atk, req: []*attack.Prepared{req}}, nil
}

func (e *engine) Close() {
	e.atk.Close()
	e.srv.Close()
}

// constFeed sends the same request at a constant rate.
type constFeed struct {
	arr *pace.Constant
	req []*attack.Prepared
}

func (f *constFeed) Next() (attack.Item, error) {
	return attack.Item{Offset: f.arr.Next(), Req: f.req}, nil
}

func (e *engine) trial(ctx context.Context, rate float64, d time.Duration) (Trial, error) {
	ss, err := e.atk.Step(ctx, &constFeed{arr: pace.NewConstant(rate), req: e.req},
		attack.StepSpec{Rate: rate, Duration: d, Warmup: d / 5})
	if err != nil {
		return Trial{}, err
	}
	if !ss.Completed {
		if err := ctx.Err(); err != nil {
			return Trial{}, err
		}
		return Trial{}, errors.New("the trial was cut short")
	}
	t := Trial{
		Requests: ss.Requests, Errors: ss.Requests - ss.Successes,
		SendLagP50MS: stats.QuantileMS(ss.SendLag, 50), SendLagP99MS: stats.QuantileMS(ss.SendLag, 99),
		SendLagMaxMS: float64(ss.SendLag.Max()) / 1000, LatencyP99MS: stats.QuantileMS(ss.Latency, 99),
	}
	if w := ss.Window.Seconds(); w > 0 {
		t.AchievedQPS = float64(ss.Successes) / w
	}
	if w := ss.Wall.Seconds(); w > 0 {
		t.CPUPercent = 100 * ss.CPU.Seconds() / w
	}
	// Every request due in the step was sent (warmup included); the CPU
	// covers them all.
	if sent := rate * d.Seconds(); sent >= 1 {
		t.CPUPerRequestUS = float64(ss.CPU.Microseconds()) / sent
	}
	return t, nil
}
