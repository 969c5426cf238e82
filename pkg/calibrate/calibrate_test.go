package calibrate_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/calibrate"
)

// fakeMachine answers trials as a machine that keeps its schedule up to
// limit QPS and lags above it.
func fakeMachine(limit float64, rates *[]float64) func(context.Context, float64, time.Duration) (calibrate.Trial, error) {
	return func(_ context.Context, rate float64, d time.Duration) (calibrate.Trial, error) {
		*rates = append(*rates, rate)
		t := calibrate.Trial{Requests: int64(rate * d.Seconds()), AchievedQPS: rate, SendLagP50MS: 0.05, SendLagP99MS: 0.3, CPUPerRequestUS: 20}
		if rate > limit {
			t.SendLagP99MS = 5
		}
		return t, nil
	}
}

func TestRunFindsTheLimitWithinTolerance(t *testing.T) {
	for _, limit := range []float64{730, 1000, 12345, 61000} {
		var rates []float64
		r, err := calibrate.Run(context.Background(), calibrate.Options{Trial: fakeMachine(limit, &rates), Duration: time.Second, Budget: time.Hour})
		if err != nil {
			t.Fatalf("limit %v: %v", limit, err)
		}
		if !r.Found || r.RateQPS > limit || r.RateQPS < limit*(1-calibrate.DefaultTolerance) {
			t.Errorf("limit %v: found %v (%v), want within 5%% below", limit, r.RateQPS, r.Found)
		}
		if r.FirstFailQPS <= limit || r.FirstFailQPS > limit*1.06 {
			t.Errorf("limit %v: first fail %v, want just above", limit, r.FirstFailQPS)
		}
		if r.LimitedBy != "send_lag" {
			t.Errorf("limit %v: limited_by %q, want send_lag", limit, r.LimitedBy)
		}
		if n := distinct(rates); n > 11 {
			t.Errorf("limit %v: %d rates tried %v, want a geometric ramp and a short bisection", limit, n, rates)
		}
		if len(r.Trials) != len(rates) {
			t.Errorf("limit %v: %d trials reported, %d run", limit, len(r.Trials), len(rates))
		}
		if r.CPUPerRequestUS != 20 || r.SendLagP99MS != 0.3 || !r.IncludesServing || !strings.Contains(r.Note, "same process") {
			t.Errorf("limit %v: report %+v", limit, r)
		}
	}
}

func TestRunStopsAtMax(t *testing.T) {
	var rates []float64
	r, err := calibrate.Run(context.Background(), calibrate.Options{Trial: fakeMachine(1e9, &rates), Start: 1000, Max: 5000, Duration: time.Second, Budget: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{1000, 2000, 4000, 5000}; !equal(rates, want) {
		t.Errorf("rates %v, want %v", rates, want)
	}
	if r.RateQPS != 5000 || r.LimitedBy != "max" {
		t.Errorf("rate %v limited by %q, want 5000 by max", r.RateQPS, r.LimitedBy)
	}
}

func TestRunGoesDownWhenTheFirstRateFails(t *testing.T) {
	var rates []float64
	r, err := calibrate.Run(context.Background(), calibrate.Options{Trial: fakeMachine(300, &rates), Start: 1000, Duration: time.Second, Budget: time.Hour, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rates[0] != 1000 || rates[1] != 250 {
		t.Errorf("rates %v, want 1000 then 250", rates)
	}
	if r.RateQPS > 300 || r.RateQPS < 285 {
		t.Errorf("rate %v, want 285-300", r.RateQPS)
	}

	rates = nil
	r, err = calibrate.Run(context.Background(), calibrate.Options{Trial: fakeMachine(1, &rates), Start: 1000, Duration: time.Second, Budget: time.Hour})
	if !errors.Is(err, calibrate.ErrNoRate) || r == nil || r.Found {
		t.Fatalf("err %v, report %+v: want ErrNoRate and a report without a rate", err, r)
	}
	if last := rates[len(rates)-1]; last < calibrate.MinRate || last > 4*calibrate.MinRate {
		t.Errorf("last rate tried %v, want the search to go down to about %v", last, calibrate.MinRate)
	}
}

// The search never starts a trial that would end past the budget, so the
// whole command is bounded in time.
func TestRunKeepsToTheBudget(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	trial := func(_ context.Context, rate float64, d time.Duration) (calibrate.Trial, error) {
		now = now.Add(d + 100*time.Millisecond)
		return calibrate.Trial{Requests: 100, AchievedQPS: rate, SendLagP99MS: 0.1}, nil
	}
	r, err := calibrate.Run(context.Background(), calibrate.Options{Trial: trial, Now: clock, Duration: 2 * time.Second, Budget: 7 * time.Second, Max: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Trials) != 3 || r.LimitedBy != "budget" {
		t.Errorf("%d trials limited by %q, want 3 by budget", len(r.Trials), r.LimitedBy)
	}
	if r.ElapsedS > 7 {
		t.Errorf("elapsed %vs, over the 7s budget", r.ElapsedS)
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	trial := func(_ context.Context, rate float64, d time.Duration) (calibrate.Trial, error) {
		n++
		if n == 2 {
			cancel()
		}
		return calibrate.Trial{Requests: 100, AchievedQPS: rate, SendLagP99MS: 0.1}, nil
	}
	r, err := calibrate.Run(ctx, calibrate.Options{Trial: trial, Budget: time.Hour})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if r == nil || len(r.Trials) != 1 {
		t.Fatalf("report %+v, want the one trial completed", r)
	}
}

func TestTrialJudgement(t *testing.T) {
	cases := []struct {
		name string
		t    calibrate.Trial
		why  string
	}{
		{"on schedule", calibrate.Trial{Requests: 1000, AchievedQPS: 1000, SendLagP99MS: 0.9}, ""},
		{"late", calibrate.Trial{Requests: 1000, AchievedQPS: 1000, SendLagP99MS: 1.1}, "send_lag"},
		{"errors", calibrate.Trial{Requests: 1000, Errors: 2, AchievedQPS: 998, SendLagP99MS: 0.1}, "errors"},
		{"slow", calibrate.Trial{Requests: 1000, AchievedQPS: 900, SendLagP99MS: 0.1}, "throughput"},
		{"nothing", calibrate.Trial{}, "throughput"},
	}
	for _, c := range cases {
		var got calibrate.Trial
		trial := func(_ context.Context, rate float64, d time.Duration) (calibrate.Trial, error) { return c.t, nil }
		_, _ = calibrate.Run(context.Background(), calibrate.Options{Trial: trial, Start: 1000, Max: 1000, MaxTrials: 1, Budget: time.Hour,
			Progress: func(t calibrate.Trial) { got = t }})
		if got.Why != c.why || got.Pass != (c.why == "") {
			t.Errorf("%s: pass %v why %q (%s), want why %q", c.name, got.Pass, got.Why, got.Detail, c.why)
		}
	}
}

func TestOptionsRejected(t *testing.T) {
	for _, o := range []calibrate.Options{
		{Duration: time.Millisecond},
		{Max: 1},
		{Max: math.Inf(1)},
		{Start: -5},
		{MaxSendLag: -time.Millisecond},
		{Duration: 2 * time.Second, Budget: time.Second},
		{Tolerance: 2},
	} {
		if _, err := calibrate.Run(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// The real engine against the in-process server: a low, generous trial
// passes and the figures are plausible.
func TestRunWithTheEngine(t *testing.T) {
	var trials []calibrate.Trial
	r, err := calibrate.Run(context.Background(), calibrate.Options{
		Duration: 300 * time.Millisecond, Start: 200, Max: 400, MaxSendLag: 50 * time.Millisecond, Budget: 10 * time.Second,
		Progress: func(t calibrate.Trial) { trials = append(trials, t) },
	})
	if err != nil {
		t.Fatalf("%v (trials %+v)", err, trials)
	}
	for _, tr := range trials {
		t.Logf("%+v", tr)
	}
	if r.RateQPS != 400 || r.LimitedBy != "max" {
		t.Errorf("rate %v limited by %q, want 400 by max", r.RateQPS, r.LimitedBy)
	}
	last := r.Trials[len(r.Trials)-1]
	if last.Errors != 0 || last.Requests < 80 || last.AchievedQPS < 300 {
		t.Errorf("last trial %+v: want ~96 requests in the 240ms window, no error", last)
	}
	if r.CPUPerRequestUS <= 0 || r.CPUPerRequestUS > 20000 {
		t.Errorf("cpu per request %vµs, implausible", r.CPUPerRequestUS)
	}
	if r.SendLagP99MS < 0 || r.SendLagP99MS > 50 {
		t.Errorf("send lag p99 %vms", r.SendLagP99MS)
	}
	if !r.Machine.Same(calibrate.CurrentMachine()) || r.Machine.GOMAXPROCS < 1 {
		t.Errorf("machine %+v", r.Machine)
	}
}

func TestCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "calibrate.json")
	if r := calibrate.Cached(path, calibrate.CurrentMachine()); r != nil {
		t.Fatalf("no file: got %+v", r)
	}
	if _, err := calibrate.Load(path); !calibrate.IsNotExist(err) {
		t.Errorf("Load of a missing file: %v, want not-exist", err)
	}
	rep := &calibrate.Report{Schema: calibrate.Schema, Found: true, RateQPS: 8000, MaxSendLagMS: 1, Machine: calibrate.CurrentMachine(),
		MeasuredAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	if err := calibrate.Save(path, rep); err != nil {
		t.Fatal(err)
	}
	got := calibrate.Cached(path, calibrate.CurrentMachine())
	if got == nil || got.RateQPS != 8000 || !got.MeasuredAt.Equal(rep.MeasuredAt) {
		t.Fatalf("cached %+v", got)
	}
	other := calibrate.CurrentMachine()
	other.GOMAXPROCS++
	if calibrate.Cached(path, other) != nil {
		t.Error("a calibration with another GOMAXPROCS was used")
	}
	other = calibrate.CurrentMachine()
	other.Hostname += "-elsewhere"
	if calibrate.Cached(path, other) != nil {
		t.Error("a calibration from another host was used")
	}
	if err := os.WriteFile(path, []byte(`{"schema":"other/v9","found":true,"rate_qps":5}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if calibrate.Cached(path, calibrate.CurrentMachine()) != nil {
		t.Error("a document of another schema was used")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("cache directory holds %d files, want only calibrate.json (no temp file left)", len(entries))
	}
}

func TestAdvice(t *testing.T) {
	rep := &calibrate.Report{Found: true, RateQPS: 8000, MaxSendLagMS: 1, MeasuredAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	if a := calibrate.Advice(8000, rep); a != "" {
		t.Errorf("at the calibrated rate: %q, want no advice", a)
	}
	a := calibrate.Advice(20000, rep)
	for _, want := range []string{"20000 QPS", "8000 QPS", "2026-03-01", "--shard", "saturate"} {
		if !strings.Contains(a, want) {
			t.Errorf("advice %q lacks %q", a, want)
		}
	}
	if calibrate.Advice(20000, nil) != "" {
		t.Error("advice without a calibration")
	}
}

// A hiccup that fails one trial at a rate the machine sustains does not
// end the ramp: a rate fails only when its retry fails too.
func TestRunRetriesAFailedRate(t *testing.T) {
	tries := map[float64]int{}
	trial := func(_ context.Context, rate float64, d time.Duration) (calibrate.Trial, error) {
		tries[rate]++
		tr := calibrate.Trial{Requests: 1000, AchievedQPS: rate, SendLagP99MS: 0.2}
		if rate > 9000 || (rate == 2000 && tries[rate] == 1) {
			tr.SendLagP99MS = 30
		}
		return tr, nil
	}
	r, err := calibrate.Run(context.Background(), calibrate.Options{Trial: trial, Budget: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if r.RateQPS < 8550 || r.RateQPS > 9000 || r.LimitedBy != "send_lag" {
		t.Errorf("rate %v limited by %q, want 8550-9000 by send_lag despite the hiccup at 2000", r.RateQPS, r.LimitedBy)
	}
	if tries[2000] != 2 || tries[16000] != 2 {
		t.Errorf("tries %v, want 2000 and 16000 each tried twice", tries)
	}
}

// Out of budget after a failure, the figure stands and names the failure.
func TestRunBudgetAfterAFailure(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	trial := func(_ context.Context, rate float64, d time.Duration) (calibrate.Trial, error) {
		now = now.Add(d)
		tr := calibrate.Trial{Requests: 1000, AchievedQPS: rate}
		if rate > 3000 {
			tr.Errors = 500
		}
		return tr, nil
	}
	r, err := calibrate.Run(context.Background(), calibrate.Options{Trial: trial, Now: func() time.Time { return now }, Duration: time.Second, Budget: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.RateQPS != 2000 || r.FirstFailQPS != 4000 || r.LimitedBy != "errors" {
		t.Errorf("rate %v first fail %v limited by %q, want 2000, 4000, errors", r.RateQPS, r.FirstFailQPS, r.LimitedBy)
	}
}

func distinct(a []float64) int {
	m := map[float64]bool{}
	for _, v := range a {
		m[v] = true
	}
	return len(m)
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
