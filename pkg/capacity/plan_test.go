package capacity_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/capacity"
)

var planNow = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func TestMakePlan(t *testing.T) {
	// 3 nodes measured at 1500 QPS: 500 per node; N-1 = 500×2×0.8 = 800.
	base := capacity.PlanInput{
		BestBeforeQPS: 1500, Nodes: 3, SafetyMargin: 0.8,
		CurrentQPS: 100, PeakFactor: 2, // peak 200
		Growth:      capacity.GrowthFromDoubling(60),
		HorizonDays: 180, Now: planNow,
	}
	p, err := capacity.MakePlan(base)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"per node", p.PerNodeQPS, 500},
		{"capacity N", p.CapacityNQPS, 1200},
		{"capacity N-1", p.CapacityNMinus1QPS, 800},
		{"peak", p.PeakQPS, 200},
		{"headroom N-1 %", *p.HeadroomNMinus1Pct, 75},
		{"headroom N %", *p.HeadroomNPct, 100 * (1200 - 200) / 1200.0},
		// 200 → 800 is two doublings: 120 days.
		{"days until best-before", *p.DaysUntilBestBefore, 120},
		// 200 × 2^(180/60) = 1600 at the horizon.
		{"peak at horizon", p.PeakAtHorizonQPS, 1600},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
		}
	}
	if *p.BestBeforeDate != "2027-03-26" {
		t.Errorf("best-before date %s, want 2027-03-26", *p.BestBeforeDate)
	}
	if p.HorizonDate != "2027-05-25" {
		t.Errorf("horizon date %s, want 2027-05-25", p.HorizonDate)
	}
	// 1600 QPS with 400 usable per node: 4 nodes carry it, 5 with a spare.
	if p.NodesNeededAtHorizon != 5 {
		t.Errorf("nodes at horizon %d, want 5", p.NodesNeededAtHorizon)
	}
	if p.NodesNeededToday != 2 {
		t.Errorf("nodes today %d, want 2", p.NodesNeededToday)
	}
	if p.OverToday {
		t.Error("over today with 75% headroom")
	}

	t.Run("weekly growth and peak factor", func(t *testing.T) {
		in := base
		in.CurrentQPS, in.PeakFactor = 160, 2.5 // peak 400: half the N-1 capacity
		in.Growth, _ = capacity.ParseGrowth("10%/week")
		p, err := capacity.MakePlan(in)
		if err != nil {
			t.Fatal(err)
		}
		want := 7 * math.Log(2) / math.Log(1.1) // ≈ 50.9 days
		if math.Abs(*p.DaysUntilBestBefore-want) > 1e-9 {
			t.Errorf("days %g, want %g", *p.DaysUntilBestBefore, want)
		}
		if *p.BestBeforeDate != "2027-01-15" { // 26 Nov + 50 days
			t.Errorf("date %s, want 2027-01-15", *p.BestBeforeDate)
		}
	})
	t.Run("already over", func(t *testing.T) {
		in := base
		in.CurrentQPS = 500 // peak 1000 > 800
		p, _ := capacity.MakePlan(in)
		if !p.OverToday || *p.DaysUntilBestBefore != 0 || *p.BestBeforeDate != "2026-11-26" {
			t.Errorf("over today: %v, %v, %v; want true, 0, today", p.OverToday, *p.DaysUntilBestBefore, *p.BestBeforeDate)
		}
		if *p.HeadroomNMinus1Pct >= 0 {
			t.Errorf("headroom %g%%, want negative", *p.HeadroomNMinus1Pct)
		}
	})
	t.Run("beyond the horizon", func(t *testing.T) {
		in := base
		in.HorizonDays = 90
		p, _ := capacity.MakePlan(in)
		if p.DaysUntilBestBefore != nil || p.BestBeforeDate != nil {
			t.Errorf("crossing at day 120 with a 90-day horizon: got %v %v, want null", *p.DaysUntilBestBefore, *p.BestBeforeDate)
		}
	})
	t.Run("no growth", func(t *testing.T) {
		in := base
		in.Growth = capacity.Growth{}
		p, _ := capacity.MakePlan(in)
		if p.DaysUntilBestBefore != nil || p.Growth.DoublingDays != nil {
			t.Error("no growth must never reach the capacity")
		}
	})
	t.Run("single node", func(t *testing.T) {
		in := base
		in.Nodes = 1
		p, _ := capacity.MakePlan(in)
		if p.CapacityNMinus1QPS != 0 || p.HeadroomNMinus1Pct != nil || !p.SingleNode || p.OverToday {
			t.Errorf("one node has no N-1 capacity, and its peak is under its own: %+v", p)
		}
		// The date is when the peak (200) reaches the node's own usable
		// capacity (1200): ln 6 ÷ the daily rate.
		want := math.Log(1200.0/200) / in.Growth.RatePerDay
		if p.DaysUntilBestBefore == nil || math.Abs(*p.DaysUntilBestBefore-want) > 1e-6 {
			t.Errorf("days until the best-before %v, want %.1f", p.DaysUntilBestBefore, want)
		}
		if len(p.Caveats) == 0 || !strings.Contains(p.Caveats[0], "no N-1 headroom") {
			t.Errorf("caveats %q do not say there is no N-1 headroom", p.Caveats)
		}
	})
	t.Run("lower bound", func(t *testing.T) {
		in := base
		in.LowerBound = "the ramp reached load.max_qps without breaking an objective"
		p, _ := capacity.MakePlan(in)
		if !p.LowerBound || p.NoEarlier() == "" || len(p.Caveats) == 0 || !strings.Contains(p.Caveats[0], "lower bound") {
			t.Errorf("a lower-bound plan: %+v", p)
		}
	})
	t.Run("growth range", func(t *testing.T) {
		in := base
		in.GrowthRange = &capacity.GrowthRange{Low: capacity.GrowthFromDoubling(90), High: capacity.GrowthFromDoubling(30), Level: 0.9}
		p, _ := capacity.MakePlan(in)
		r := p.BestBeforeRange
		if r == nil || *r.DaysEarliest > 60+1e-9 || *r.DaysEarliest < 60-1e-9 || *r.DaysLatest < 180-1e-9 || *r.Latest != "2027-05-25" {
			t.Errorf("range %+v, want 60 to 180 days", r)
		}
	})
}

func TestMakePlan_Errors(t *testing.T) {
	ok := capacity.PlanInput{BestBeforeQPS: 100, Nodes: 2, SafetyMargin: 0.8, CurrentQPS: 10, PeakFactor: 1, HorizonDays: 30, Now: planNow}
	if _, err := capacity.MakePlan(ok); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*capacity.PlanInput){
		"no best-before": func(in *capacity.PlanInput) { in.BestBeforeQPS = 0 },
		"zero nodes":     func(in *capacity.PlanInput) { in.Nodes = 0 },
		"margin above 1": func(in *capacity.PlanInput) { in.SafetyMargin = 1.2 },
		"margin zero":    func(in *capacity.PlanInput) { in.SafetyMargin = 0 },
		"negative load":  func(in *capacity.PlanInput) { in.CurrentQPS = -1 },
		"peak factor":    func(in *capacity.PlanInput) { in.PeakFactor = 0 },
		"horizon":        func(in *capacity.PlanInput) { in.HorizonDays = 0 },
		"NaN growth":     func(in *capacity.PlanInput) { in.Growth.RatePerDay = math.NaN() },
		"absurd growth":  func(in *capacity.PlanInput) { in.Growth.RatePerDay = 700 },
	} {
		in := ok
		mut(&in)
		if _, err := capacity.MakePlan(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_, err := capacity.MakePlan(capacity.PlanInput{Nodes: 2, SafetyMargin: 1, PeakFactor: 1, HorizonDays: 1})
	if !errors.Is(err, capacity.ErrNoBestBefore) {
		t.Errorf("err = %v, want ErrNoBestBefore", err)
	}
}

func TestNodesFor(t *testing.T) {
	for _, c := range []struct {
		load, perNode, margin float64
		want                  int
	}{
		{1600, 500, 0.8, 5}, // exactly 4 usable nodes + 1 spare
		{1601, 500, 0.8, 6},
		{10, 500, 0.8, 2},
		{0, 500, 0.8, 2},
		{100, 0, 0.8, 0},
	} {
		if got := capacity.NodesFor(c.load, c.perNode, c.margin); got != c.want {
			t.Errorf("NodesFor(%g, %g, %g) = %d, want %d", c.load, c.perNode, c.margin, got, c.want)
		}
	}
}
