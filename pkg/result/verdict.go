package result

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

// latencyFromHistogram reads a percentile the step summary does not hold
// from the step's histogram.
func latencyFromHistogram(s *Step, q float64) (float64, bool) {
	if s.Histogram == "" {
		return 0, false
	}
	h, err := stats.Decode(s.Histogram)
	if err != nil || h.TotalCount() == 0 {
		return 0, false
	}
	return stats.QuantileMS(h, q), true
}

// decide measures the step for the objective and says whether it broke
// a bound; ok is false when the step holds no such measurement.
func (ob *Objective) decide(s *Step, bound float64) (v float64, ok, broke bool) {
	if ob.judge != nil {
		return ob.judge(s, bound)
	}
	if v, ok = ob.measure(s); !ok {
		return v, false, false
	}
	if ob.AtLeast {
		return v, true, v < bound
	}
	return v, true, v > bound
}

// Judge checks a step against the objectives in force and returns the
// objectives it broke, most severe first. A step with no requests
// measured fails (ObjectiveRequests): nothing can vouch for it; so does
// one whose trend slices hold too few requests to judge a steady
// objective in force (Unmeasured). An
// objective the step holds no measurement for is not judged.
func Judge(s *Step, o Objectives) []Failure {
	if s.Requests == 0 {
		return []Failure{{Objective: ObjectiveRequests, Measured: 0, Bound: 1}}
	}
	var fs []Failure
	for _, f := range o.InForce() {
		v, ok, broke := f.decide(s, f.Bound)
		if f.Key == "steady" && !ok && len(s.Trend) > 0 {
			// A step too short for its rate to show whether its queue
			// grows cannot vouch for the rate, whatever its other
			// figures say.
			return []Failure{{Objective: ObjectiveRequests, Measured: float64(s.Requests), Bound: SteadyMinRequests}}
		}
		if ok && broke {
			fs = append(fs, Failure{Objective: f.Key, Measured: v, Bound: f.Bound})
		}
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity() > fs[j].Severity() })
	return fs
}

// MarginalQueueFailure says the step failed only objectives that read a
// queue (Objective.Queue: steady, throughput), and each of them by less
// than twice what breaks it: a rise under twice its noise gate, a
// shortfall under twice what is forgiven. Such a failure is within what a
// stationary queue's excursion can do, and is worth a second look; a
// failure far past it stands.
func (s *Step) MarginalQueueFailure(o Objectives) bool {
	if s.SLOPass || len(s.Failed) == 0 {
		return false
	}
	for _, f := range s.Failed {
		if !s.marginalQueue(f) {
			return false
		}
	}
	return true
}

// marginalQueue says objective f is a queue objective that s broke by
// less than twice what breaks it.
func (s *Step) marginalQueue(f string) bool {
	ob, ok := LookupObjective(f)
	if !ok || !ob.Queue {
		return false
	}
	switch f {
	case "steady":
		t := SteadinessOf(s)
		return t.RiseMS <= 2*steadyNoiseFactor*t.NoiseMS
	case "throughput":
		short, slack := shortfall(s)
		return short <= 2*slack
	}
	return true
}

// StallExplains says the generator's own stalls (Generator.Stall*) can
// account for the step's failure, so the failure is not the service's:
// the stalls passed the allowance (the send-lag allowance,
// monitor.max_send_lag) at the p99, and every objective the step broke
// is one they move by that much. A stall delays each request due or
// answered during it, and latency counts from the intended send time, so
// a latency percentile broken by less than the stall at that percentile
// could be the stall alone (the p50 of the stall for objectives below
// the p99, its p99 above). A queue objective broken marginally
// (marginalQueue) could be a stall's backlog. A latency percentile broken
// by more, a queue broken far past its gate, errors and every other
// objective stand.
func (s *Step) StallExplains(o Objectives, allowanceMS float64) bool {
	g := &s.Generator
	if s.SLOPass || g.StallP99MS <= allowanceMS {
		return false
	}
	fs := Judge(s, o)
	if len(fs) == 0 {
		return false
	}
	for _, f := range fs {
		ob, ok := LookupObjective(f.Objective)
		if !ok {
			return false
		}
		switch {
		case ob.Quantile > 0:
			stall := g.StallP50MS
			if ob.Quantile >= 99 {
				stall = g.StallP99MS
			}
			if f.Measured-stall > f.Bound {
				return false
			}
		case ob.Queue:
			if !s.marginalQueue(f.Objective) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// JudgeAgain settles the verdict of a step measured again at the rate of
// an earlier one that broke only queue objectives, marginally
// (first.MarginalQueueFailure); again comes judged on its own figures
// (ApplyJudgement). Every other objective keeps that judgement; a queue
// objective stands broken only if both measurements broke it. Within one short step a
// stationary queue's excursion (a burst of arrivals or of slow requests,
// near capacity) looks like growth, and a second look rarely repeats it;
// a queue that grows, grows in both. first is marked Remeasured: again's
// verdict stands for the rate, and first neither sets nor limits the
// best-before.
func JudgeAgain(first, again *Step) {
	var failed []string
	for _, f := range again.Failed {
		if ob, ok := LookupObjective(f); ok && ob.Queue && !slices.Contains(first.Failed, f) {
			continue
		}
		failed = append(failed, f)
	}
	if len(failed) == 0 {
		failed = nil
	}
	again.Failed, again.SLOPass = failed, len(failed) == 0
	first.Remeasured = true
}

// Unmeasured says that the step held too few requests to be judged: none
// due in its measured window, or too few for the steady-state test (a
// rate too low for the step's length). It fails ObjectiveRequests, since
// nothing vouches for it, but a service not asked enough is not a service
// that failed, so it neither sets nor limits the best-before.
func (s *Step) Unmeasured() bool {
	return !s.SLOPass && len(s.Failed) == 1 && s.Failed[0] == ObjectiveRequests
}

// ApplyJudgement sets SLOPass and Failed on the step.
func ApplyJudgement(s *Step, o Objectives) {
	fs := Judge(s, o)
	s.SLOPass = len(fs) == 0
	s.Failed = s.Failed[:0]
	for _, f := range fs {
		s.Failed = append(s.Failed, f.Objective)
	}
	if len(s.Failed) == 0 {
		s.Failed = nil
	}
}

// Resolution is the smallest overload a step can tell from none, as a
// share of its rate: a backlog growing by ε of the rate adds ε × window
// of latency, which stays under one median latency (what a queue of a
// request or so per server slot adds) until ε ≥ p50 ÷ window. Never
// finer than 2%: a server's rate with a queue (each freed slot handing
// over to a waiting request) and without one (each arrival finding a slot
// free) differ by about a percent, and a short step sees only the latter
// (ADR 23).
func Resolution(s *Step) float64 {
	if s.DurationS <= 0 {
		return MinResolution
	}
	return math.Max(MinResolution, s.LatencyMS.P50/1000/s.DurationS)
}

// TrustedBelow is the highest rate at which a pass like s can set the
// best-before, given the lowest failing step: at least s's Resolution
// below the failing rate, and no higher than the goodput the failing step
// delivered (on the offered scale, for a shard).
//
// The goodput is a count over a short window, and a service whose times
// vary delivers more in one window than in another: with its slots busy,
// completions over W number about capacity × W with a variance of
// capacity × W × CV², CV being the service times' coefficient of
// variation (a renewal count). cv2 is that CV² (ServiceCV2); the bound is
// the goodput less 1.645 of its standard deviations, what the window
// vouches for at 95%, and never more than MinResolution below it: a
// server's rate with a queue runs about a percent above its rate without
// one, which a step cannot resolve (ADR 23), and timer and scheduler
// jitter make even fixed service times vary.
func TrustedBelow(fail, s *Step, cv2 float64) float64 {
	return trustedBelow(fail, s, cv2).limit
}

// trust is TrustedBelow with the numbers behind it, for BestBefore.Why.
type trust struct {
	limit      float64
	resolution float64 // the rate a step like s resolves below the failure
	goodput    float64 // what the failing step vouches for, offered scale; 0 when unbounded
}

func trustedBelow(fail, s *Step, cv2 float64) trust {
	t := trust{resolution: fail.OfferedQPS * (1 - Resolution(s))}
	t.limit = t.resolution
	if sent := fail.sentQPS(); sent > 0 && fail.AchievedQPS > 0 {
		good := fail.AchievedQPS
		margin := MinResolution * good
		if w := fail.DurationS; w > 0 {
			margin = max(margin, 1.645*math.Sqrt(cv2*good*w)/w)
		}
		good -= margin
		t.goodput = good * fail.OfferedQPS / sent
		t.limit = math.Min(t.limit, t.goodput)
	}
	return t
}

// why says which rule kept the pass s from setting the best-before.
func (t trust) why(fail, s *Step) string {
	if t.goodput > 0 && t.goodput < t.resolution {
		return fmt.Sprintf("the step at %s QPS passed, but the lowest failing step (%s QPS) delivered %s QPS of goodput, of which its %.1f s window vouches for %s QPS at 95%%: a pass above what the service delivered under overload cannot set the best-before (ADR 23)",
			fmtRate(s.OfferedQPS), fmtRate(fail.OfferedQPS), fmtRate(fail.AchievedQPS), fail.DurationS, fmtRate(t.goodput))
	}
	return fmt.Sprintf("the step at %s QPS passed, but it is within %.0f%% of the failure at %s QPS, closer than a %.1f s step resolves (its p50 over its window, at least %.0f%%): it cannot set the best-before (ADR 23)",
		fmtRate(s.OfferedQPS), 100*(1-s.OfferedQPS/fail.OfferedQPS), fmtRate(fail.OfferedQPS), s.DurationS, 100*MinResolution)
}

// fmtRate writes a rate with the digits it needs: 1200, 1038.5.
func fmtRate(q float64) string { return strconv.FormatFloat(math.Round(q*10)/10, 'f', -1, 64) }

// ServiceStep is the index of the step whose service times describe the
// service best: the lowest load that passed with enough requests (at
// least 50), with the least queueing in it; -1 when none did.
func ServiceStep(steps []Step) int {
	best := -1
	for i := range steps {
		st := &steps[i]
		if st.Phase == PhaseHold || !st.SLOPass || st.Requests < 50 || st.ServiceHistogram == "" {
			continue
		}
		if best < 0 || st.OfferedQPS < steps[best].OfferedQPS {
			best = i
		}
	}
	return best
}

// ServiceCV2 is the squared coefficient of variation of the service
// times of the ServiceStep: the service's own variability. 0 when no
// step tells.
func ServiceCV2(steps []Step) float64 {
	best := ServiceStep(steps)
	if best < 0 {
		return 0
	}
	h, err := stats.Decode(steps[best].ServiceHistogram)
	if err != nil || h.TotalCount() < 2 || h.Mean() <= 0 {
		return 0
	}
	cv := h.StdDev() / h.Mean()
	return cv * cv
}

// MinResolution is the finest resolution any step claims.
const MinResolution = 0.02

// stepStream is the stream figures of the step that set the best-before.
func (bb *BestBefore) stepStream(steps []Step) *Stream {
	if !bb.Found || bb.Step < 0 || bb.Step >= len(steps) {
		return nil
	}
	return steps[bb.Step].Stream
}

// ComputeBestBefore finds the best-before from judged steps: the highest
// rate that passed below the lowest rate that failed (a pass above a
// failure is not trusted), never interpolated. Two more bounds come from
// the lowest failing step (TrustedBelow): a pass closer to it than the
// pass's own Resolution was too short to tell whether the service
// sustained it, and a pass above the goodput that failing step delivered
// claims more than the service was measured to deliver under load.
// Saturated steps neither pass nor fail: the generator, not the target,
// limited them.
func ComputeBestBefore(steps []Step, nodes int, margin float64) BestBefore {
	bb := BestBefore{Nodes: nodes, SafetyMargin: margin, Step: -1, FirstFailStep: -1}
	lowestFail := -1
	for i := range steps {
		s := &steps[i]
		if s.Phase == PhaseHold || s.Unmeasured() || s.Remeasured || s.Partial {
			continue
		}
		if !s.SLOPass && !s.Generator.Saturated {
			if lowestFail < 0 || s.OfferedQPS < steps[lowestFail].OfferedQPS {
				lowestFail = i
			}
		}
	}
	// A saturated step measured again at the same rate without saturation
	// was a stall of the machine, not a limit of the generator.
	remeasured := func(i int) bool {
		for j := i + 1; j < len(steps); j++ {
			if steps[j].OfferedQPS == steps[i].OfferedQPS && !steps[j].Generator.Saturated {
				return true
			}
		}
		return false
	}
	cv2 := ServiceCV2(steps)
	lowestSat := -1
	for i := range steps {
		s := &steps[i]
		if s.Phase != PhaseHold && s.Generator.Saturated && !s.Partial && !remeasured(i) {
			if lowestSat < 0 || s.OfferedQPS < steps[lowestSat].OfferedQPS {
				lowestSat = i
			}
		}
	}
	// The highest pass a rule set aside, and the rule.
	var setAside float64
	var setAsideWhy string
	for i := range steps {
		s := &steps[i]
		if s.Phase == PhaseHold || !s.SLOPass || s.Generator.Saturated || s.Remeasured || s.Partial {
			continue
		}
		if lowestFail >= 0 {
			if t := trustedBelow(&steps[lowestFail], s, cv2); s.OfferedQPS > t.limit {
				if s.OfferedQPS > setAside && s.OfferedQPS < steps[lowestFail].OfferedQPS {
					setAside, setAsideWhy = s.OfferedQPS, t.why(&steps[lowestFail], s)
				}
				continue
			}
		}
		if lowestSat >= 0 && s.OfferedQPS >= steps[lowestSat].OfferedQPS {
			if s.OfferedQPS > setAside {
				setAside = s.OfferedQPS
				setAsideWhy = fmt.Sprintf("the step at %s QPS passed, but the generator could not keep its schedule at %s QPS, at or below it: a rate the generator could not keep cannot set the best-before",
					fmtRate(s.OfferedQPS), fmtRate(steps[lowestSat].OfferedQPS))
			}
			continue
		}
		if bb.Step < 0 || s.OfferedQPS > bb.QPS {
			bb.QPS, bb.Step, bb.Found = s.OfferedQPS, i, true
		}
	}
	if setAside > bb.QPS {
		bb.Why = strings.ToUpper(setAsideWhy[:1]) + setAsideWhy[1:] + "."
	}
	switch {
	case lowestFail >= 0 && (lowestSat < 0 || steps[lowestFail].OfferedQPS <= steps[lowestSat].OfferedQPS):
		bb.FirstFailQPS = steps[lowestFail].OfferedQPS
		bb.FirstFailStep = lowestFail
		if len(steps[lowestFail].Failed) > 0 {
			bb.LimitedBy = steps[lowestFail].Failed[0]
		} else {
			bb.LimitedBy = "slo"
		}
	case lowestSat >= 0:
		bb.FirstFailQPS = steps[lowestSat].OfferedQPS
		bb.LimitedBy = LimitedByGenerator
	default:
		bb.LimitedBy = LimitedByMaxQPS
		fixed := false
		for i := range steps {
			switch {
			case steps[i].Partial:
				bb.LimitedBy = LimitedByInterrupted
			case steps[i].Phase == PhaseFixed:
				fixed = true
			}
		}
		if fixed && bb.LimitedBy == LimitedByMaxQPS {
			bb.LimitedBy = LimitedByFixedRate
		}
	}
	if bb.Found && nodes > 0 {
		bb.NMinus1QPS = bb.QPS * float64(nodes-1) / float64(nodes) * margin
	}
	if x := bb.stepStream(steps); x != nil && x.Responses > 0 && x.OutputTokens > 0 {
		// In output tokens: the rate times the output tokens a response
		// held at the step that set it, as measured. Not the tokens the
		// step happened to deliver: a Poisson window holds more arrivals
		// than the rate by chance, and the figure would claim them.
		bb.OutputTokensPerS = bb.QPS * float64(x.OutputTokens) / float64(x.Responses)
		if nodes > 0 {
			bb.NMinus1OutputTokensPerS = bb.OutputTokensPerS * float64(nodes-1) / float64(nodes) * margin
		}
	}
	return bb
}
