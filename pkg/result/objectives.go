package result

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Units of an objective's measure and bound.
const (
	UnitMS      = "ms"    // milliseconds
	UnitShare   = "share" // a ratio in [0, 1], shown as a percentage
	UnitPercent = "%"     // percent of one core
)

// Objective is one entry of the catalogue: what the objective is called,
// how it is measured from a step and which side of its bound breaks it.
// Judging, scenario validation, the reports, compare and the live progress
// line all read the catalogue; adding an objective is adding an entry.
type Objective struct {
	// Key names the objective in Step.Failed, Failure and limited_by.
	Key string
	// Label is how reports name it.
	Label string
	Unit  string
	// AtLeast is true when a measure below the bound breaks the objective
	// (throughput); otherwise a measure above it does.
	AtLeast bool
	// Quantile is the percentile (0-100) a latency objective reads; 0
	// for the others.
	Quantile float64
	// bound reads the objective's bound from the objectives in force.
	bound func(o *Objectives) (float64, bool)
	// measure reads the step's measure; false when it was not measured.
	measure func(s *Step) (float64, bool)
	// judge, when set, decides the failure instead of the plain
	// comparison of measure and bound: an allowance for a window's edges
	// or for noise, read with the measure in one pass.
	judge func(s *Step, bound float64) (v float64, measured, broke bool)
}

// Measure is the step's measure for the objective in ob.Unit, false when
// the step holds no such measurement.
func (ob *Objective) Measure(s *Step) (float64, bool) { return ob.measure(s) }

// Format writes v in the objective's unit.
func (ob *Objective) Format(v float64) string {
	switch ob.Unit {
	case UnitMS:
		return FormatMS(v)
	case UnitShare:
		return FormatShare(v)
	case UnitPercent:
		return strconv.FormatFloat(v, 'f', 0, 64) + "%"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// FormatMS writes a latency in milliseconds with the digits it needs
// (0.52 ms, 13.4 ms, 250 ms, 12.5 s).
func FormatMS(v float64) string {
	switch {
	case v == 0:
		return "0 ms"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	case v < 10000:
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(v/1000, 'f', 1, 64) + " s"
}

// FormatShare writes a ratio (0.001) as a percentage (0.10%).
func FormatShare(v float64) string {
	p := v * 100
	switch {
	case p == 0:
		return "0%"
	case p < 0.01 && p > -0.01:
		return strconv.FormatFloat(p, 'f', 4, 64) + "%"
	case p < 1 && p > -1:
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// Comparison is the sign that keeps the objective: "≤" or "≥".
func (ob *Objective) Comparison() string {
	if ob.AtLeast {
		return "≥"
	}
	return "≤"
}

// latencyObjective reads a percentile of the step's latency, measured from
// each request's intended send time.
func latencyObjective(key, label string, q float64, read func(l Latency) float64) Objective {
	return Objective{
		Key: "latency." + key, Label: "latency " + label, Unit: UnitMS, Quantile: q,
		bound: func(o *Objectives) (float64, bool) {
			v, ok := o.LatencyMS[key]
			return v, ok
		},
		measure: func(s *Step) (float64, bool) {
			if s.Requests == 0 {
				return 0, false
			}
			if read != nil {
				return read(s.LatencyMS), true
			}
			return latencyFromHistogram(s, q)
		},
	}
}

func optional(p func(o *Objectives) *float64) func(o *Objectives) (float64, bool) {
	return func(o *Objectives) (float64, bool) {
		if v := p(o); v != nil {
			return *v, true
		}
		return 0, false
	}
}

// Catalogue is every objective a step can be judged against, in the order
// reports list them.
var Catalogue = []Objective{
	latencyObjective("p50", "p50", 50, func(l Latency) float64 { return l.P50 }),
	latencyObjective("p90", "p90", 90, func(l Latency) float64 { return l.P90 }),
	latencyObjective("p95", "p95", 95, nil),
	latencyObjective("p99", "p99", 99, func(l Latency) float64 { return l.P99 }),
	latencyObjective("p999", "p99.9", 99.9, func(l Latency) float64 { return l.P999 }),
	latencyObjective("p9999", "p99.99", 99.99, nil),
	latencyObjective("max", "max", 100, func(l Latency) float64 { return l.Max }),
	latencyObjective("mean", "mean", 0, func(l Latency) float64 { return l.Mean }),
	{
		Key: "error_rate", Label: "error rate", Unit: UnitShare,
		bound: optional(func(o *Objectives) *float64 { return o.ErrorRate }),
		measure: func(s *Step) (float64, bool) {
			return s.ErrorRate, s.Requests > 0
		},
	},
	{
		Key: "throughput", Label: "throughput (share of the sent rate delivered)", Unit: UnitShare, AtLeast: true,
		bound: func(o *Objectives) (float64, bool) {
			if o.Throughput == nil || *o.Throughput <= 0 {
				return 0, false
			}
			return *o.Throughput, true
		},
		measure: deliveredShare,
		judge: func(s *Step, bound float64) (float64, bool, bool) {
			v, ok := deliveredShare(s)
			if !ok || v >= bound {
				return v, ok, false
			}
			// Completions are counted inside the window, so a few requests
			// fall on either side of its edges: forgive two, and with no
			// warmup the ones still in flight when the window opened.
			sent := s.sentQPS()
			slack := 2.0
			if s.WarmupS == 0 {
				slack += sent * s.LatencyMS.P50 / 1000
			}
			return v, true, s.DurationS == 0 || (sent-s.AchievedQPS)*s.DurationS > slack
		},
	},
	{
		Key: "steady", Label: "steady state (backlog growth, share of the rate)", Unit: UnitShare,
		bound: func(o *Objectives) (float64, bool) {
			if o.Steady == nil || *o.Steady <= 0 {
				return 0, false
			}
			return *o.Steady, true
		},
		measure: func(s *Step) (float64, bool) {
			t := SteadinessOf(s)
			return t.Slope, t.Judged
		},
		judge: func(s *Step, bound float64) (float64, bool, bool) {
			t := SteadinessOf(s)
			return t.Slope, t.Judged, t.Breaks(bound)
		},
	},
	{
		Key: "target_cpu", Label: "target CPU (busiest node)", Unit: UnitPercent,
		bound: optional(func(o *Objectives) *float64 { return o.TargetCPUPercent }),
		measure: func(s *Step) (float64, bool) {
			if s.Target == nil {
				return 0, false
			}
			if s.Target.MaxCPUPercent > 0 {
				return s.Target.MaxCPUPercent, true
			}
			return s.Target.CPUPercent, true
		},
	},
	{
		Key: "gc_pause_p99", Label: "target GC pause p99", Unit: UnitMS,
		bound: optional(func(o *Objectives) *float64 { return o.GCPauseP99MS }),
		measure: func(s *Step) (float64, bool) {
			if s.Target == nil {
				return 0, false
			}
			return s.Target.GCPauseP99MS, true
		},
	},
}

// ObjectiveRequests is the failure of a step that measured no request:
// nothing can be judged, so it meets no objective.
const ObjectiveRequests = "requests"

// LookupObjective returns the catalogue entry for key.
func LookupObjective(key string) (*Objective, bool) {
	for i := range Catalogue {
		if Catalogue[i].Key == key {
			return &Catalogue[i], true
		}
	}
	return nil, false
}

// LatencyQuantile maps a latency objective's short key (p50, p99, p999,
// p9999, max, mean) to the percentile it reads: max is 100, mean -1.
func LatencyQuantile(key string) (float64, bool) {
	ob, ok := LookupObjective("latency." + key)
	if !ok {
		return 0, false
	}
	if key == "mean" {
		return -1, true
	}
	return ob.Quantile, true
}

// LatencyKeys lists the short keys of the latency objectives, as the
// scenario spells them under slo.latency.
func LatencyKeys() []string {
	var ks []string
	for _, ob := range Catalogue {
		if k, ok := strings.CutPrefix(ob.Key, "latency."); ok {
			ks = append(ks, k)
		}
	}
	return ks
}

// InForce is an objective with its bound under a result's objectives.
type InForce struct {
	*Objective
	Bound float64
}

// InForce lists the objectives o sets, in catalogue order.
func (o Objectives) InForce() []InForce {
	var out []InForce
	for i := range Catalogue {
		if b, ok := Catalogue[i].bound(&o); ok {
			out = append(out, InForce{Objective: &Catalogue[i], Bound: b})
		}
	}
	return out
}

// Verdict is the step's own judgement of the objective: broken when the
// step's Failed list names it. It is never computed again from the
// measure, so a report shows what the run decided.
func (f InForce) Verdict(s *Step) (kept bool) {
	return !slices.Contains(s.Failed, f.Key)
}

// Failure is one objective a step broke, with how badly.
type Failure struct {
	Objective string  // a catalogue key, or ObjectiveRequests
	Measured  float64 // in the objective's unit
	Bound     float64
}

// Severity is how far past the objective the step was: measured ÷ bound,
// or bound ÷ measured for an objective with a lower bound.
func (f Failure) Severity() float64 {
	if ob, ok := LookupObjective(f.Objective); ok && ob.AtLeast {
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
	ob, ok := LookupObjective(f.Objective)
	if !ok {
		return fmt.Sprintf("%s %.4g, bound %.4g", f.Objective, f.Measured, f.Bound)
	}
	rel := ">"
	if ob.AtLeast {
		rel = "<"
	}
	return fmt.Sprintf("%s %s %s %s", ob.Label, ob.Format(f.Measured), rel, ob.Format(f.Bound))
}

// deliveredShare is the throughput objective's measure: the share of the
// sent rate that completed successfully within the window.
func deliveredShare(s *Step) (float64, bool) {
	sent := s.sentQPS()
	if sent <= 0 || s.Requests == 0 {
		return 0, false
	}
	return s.AchievedQPS / sent, true
}

// sentQPS is the rate this generator was scheduled to send.
func (s *Step) sentQPS() float64 {
	if s.SentQPS != 0 {
		return s.SentQPS
	}
	return s.OfferedQPS
}
