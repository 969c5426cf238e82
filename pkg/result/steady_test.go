package result_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// queueStep simulates one open-loop step against a FIFO queue of k servers
// and returns it as a judged step would hold it: latency from each
// request's intended time, the measured window split into trend slices.
// rho is the offered rate over the capacity k / meanService.
func queueStep(rng *rand.Rand, k int, meanService time.Duration, rho float64, poisson, expService bool, step, warmup time.Duration) result.Step {
	capacity := float64(k) / meanService.Seconds()
	rate := rho * capacity
	free := make([]float64, k)
	window := (step - warmup).Seconds()
	slices := make([]*stats.Recorder, 10)
	for i := range slices {
		slices[i] = stats.NewRecorder()
	}
	all := stats.NewRecorder()
	t := 0.0
	for {
		if poisson {
			t += rng.ExpFloat64() / rate
		} else {
			t += 1 / rate
		}
		if t >= step.Seconds() {
			break
		}
		s := meanService.Seconds()
		if expService {
			s *= rng.ExpFloat64()
		}
		j := 0
		for i := range free {
			if free[i] < free[j] {
				j = i
			}
		}
		start := math.Max(t, free[j])
		free[j] = start + s
		off := t - warmup.Seconds()
		if off < 0 {
			continue
		}
		lat := time.Duration((free[j] - t) * float64(time.Second))
		all.Record(lat)
		slices[min(int(off/window*10), 9)].Record(lat)
	}
	st := result.Step{OfferedQPS: rate, DurationS: window, WarmupS: warmup.Seconds(), Requests: all.H.TotalCount(), LatencyMS: result.Summarize(all.H)}
	for i, r := range slices {
		h, _ := stats.Encode(r.H)
		st.Trend = append(st.Trend, result.Interval{OffsetS: window * float64(i) / 10, Requests: r.H.TotalCount(), Histogram: h})
	}
	return st
}

type queueCase struct {
	k          int
	s          time.Duration
	poisson    bool
	expService bool
}

var queueCases = []queueCase{
	{1, 5 * time.Millisecond, false, false}, {1, 5 * time.Millisecond, true, true},
	{4, 25 * time.Millisecond, false, false}, {4, 25 * time.Millisecond, true, true},
	{16, 50 * time.Millisecond, false, false}, {16, 50 * time.Millisecond, true, false}, {16, 50 * time.Millisecond, true, true},
	{8, 20 * time.Millisecond, true, true},
}

func (c queueCase) String() string {
	arr, svc := "constant", "fixed"
	if c.poisson {
		arr = "poisson"
	}
	if c.expService {
		svc = "exponential"
	}
	return fmt.Sprintf("k=%d S=%v %s arrivals, %s service", c.k, c.s, arr, svc)
}

// Steps well under capacity (50-80%) are steady: the steady objective at
// its default bound fails almost none of them, queueing noise included
// (M/M/k at 80% is the noisiest case). Seeded, so the count is exact.
func TestSteadyFalseAlarmsUnderCapacity(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	total, alarms := 0, 0
	for _, step := range []time.Duration{2 * time.Second, 10 * time.Second} {
		for _, c := range queueCases {
			n, a := 0, 0
			for _, rho := range []float64{0.5, 0.6, 0.7, 0.8} {
				for seed := 0; seed < 25; seed++ {
					st := queueStep(rng, c.k, c.s, rho, c.poisson, c.expService, step, step/4)
					n++
					if result.SteadinessOf(&st).Breaks(result.DefaultSteady) {
						a++
					}
				}
			}
			t.Logf("%v steps, %v: %d of %d judged unsteady", step, c, a, n)
			total += n
			alarms += a
		}
	}
	rate := float64(alarms) / float64(total)
	t.Logf("false alarms under 80%% of capacity: %d of %d steps (%.2f%%)", alarms, total, 100*rate)
	if rate > 0.01 {
		t.Errorf("false-alarm rate %.2f%%, want at most 1%%", 100*rate)
	}
}

// Overloaded steps are caught. With fixed service times and constant
// arrivals (the ground-truth servers) 3% over capacity always is, on 2 s
// steps. With Poisson arrivals or random service times a queue's own
// random walk hides a small drift in a short step; there most steps 10%
// over are still caught, and p99 objectives see the rest.
func TestSteadyDetectsOverload(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, rho := range []float64{1.03, 1.1} {
		for _, c := range queueCases {
			n, caught := 0, 0
			for seed := 0; seed < 40; seed++ {
				st := queueStep(rng, c.k, c.s, rho, c.poisson, c.expService, 2*time.Second, 500*time.Millisecond)
				n++
				if result.SteadinessOf(&st).Breaks(result.DefaultSteady) {
					caught++
				}
			}
			t.Logf("ρ=%.2f, 2 s steps, %v: %d of %d caught", rho, c, caught, n)
			want := 0.0
			switch {
			case !c.poisson && !c.expService:
				want = 1
			case rho >= 1.1:
				want = 0.5
			}
			if float64(caught) < want*float64(n) {
				t.Errorf("ρ=%.2f %v: caught %d of %d, want at least %.0f%%", rho, c, caught, n, want*100)
			}
		}
	}
}

// The slope of latency by intended send time is the overload share.
func TestSteadySlopeIsTheOverloadShare(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	st := queueStep(rng, 4, 25*time.Millisecond, 1.05, false, false, 10*time.Second, time.Second)
	tr := result.SteadinessOf(&st)
	// λ/μ − 1 = 0.05 once the queue has formed.
	if !tr.Judged || math.Abs(tr.Slope-0.05) > 0.005 {
		t.Errorf("slope %.4f (judged %v), want 0.05 ± 0.005", tr.Slope, tr.Judged)
	}
	if tr.StartMS >= tr.EndMS {
		t.Errorf("start %.1f ms, end %.1f ms: a growing queue must rise", tr.StartMS, tr.EndMS)
	}
}

// A step with too few requests in its slices is not judged, and a result
// written before trend slices existed is not judged either.
func TestSteadyNotJudgedWithoutData(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	st := queueStep(rng, 1, 100*time.Millisecond, 0.2, false, false, 2*time.Second, 500*time.Millisecond)
	if tr := result.SteadinessOf(&st); tr.Judged {
		t.Errorf("%d requests in 10 slices judged: %+v", st.Requests, tr)
	}
	st.Trend = nil
	if tr := result.SteadinessOf(&st); tr.Judged {
		t.Errorf("no trend judged: %+v", tr)
	}
	steady := result.DefaultSteady
	if fs := result.Judge(&st, result.Objectives{"steady": steady}); len(fs) != 0 {
		t.Errorf("unjudged step failed %v", fs)
	}
}
