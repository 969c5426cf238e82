package result

import (
	"fmt"
	"sort"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

// Failure is one objective a step broke, with how badly.
type Failure struct {
	Objective string  // e.g. "latency.p99", "error_rate", "target_cpu"
	Measured  float64 // in the objective's unit (ms, share, percent)
	Bound     float64
}

// Severity is measured ÷ bound: how far past the objective the step was.
func (f Failure) Severity() float64 {
	if f.Objective == "throughput" {
		// Lower is worse: 0.8 of a 0.95 bound is as bad as 1.19×.
		if f.Measured <= 0 {
			return 1e9
		}
		return f.Bound / f.Measured
	}
	if f.Bound <= 0 {
		return f.Measured + 1
	}
	return f.Measured / f.Bound
}

func (f Failure) String() string {
	if f.Objective == "throughput" {
		return fmt.Sprintf("throughput %.1f%% of the sent rate < %.1f%%", f.Measured*100, f.Bound*100)
	}
	return fmt.Sprintf("%s %.4g > %.4g", f.Objective, f.Measured, f.Bound)
}

// percentileKeys orders the latency objectives the way reports list them.
var percentileKeys = []string{"p50", "p90", "p95", "p99", "p999", "p9999", "max", "mean"}

// LatencyOf returns the step's latency at an SLO key, in ms, reading the
// step's histogram for percentiles the summary does not hold.
func LatencyOf(s *Step, key string) float64 {
	switch key {
	case "p50":
		return s.LatencyMS.P50
	case "p90":
		return s.LatencyMS.P90
	case "p99":
		return s.LatencyMS.P99
	case "p999":
		return s.LatencyMS.P999
	case "max":
		return s.LatencyMS.Max
	case "mean":
		return s.LatencyMS.Mean
	}
	q := map[string]float64{"p95": 95, "p9999": 99.99}[key]
	if q == 0 || s.Histogram == "" {
		return 0
	}
	h, err := stats.Decode(s.Histogram)
	if err != nil {
		return 0
	}
	return stats.QuantileMS(h, q)
}

// Judge checks a step against the objectives and returns the objectives it
// broke, most severe first. A step with no requests measured fails.
func Judge(s *Step, o Objectives) []Failure {
	var fs []Failure
	if s.Requests == 0 {
		return []Failure{{Objective: "requests", Measured: 0, Bound: 1}}
	}
	for _, k := range percentileKeys {
		bound, ok := o.LatencyMS[k]
		if !ok {
			continue
		}
		if v := LatencyOf(s, k); v > bound {
			fs = append(fs, Failure{Objective: "latency." + k, Measured: v, Bound: bound})
		}
	}
	if o.ErrorRate != nil && s.ErrorRate > *o.ErrorRate {
		fs = append(fs, Failure{Objective: "error_rate", Measured: s.ErrorRate, Bound: *o.ErrorRate})
	}
	if o.Throughput != nil && *o.Throughput > 0 {
		sent := s.SentQPS
		if sent == 0 {
			sent = s.OfferedQPS
		}
		// Completions are counted inside the window, so a few requests
		// fall on either side of its edges: forgive two, and with no
		// warmup the ones still in flight when the window opened.
		slack := 2.0
		if s.WarmupS == 0 {
			slack += sent * s.LatencyMS.P50 / 1000
		}
		short := (sent - s.AchievedQPS) * s.DurationS
		if sent > 0 && s.AchievedQPS < *o.Throughput*sent && (s.DurationS == 0 || short > slack) {
			fs = append(fs, Failure{Objective: "throughput", Measured: s.AchievedQPS / sent, Bound: *o.Throughput})
		}
	}
	if o.TargetCPUPercent != nil && s.Target != nil {
		cpu := s.Target.MaxCPUPercent
		if cpu == 0 {
			cpu = s.Target.CPUPercent
		}
		if cpu > *o.TargetCPUPercent {
			fs = append(fs, Failure{Objective: "target_cpu", Measured: cpu, Bound: *o.TargetCPUPercent})
		}
	}
	if o.GCPauseP99MS != nil && s.Target != nil && s.Target.GCPauseP99MS > *o.GCPauseP99MS {
		fs = append(fs, Failure{Objective: "gc_pause_p99", Measured: s.Target.GCPauseP99MS, Bound: *o.GCPauseP99MS})
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity() > fs[j].Severity() })
	return fs
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

// ComputeBestBefore finds the best-before from judged steps: the highest
// rate that passed below the lowest rate that failed (a pass above a
// failure is not trusted), never interpolated. Saturated steps neither
// pass nor fail: the generator, not the target, limited them.
func ComputeBestBefore(steps []Step, nodes int, margin float64) BestBefore {
	bb := BestBefore{Nodes: nodes, SafetyMargin: margin, Step: -1}
	lowestFail := -1
	for i := range steps {
		s := &steps[i]
		if s.Phase == PhaseHold {
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
	lowestSat := -1
	for i := range steps {
		s := &steps[i]
		if s.Phase != PhaseHold && s.Generator.Saturated && !remeasured(i) {
			if lowestSat < 0 || s.OfferedQPS < steps[lowestSat].OfferedQPS {
				lowestSat = i
			}
		}
	}
	for i := range steps {
		s := &steps[i]
		if s.Phase == PhaseHold || !s.SLOPass || s.Generator.Saturated {
			continue
		}
		if lowestFail >= 0 && s.OfferedQPS >= steps[lowestFail].OfferedQPS {
			continue
		}
		if lowestSat >= 0 && s.OfferedQPS >= steps[lowestSat].OfferedQPS {
			continue
		}
		if bb.Step < 0 || s.OfferedQPS > bb.QPS {
			bb.QPS, bb.Step, bb.Found = s.OfferedQPS, i, true
		}
	}
	switch {
	case lowestFail >= 0 && (lowestSat < 0 || steps[lowestFail].OfferedQPS <= steps[lowestSat].OfferedQPS):
		bb.FirstFailQPS = steps[lowestFail].OfferedQPS
		if len(steps[lowestFail].Failed) > 0 {
			bb.LimitedBy = steps[lowestFail].Failed[0]
		} else {
			bb.LimitedBy = "slo"
		}
	case lowestSat >= 0:
		bb.FirstFailQPS = steps[lowestSat].OfferedQPS
		bb.LimitedBy = "generator"
	default:
		bb.LimitedBy = "max_qps"
	}
	if bb.Found && nodes > 0 {
		bb.NMinus1QPS = bb.QPS * float64(nodes-1) / float64(nodes) * margin
	}
	return bb
}
