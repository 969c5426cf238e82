package capacity

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrNoBestBefore is returned when a plan is asked of a result that found
// no best-before QPS: there is no measured capacity to plan against.
var ErrNoBestBefore = errors.New("capacity: the result has no best-before QPS (no step met the objectives)")

// PlanInput is what a capacity plan is computed from.
type PlanInput struct {
	// BestBeforeQPS is the measured best-before of the whole cluster.
	BestBeforeQPS float64
	// Nodes is how many nodes served BestBeforeQPS.
	Nodes int
	// SafetyMargin is the share of measured capacity one is willing to use
	// (0.8 keeps 20% in reserve). It applies to every capacity figure.
	SafetyMargin float64
	// CurrentQPS is today's mean load; PeakFactor turns it into today's
	// peak (peak over mean, ≥ 1 in practice).
	CurrentQPS float64
	PeakFactor float64
	// Growth projects the load forward.
	Growth Growth
	// GrowthRange, when set, bounds Growth (e.g. a 90% interval from a
	// fit of history) and yields a range for the best-before date.
	GrowthRange *GrowthRange
	// HorizonDays is how far ahead to look.
	HorizonDays float64
	// Now is the planning date.
	Now time.Time
	// LowerBound, when set, says why the best-before is only a lower bound
	// (the ramp stopped before any objective broke): every date is then
	// "no earlier than".
	LowerBound string
	// Caveats are what the result says against its own figures (a failed
	// node-loss check), carried into every plan format.
	Caveats []string
}

// GrowthRange is an interval for the growth rate.
type GrowthRange struct {
	Low, High Growth
	// Level is the interval's confidence level (0.9 for 90%).
	Level float64
}

// UnitTokens is Plan.Unit for a plan in output tokens per second.
const UnitTokens = "tokens/s"

// Plan is the answer: headroom today, the best-before date and the nodes
// needed at the horizon. Its JSON form is what `bestbefore plan --json`
// prints.
//
// Dates are calendar days (YYYY-MM-DD, UTC). DaysUntilBestBefore and
// BestBeforeDate are null when the projected peak does not reach the N-1
// capacity within the horizon (including when the load does not grow);
// they are 0 and today when today's peak is already over it.
type Plan struct {
	// Unit is what every rate of the plan counts: "" (requests per
	// second, its fields' _qps) or UnitTokens (output tokens per second,
	// the unit LLM capacity is planned in).
	Unit         string  `json:"unit,omitempty"`
	Now          string  `json:"now"`
	Nodes        int     `json:"nodes"`
	SafetyMargin float64 `json:"safety_margin"`
	// BestBeforeQPS is the measured best-before, before the safety margin.
	BestBeforeQPS float64 `json:"best_before_qps"`
	// PerNodeQPS is BestBeforeQPS / Nodes (measured, before the margin).
	PerNodeQPS float64 `json:"per_node_qps"`
	// CapacityNQPS is PerNodeQPS × Nodes × SafetyMargin.
	CapacityNQPS float64 `json:"capacity_n_qps"`
	// CapacityNMinus1QPS is PerNodeQPS × (Nodes−1) × SafetyMargin: what is
	// left when one node is lost.
	CapacityNMinus1QPS float64 `json:"capacity_n_minus_1_qps"`

	CurrentQPS float64 `json:"current_qps"`
	PeakFactor float64 `json:"peak_factor"`
	// PeakQPS is today's peak load, CurrentQPS × PeakFactor.
	PeakQPS float64 `json:"peak_qps"`
	// Headroom is the share of a capacity still free at today's peak, in
	// percent (negative when over). Null when that capacity is zero.
	HeadroomNPct       *float64 `json:"headroom_n_pct"`
	HeadroomNMinus1Pct *float64 `json:"headroom_n_minus_1_pct"`
	// OverToday is true when today's peak already exceeds the N-1 capacity.
	OverToday bool `json:"over_today"`

	Growth GrowthSummary `json:"growth"`

	DaysUntilBestBefore *float64 `json:"days_until_best_before"`
	BestBeforeDate      *string  `json:"best_before_date"`
	// BestBeforeRange is set when the growth rate came with an interval.
	BestBeforeRange *DateRange `json:"best_before_range,omitempty"`

	HorizonDays float64 `json:"horizon_days"`
	HorizonDate string  `json:"horizon_date"`
	// PeakAtHorizonQPS is the projected peak at the horizon.
	PeakAtHorizonQPS float64 `json:"peak_at_horizon_qps"`
	// NodesNeededToday and NodesNeededAtHorizon are the node counts whose
	// N-1 capacity carries the peak, assuming per-node capacity scales
	// linearly as measured.
	NodesNeededToday     int `json:"nodes_needed_today"`
	NodesNeededAtHorizon int `json:"nodes_needed_at_horizon"`

	Assumptions []string `json:"assumptions"`
	// LowerBound is true when the best-before is a lower bound: the dates
	// are then the earliest the capacity could be reached, no earlier
	// than said.
	LowerBound bool `json:"lower_bound"`
	// SingleNode is true for one node: there is no N-1 headroom, and the
	// date is when the peak reaches the node's own capacity.
	SingleNode bool `json:"single_node"`
	// Caveats qualify the plan's figures; every format shows them.
	Caveats []string `json:"caveats,omitempty"`
}

// DateTarget is the capacity the best-before date is reckoned against:
// the N-1 capacity, or the one node's own when there is no N-1.
func (p *Plan) DateTarget() (qps float64, label string) {
	if p.SingleNode {
		return p.CapacityNQPS, "the capacity of its one node"
	}
	return p.CapacityNMinus1QPS, "the N-1 capacity"
}

// NoEarlier is "no earlier than " for a lower-bound plan, "" otherwise.
func (p *Plan) NoEarlier() string {
	if p.LowerBound {
		return "no earlier than "
	}
	return ""
}

// GrowthSummary describes the growth used.
type GrowthSummary struct {
	RatePerDay     float64 `json:"rate_per_day"`
	PercentPerWeek float64 `json:"percent_per_week"`
	// DoublingDays is null when the load does not grow.
	DoublingDays *float64 `json:"doubling_days"`
	// Source says where the growth came from ("--doubling 60d", "history").
	Source string `json:"source,omitempty"`
}

// DateRange is an uncertainty range for the best-before date. Earliest
// comes from the high end of the growth interval and Latest from the low
// end; either is null when it falls beyond the horizon (or never comes).
type DateRange struct {
	Level        float64  `json:"level"`
	Earliest     *string  `json:"earliest"`
	Latest       *string  `json:"latest"`
	DaysEarliest *float64 `json:"days_earliest"`
	DaysLatest   *float64 `json:"days_latest"`
}

// NodesFor is the smallest node count whose N-1 capacity,
// perNode × (n−1) × margin, carries load; at least 2, since N-1
// redundancy needs a spare. It is 0 when perNode × margin is not positive.
func NodesFor(load, perNode, margin float64) int {
	unit := perNode * margin
	if !(unit > 0) {
		return 0
	}
	if load <= 0 {
		return 2
	}
	n := int(math.Ceil(load/unit-1e-9)) + 1
	return max(n, 2)
}

// MakePlan computes a plan. It validates its input and returns errors a
// user can act on.
func MakePlan(in PlanInput) (*Plan, error) {
	switch {
	case !(in.BestBeforeQPS > 0):
		return nil, ErrNoBestBefore
	case in.Nodes < 1:
		return nil, fmt.Errorf("capacity: nodes must be at least 1, got %d", in.Nodes)
	case !(in.SafetyMargin > 0 && in.SafetyMargin <= 1):
		return nil, fmt.Errorf("capacity: safety margin must be in (0, 1], got %g", in.SafetyMargin)
	case !(in.CurrentQPS >= 0) || math.IsInf(in.CurrentQPS, 0):
		return nil, fmt.Errorf("capacity: current QPS must be zero or more, got %g", in.CurrentQPS)
	case !(in.PeakFactor > 0) || math.IsInf(in.PeakFactor, 0):
		return nil, fmt.Errorf("capacity: peak factor must be positive, got %g", in.PeakFactor)
	case !(in.HorizonDays > 0) || math.IsInf(in.HorizonDays, 0):
		return nil, fmt.Errorf("capacity: horizon must be a positive number of days, got %g", in.HorizonDays)
	case math.IsNaN(in.Growth.RatePerDay) || math.IsInf(in.Growth.RatePerDay, 0):
		return nil, fmt.Errorf("capacity: growth rate is not a number")
	}
	perNode := in.BestBeforeQPS / float64(in.Nodes)
	capN := perNode * float64(in.Nodes) * in.SafetyMargin
	capN1 := perNode * float64(in.Nodes-1) * in.SafetyMargin
	peak := in.CurrentQPS * in.PeakFactor
	if atHorizon := Project(peak, in.Growth, in.HorizonDays); atHorizon > perNode*in.SafetyMargin*1e9 || math.IsInf(atHorizon, 0) {
		return nil, fmt.Errorf("capacity: growth of %s projects %.3g QPS at the horizon, more than a billion nodes could carry; check the growth and the horizon", in.Growth, atHorizon)
	}
	p := &Plan{
		Now:                date(in.Now),
		Nodes:              in.Nodes,
		SafetyMargin:       in.SafetyMargin,
		BestBeforeQPS:      in.BestBeforeQPS,
		PerNodeQPS:         perNode,
		CapacityNQPS:       capN,
		CapacityNMinus1QPS: capN1,
		CurrentQPS:         in.CurrentQPS,
		PeakFactor:         in.PeakFactor,
		PeakQPS:            peak,
		HeadroomNPct:       headroom(capN, peak),
		HeadroomNMinus1Pct: headroom(capN1, peak),
		OverToday:          peak > capN1,
		SingleNode:         in.Nodes == 1,
		LowerBound:         in.LowerBound != "",
		Growth: GrowthSummary{
			RatePerDay:     in.Growth.RatePerDay,
			PercentPerWeek: in.Growth.PercentPer(7),
		},
		HorizonDays:          in.HorizonDays,
		HorizonDate:          date(DateAfter(in.Now, in.HorizonDays)),
		PeakAtHorizonQPS:     Project(peak, in.Growth, in.HorizonDays),
		NodesNeededToday:     NodesFor(peak, perNode, in.SafetyMargin),
		NodesNeededAtHorizon: NodesFor(Project(peak, in.Growth, in.HorizonDays), perNode, in.SafetyMargin),
		Assumptions: []string{
			"per-node capacity scales linearly with the node count, as measured on " + plural(in.Nodes, "node"),
			"load grows exponentially at a constant rate",
			fmt.Sprintf("usable capacity is %.0f%% of measured (safety margin %g)", in.SafetyMargin*100, in.SafetyMargin),
		},
	}
	if dd := in.Growth.DoublingDays(); !math.IsInf(dd, 1) {
		p.Growth.DoublingDays = &dd
	}
	target := capN1
	if p.SingleNode {
		// Losing the one node loses the service: there is no N-1
		// headroom to compute, and the date that means something is when
		// the peak outgrows the node.
		target = capN
		p.OverToday = peak > capN
		p.Caveats = append(p.Caveats, "one node: there is no N-1 headroom to compute (losing the node loses the service); the best-before date is when the peak reaches the node's own capacity")
	}
	if p.LowerBound {
		p.Caveats = append(p.Caveats, "the best-before is a lower bound ("+in.LowerBound+"): the service may carry more, so every date is the earliest it could be reached, no earlier than said")
	}
	p.Caveats = append(p.Caveats, in.Caveats...)
	p.DaysUntilBestBefore, p.BestBeforeDate = crossing(peak, target, in.Growth, in.HorizonDays, in.Now)
	if r := in.GrowthRange; r != nil {
		dr := &DateRange{Level: r.Level}
		dr.DaysEarliest, dr.Earliest = crossing(peak, target, r.High, in.HorizonDays, in.Now)
		dr.DaysLatest, dr.Latest = crossing(peak, target, r.Low, in.HorizonDays, in.Now)
		p.BestBeforeRange = dr
	}
	return p, nil
}

// crossing returns the days and date at which load reaches capacity under
// growth g, or nils when that is beyond the horizon or never.
func crossing(load, capacity float64, g Growth, horizon float64, now time.Time) (*float64, *string) {
	days, ok := DaysUntil(load, capacity, g)
	if !ok || days > horizon+1e-9 {
		return nil, nil
	}
	d := date(DateAfter(now, days))
	return &days, &d
}

func headroom(capacity, load float64) *float64 {
	if !(capacity > 0) {
		return nil
	}
	h := (capacity - load) / capacity * 100
	return &h
}

func date(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
