// Package comparetest simulates runs of a k-slot server, seeded and fast,
// so the regression gate can be tested against a known truth without a
// network: what a run of bestbefore would record against a server whose
// service time is known.
package comparetest

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// Server is a queueing server: Slots requests are served at once, each
// holding its slot for a lognormal service time; the rest wait in FIFO
// order. Its capacity is about Slots / mean service time.
type Server struct {
	Slots int
	// ServiceMS is the median service time in milliseconds.
	ServiceMS float64
	// Sigma is the lognormal shape of service times (0.3-0.6 is typical).
	Sigma float64
	// RunNoise is the standard deviation of a per-run speed factor (log
	// scale): two runs on a shared machine are never equally fast.
	RunNoise float64
	// Drift is the per-interval noise of the speed factor (log scale, an
	// AR(1) process with coefficient 0.7): a noisy neighbour comes and goes.
	Drift float64
	// ErrorRate is the share of requests that fail.
	ErrorRate float64
}

// Plan is the ramp a simulated run follows.
type Plan struct {
	Name string
	// Rates are the offered rates of the ramp steps, in order.
	Rates []float64
	// Intervals is the number of one-second intervals measured per step.
	Intervals int
	// WarmupS is the warmup discarded at the start of each step, seconds.
	WarmupS int
	// P99MS and ErrorRate are the objectives a step must meet.
	P99MS     float64
	ErrorRate float64
	// StopAfterFailures ends the ramp after that many failing steps in a row (default 2).
	StopAfterFailures int
}

// Run simulates one run of plan against srv with Poisson arrivals.
func Run(srv Server, plan Plan, seed uint64) *result.Result {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	errRate := plan.ErrorRate
	r := &result.Result{
		Schema:     result.SchemaV1,
		Name:       plan.Name,
		Status:     result.StatusCompleted,
		StartedAt:  start,
		Manifest:   result.Manifest{Tool: "bestbefore", CPUs: 1, Seed: int64(seed), Scenario: plan.Name},
		Objectives: result.Objectives{"latency.p99": plan.P99MS, "error_rate": errRate},
		BestBefore: result.BestBefore{Step: -1},
	}
	stop := plan.StopAfterFailures
	if stop == 0 {
		stop = 2
	}
	runFactor := rng.NormFloat64() * srv.RunNoise
	drift := 0.0
	fails := 0
	at := start
	for i, qps := range plan.Rates {
		st := simulateStep(srv, plan, qps, rng, runFactor, &drift)
		st.Index = i
		st.StartedAt = at
		at = at.Add(time.Duration(plan.WarmupS+plan.Intervals) * time.Second)
		st.SLOPass = st.LatencyMS.P99 <= plan.P99MS && st.ErrorRate <= plan.ErrorRate
		if !st.SLOPass {
			if st.LatencyMS.P99 > plan.P99MS {
				st.Failed = append(st.Failed, "latency.p99")
			}
			if st.ErrorRate > plan.ErrorRate {
				st.Failed = append(st.Failed, "error_rate")
			}
		}
		r.Steps = append(r.Steps, st)
		if st.SLOPass {
			fails = 0
			if r.BestBefore.FirstFailQPS == 0 {
				r.BestBefore.Found = true
				r.BestBefore.QPS = qps
				r.BestBefore.Step = i
			}
			continue
		}
		if r.BestBefore.FirstFailQPS == 0 {
			r.BestBefore.FirstFailQPS = qps
			r.BestBefore.LimitedBy = st.Failed[0]
		}
		fails++
		if fails >= stop {
			break
		}
	}
	if r.BestBefore.FirstFailQPS == 0 {
		r.BestBefore.LimitedBy = "max_qps"
	}
	r.BestBefore.Nodes = 1
	r.BestBefore.SafetyMargin = 1
	r.BestBefore.NMinus1QPS = 0
	r.FinishedAt = at
	return r
}

func simulateStep(srv Server, plan Plan, qps float64, rng *rand.Rand, runFactor float64, drift *float64) result.Step {
	slots := make([]float64, srv.Slots) // when each slot is next free, seconds
	total := float64(plan.WarmupS + plan.Intervals)
	recs := make([]*stats.Recorder, plan.Intervals)
	for i := range recs {
		recs[i] = stats.NewRecorder()
	}
	reqs := make([]int64, plan.Intervals)
	errs := make([]int64, plan.Intervals)
	speed := math.Exp(runFactor + *drift)
	sec := 0
	for t := rng.ExpFloat64() / qps; t < total; t += rng.ExpFloat64() / qps {
		for int(t) > sec {
			sec++
			*drift = 0.7**drift + rng.NormFloat64()*srv.Drift
			speed = math.Exp(runFactor + *drift)
		}
		k := 0
		for j := 1; j < len(slots); j++ {
			if slots[j] < slots[k] {
				k = j
			}
		}
		begin := math.Max(t, slots[k])
		service := srv.ServiceMS / 1000 * math.Exp(srv.Sigma*rng.NormFloat64()) * speed
		slots[k] = begin + service
		iv := int(t) - plan.WarmupS
		if iv < 0 {
			continue
		}
		reqs[iv]++
		if rng.Float64() < srv.ErrorRate {
			errs[iv]++
		}
		recs[iv].Record(time.Duration((slots[k] - t) * float64(time.Second)))
	}
	st := result.Step{
		Phase:      result.PhaseRamp,
		OfferedQPS: qps,
		DurationS:  float64(plan.Intervals),
		WarmupS:    float64(plan.WarmupS),
	}
	all := stats.New()
	for i := range recs {
		h, err := stats.Encode(recs[i].H)
		if err != nil {
			panic(err) // an in-range histogram always encodes
		}
		stats.Merge(all, recs[i].H)
		st.Intervals = append(st.Intervals, result.Interval{OffsetS: float64(i), Requests: reqs[i], Errors: errs[i], Histogram: h})
		st.Requests += reqs[i]
		st.Errors += errs[i]
	}
	st.Successes = st.Requests - st.Errors
	if st.Requests > 0 {
		st.ErrorRate = float64(st.Errors) / float64(st.Requests)
	}
	if st.Errors > 0 {
		st.ErrorsByClass = map[string]int64{result.ClassHTTP5xx: st.Errors}
	}
	st.AchievedQPS = float64(st.Requests) / st.DurationS
	st.LatencyMS = result.Summarize(all)
	st.Histogram, _ = stats.Encode(all)
	return st
}
