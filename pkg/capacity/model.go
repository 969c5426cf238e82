package capacity

import (
	"math"
	"sort"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// DefaultKneeFactor is how many times its low-load value p99 must reach
// for FindKnee to call it a knee.
const DefaultKneeFactor = 2.0

// usable reports whether a step is a sound measurement of the target: the
// generator kept up, requests were due, and it is part of the ramp or its
// refinement (a node-loss hold step runs on fewer nodes).
func usable(s result.Step) bool {
	return !s.Generator.Saturated && !s.Partial && s.Requests > 0 && s.Phase != result.PhaseHold
}

// Measurements turns the steps of a run into USL measurements: concurrency
// by Little's law (achieved QPS × mean latency in seconds, or the step's
// little_concurrency when set) and throughput the achieved QPS. Steps the
// generator saturated, hold steps, empty steps and steps where more than
// half of the requests failed (their throughput is mostly failures) are
// skipped.
func Measurements(steps []result.Step) []Measurement {
	var ms []Measurement
	for _, s := range steps {
		if !usable(s) || s.ErrorRate > 0.5 || !(s.AchievedQPS > 0) {
			continue
		}
		n := s.LittleConcurrency
		if !(n > 0) {
			n = s.AchievedQPS * s.LatencyMS.Mean / 1000
		}
		if !(n > 0) {
			continue
		}
		ms = append(ms, Measurement{Concurrency: n, Throughput: s.AchievedQPS})
	}
	return ms
}

// FindKnee finds where p99 latency starts to climb steeply.
//
// The rule: order the sound steps (see Measurements; failing steps count
// here) by offered load. The baseline is the median p99 of the lowest-load
// third of them (at least one, at most three steps). The knee is the first
// step whose p99 exceeds factor × baseline while the next step up, if
// there is one, exceeds it too, so that a single noisy step is not taken
// for a knee. With factor ≤ 0, DefaultKneeFactor (2×) is used.
//
// It returns nil when fewer than three steps are usable or p99 never
// climbs that far within the measured range.
func FindKnee(steps []result.Step, factor float64) *result.Knee {
	if !(factor > 0) {
		factor = DefaultKneeFactor
	}
	var ss []result.Step
	for _, s := range steps {
		if usable(s) && s.LatencyMS.P99 > 0 {
			ss = append(ss, s)
		}
	}
	if len(ss) < 3 {
		return nil
	}
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].OfferedQPS < ss[j].OfferedQPS })
	k := min(max(len(ss)/3, 1), 3)
	low := make([]float64, k)
	for i := range k {
		low[i] = ss[i].LatencyMS.P99
	}
	sort.Float64s(low)
	baseline := low[k/2]
	if k%2 == 0 {
		baseline = (low[k/2-1] + low[k/2]) / 2
	}
	limit := factor * baseline
	for i := k; i < len(ss); i++ {
		if ss[i].LatencyMS.P99 <= limit {
			continue
		}
		if i+1 < len(ss) && ss[i+1].LatencyMS.P99 <= limit {
			continue
		}
		return &result.Knee{QPS: ss[i].OfferedQPS, P99MS: ss[i].LatencyMS.P99, Step: ss[i].Index}
	}
	return nil
}

// USLFromModel converts a fitted model to its place in result.json. A
// peak the model does not predict (κ = 0) is written as 0, with a warning.
func USLFromModel(m *USLModel) *result.USL {
	n, x := m.Peak()
	u := &result.USL{Sigma: m.Sigma, Kappa: m.Kappa, Lambda: m.Lambda, R2: m.R2, Warnings: m.Warnings()}
	if !math.IsInf(n, 0) && !math.IsNaN(n) {
		u.PeakConcurrency = n
	}
	if !math.IsInf(x, 0) && !math.IsNaN(x) {
		u.PeakQPS = x
	}
	return u
}

// ModelFromResult fits the USL to a result's steps and finds the p99
// knee, ready to attach as r.Capacity. Either part is nil when it cannot
// be derived (e.g. too few sound steps); the whole is nil when neither can.
// It never replaces the measured best-before.
func ModelFromResult(r *result.Result) *result.CapacityModel {
	if r == nil {
		return nil
	}
	cm := &result.CapacityModel{Knee: FindKnee(r.Steps, DefaultKneeFactor)}
	if m, err := FitUSL(Measurements(r.Steps)); err == nil {
		cm.USL = USLFromModel(m)
	}
	if cm.USL == nil && cm.Knee == nil {
		return nil
	}
	return cm
}
