package result

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/stats"
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
	// SLO is where a scenario sets the bound, below slo: (latency.p99,
	// error_rate): the YAML key path, the --slo name (its last part, or
	// one of Aliases) and its unit's notation (UnitMS a duration such as
	// 100ms, UnitShare a share such as 0.1%, UnitPercent a share of one
	// core such as 80%).
	SLO string
	// Aliases are further names --slo takes for it (errors).
	Aliases []string
	// Doc is where result.json holds the bound, below objectives:
	// (latency_ms.p99, target_cpu_percent).
	Doc string
	// Positive is true when a bound must be above zero; otherwise it may
	// be zero. A share is at most 1.
	Positive bool
	// Default is the bound in force when a scenario sets none; 0 for an
	// objective that is off unless set. For an objective with a default,
	// a bound of 0 turns it off.
	Default float64
	// measure reads the step's measure; false when it was not measured.
	measure func(s *Step) (float64, bool)
	// judge, when set, decides the failure instead of the plain
	// comparison of measure and bound: an allowance for a window's edges
	// or for noise, read with the measure in one pass.
	judge func(s *Step, bound float64) (v float64, measured, broke bool)
	// PerRequest is true for a bound every request is held to for
	// goodput (goodput.ttft, goodput.tpot, goodput.latency): never judged
	// on a step by itself, it says what a good request is.
	PerRequest bool
	// Queue is true for the objectives that read a queue over the step's
	// window, which a stationary queue's one-off excursion can break by
	// chance: a step that breaks only these is measured again, and they
	// stand broken only when the second look breaks them too
	// (JudgeAgain).
	Queue bool
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

// LatencyObjective is the objective on a percentile of the step's
// latency, measured from each request's intended send time: key is its
// short name (p99, p999), label how reports name it (p99.9), q the
// percentile (0-100; 100 the maximum) read from the step's histogram.
func LatencyObjective(key, label string, q float64) Objective {
	return latencyObjective(key, label, q, nil)
}

// latencyObjective is LatencyObjective, read from the step's own
// percentile fields by read when they hold it.
func latencyObjective(key, label string, q float64, read func(l Latency) float64) Objective {
	return Objective{
		Key: "latency." + key, Label: "latency " + label, Unit: UnitMS, Quantile: q,
		SLO: "latency." + key, Doc: "latency_ms." + key, Positive: true,
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

// streamObjective is the objective on a percentile of a streamed
// response's time to first token (from the intended send time) or of the
// gaps between its tokens: kind is ttft or itl, key the percentile's name.
func streamObjective(kind, what, key string, q float64, read func(s *Stream) Latency) Objective {
	return Objective{
		Key: kind + "." + key, Label: what + " " + key, Unit: UnitMS, Quantile: q,
		SLO: kind + "." + key, Aliases: []string{kind + "_" + key}, Doc: kind + "_ms." + key, Positive: true,
		measure: func(s *Step) (float64, bool) {
			if s.Stream == nil || s.Stream.Responses == 0 {
				return 0, false
			}
			l := read(s.Stream)
			switch key {
			case "p50":
				return l.P50, true
			case "p90":
				return l.P90, true
			}
			return l.P99, true
		},
	}
}

// perRequestObjective is a bound each request is held to for goodput.
func perRequestObjective(key, what string) Objective {
	return Objective{
		Key: "goodput." + key, Label: "goodput: a request's " + what, Unit: UnitMS, PerRequest: true,
		SLO: "goodput." + key, Aliases: []string{"goodput_" + key}, Doc: "goodput." + key + "_ms", Positive: true,
		measure: func(*Step) (float64, bool) { return 0, false },
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
	streamObjective("ttft", "time to first token", "p50", 50, func(s *Stream) Latency { return s.TTFTMS }),
	streamObjective("ttft", "time to first token", "p90", 90, func(s *Stream) Latency { return s.TTFTMS }),
	streamObjective("ttft", "time to first token", "p99", 99, func(s *Stream) Latency { return s.TTFTMS }),
	streamObjective("itl", "inter-token latency", "p50", 50, func(s *Stream) Latency { return s.ITLMS }),
	streamObjective("itl", "inter-token latency", "p90", 90, func(s *Stream) Latency { return s.ITLMS }),
	streamObjective("itl", "inter-token latency", "p99", 99, func(s *Stream) Latency { return s.ITLMS }),
	{
		// The share of requests that met every per-request bound (as
		// vLLM's goodput and DistServe's SLO attainment count them).
		Key: "goodput", Label: "goodput (share of requests meeting every per-request bound)", Unit: UnitShare, AtLeast: true,
		SLO: "goodput.share", Aliases: []string{"goodput"}, Doc: "goodput.share",
		measure: func(s *Step) (float64, bool) {
			if s.GoodRequests == nil || s.Requests == 0 {
				return 0, false
			}
			return float64(*s.GoodRequests) / float64(s.Requests), true
		},
	},
	perRequestObjective("ttft", "time to first token (the whole answer's latency when it did not stream)"),
	perRequestObjective("tpot", "time per output token after the first"),
	perRequestObjective("latency", "latency"),
	{
		Key: "error_rate", Label: "error rate", Unit: UnitShare,
		SLO: "error_rate", Aliases: []string{"errors"}, Doc: "error_rate",
		measure: func(s *Step) (float64, bool) {
			return s.ErrorRate, s.Requests > 0
		},
	},
	{
		// A target delivering under 97% of the arrivals scheduled is
		// falling behind, whatever its latency.
		Key: "throughput", Label: "throughput (share of the scheduled arrivals delivered)", Unit: UnitShare, AtLeast: true, Queue: true,
		SLO: "throughput", Doc: "throughput", Default: DefaultThroughput,
		measure: deliveredShare,
		judge: func(s *Step, bound float64) (float64, bool, bool) {
			v, ok := deliveredShare(s)
			if !ok || v >= bound {
				return v, ok, false
			}
			short, slack := shortfall(s)
			return v, true, s.DurationS == 0 || short > slack
		},
	},
	{
		// How fast a step's median latency may grow across its window,
		// in ms per ms: a step whose latency keeps rising holds a queue
		// that grows, survived rather than sustained (ADR 23).
		Key: "steady", Label: "steady state (backlog growth, share of the rate)", Unit: UnitShare, Queue: true,
		SLO: "steady", Doc: "steady", Default: DefaultSteady,
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
		SLO: "target_cpu", Doc: "target_cpu_percent",
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
		SLO: "gc_pause_p99", Doc: "gc_pause_p99_ms",
		measure: func(s *Step) (float64, bool) {
			if s.Target == nil {
				return 0, false
			}
			return s.Target.GCPauseP99MS, true
		},
	},
}

// ObjectiveRequests is the failure of a step that measured no request,
// or too few to judge its steady state: nothing can be judged, so it
// meets no objective (Step.Unmeasured).
const ObjectiveRequests = "requests"

// LookupObjective returns the catalogue entry for key.
func LookupObjective(key string) (*Objective, bool) {
	return lookup(func(ob *Objective) bool { return ob.Key == key })
}

// LookupSLO returns the catalogue entry a scenario sets at path below
// slo: (latency.p99, error_rate).
func LookupSLO(path string) (*Objective, bool) {
	return lookup(func(ob *Objective) bool { return ob.SLO == path })
}

// LookupName returns the catalogue entry --slo calls name (p99, errors).
func LookupName(name string) (*Objective, bool) {
	return lookup(func(ob *Objective) bool { return slices.Contains(ob.Names(), name) })
}

// Names are what --slo calls the objective: the last part of its SLO
// path (p99, gc_pause_p99), then its aliases.
func (ob *Objective) Names() []string {
	return append([]string{ob.SLO[strings.LastIndex(ob.SLO, ".")+1:]}, ob.Aliases...)
}

// lookup returns the first catalogue entry match accepts.
func lookup(match func(*Objective) bool) (*Objective, bool) {
	for i := range Catalogue {
		if match(&Catalogue[i]) {
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

// Bound is the bound in force for the objective key: false when o does
// not set it, or sets an objective with a default to 0, which turns it
// off.
func (o Objectives) Bound(key string) (float64, bool) {
	v, ok := o[key]
	if !ok {
		return 0, false
	}
	if ob, known := LookupObjective(key); known && ob.Default > 0 && v <= 0 {
		return 0, false
	}
	return v, true
}

// Has says the objective key is in force under o.
func (o Objectives) Has(key string) bool {
	_, ok := o.Bound(key)
	return ok
}

// InForce lists the objectives o sets, in catalogue order.
func (o Objectives) InForce() []InForce {
	var out []InForce
	for i := range Catalogue {
		if b, ok := o.Bound(Catalogue[i].Key); ok {
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

// deliveredShare is the throughput objective's measure: successes
// completed within the window over the arrivals scheduled in it (not the
// nominal rate, which a Poisson window misses by chance).
func deliveredShare(s *Step) (float64, bool) {
	sched := s.scheduledQPS()
	if sched <= 0 || s.Requests == 0 {
		return 0, false
	}
	return s.AchievedQPS / sched, true
}

// shortfall is how many fewer successes than scheduled arrivals a step's
// window holds, and how many of them the throughput objective forgives.
// Completions are counted inside the window and arrivals by their due
// time, so the two differ by how the backlog changed between the
// window's edges: at a steady load, by the queue's own fluctuation. It
// forgives two requests; the backlog's swing seen in the window (its peak
// above its mean: a random queue swings by about that much, a growing one
// shows half its growth there and so still fails; never less than three
// standard deviations of the difference of two counts of that mean, for a
// backlog of a few requests); and the shortfall of a window that opens
// while the service is still filling up (fillShortfall).
func shortfall(s *Step) (short, slack float64) {
	swing := max(0, float64(s.InFlightMax)-s.InFlightMean, 3*math.Sqrt(2*s.InFlightMean))
	return float64(s.Requests) - s.AchievedQPS*s.DurationS, 2 + swing + fillShortfall(s)
}

// fillShortfall is how many fewer completions than arrivals a window is
// expected to hold only because the step started with nothing in flight:
// arriving at rate λ from time 0, completions by t number λ∫₀ᵗF(u)du
// for the latency distribution F, so a window [w, T) holds
// λ∫_w^T (1−F(u))du = λ·E[min(L,T) − min(L,w)] fewer completions than
// arrivals. With a warmup a few latencies long it is nil; with none it is
// about λ × mean latency (the requests in flight at the window's start);
// read from the step's own latency histogram.
//
// The latencies read are those of the requests due in the window's first
// trend slice when it holds enough of them: the service as it was when
// the window opened, before a queue that grows within the step inflates
// them (a growing queue's shortfall is what the objective exists to
// catch, and must not be forgiven as filling). Else the whole step's
// histogram, else its median alone.
func fillShortfall(s *Step) float64 {
	if s.DurationS <= 0 {
		return 0
	}
	var h *hdrhistogram.Histogram
	for _, enc := range []string{firstSlice(s), s.Histogram} {
		if enc == "" {
			continue
		}
		if d, err := stats.Decode(enc); err == nil && d.TotalCount() >= steadyMinSliceRequests {
			h = d
			break
		}
	}
	w, end := s.WarmupS*1e6, (s.WarmupS+s.DurationS)*1e6 // µs, as recorded
	var sum float64
	if h == nil {
		l := s.LatencyMS.P50 * 1000
		return s.scheduledQPS() * (min(l, end) - min(l, w)) / 1e6
	}
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		l := float64(b.From+b.To) / 2
		sum += float64(b.Count) * (min(l, end) - min(l, w))
	}
	return s.scheduledQPS() * sum / float64(h.TotalCount()) / 1e6
}

// firstSlice is the encoded histogram of the step's first trend slice.
func firstSlice(s *Step) string {
	if len(s.Trend) == 0 {
		return ""
	}
	return s.Trend[0].Histogram
}

// scheduledQPS is the rate of the arrivals scheduled in the window.
func (s *Step) scheduledQPS() float64 {
	if s.ScheduledQPS > 0 {
		return s.ScheduledQPS
	}
	if s.DurationS > 0 {
		return float64(s.Requests) / s.DurationS
	}
	return 0
}

// sentQPS is the rate this generator was scheduled to send.
func (s *Step) sentQPS() float64 {
	if s.SentQPS != 0 {
		return s.SentQPS
	}
	return s.OfferedQPS
}
