package capacity_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/capacity"
)

func TestParseGrowth(t *testing.T) {
	cases := []struct {
		in       string
		perDay   float64 // want continuous rate per day
		doubling float64 // want doubling days, 0 to skip
	}{
		{"doubling 60d", math.Ln2 / 60, 60},
		{"Doubling every 8w", math.Ln2 / 56, 56},
		{"double every 1y", math.Ln2 / 365, 365},
		{"5%/week", math.Log(1.05) / 7, 0},
		{"5% / wk", math.Log(1.05) / 7, 0},
		{"0.5%/day", math.Log(1.005), 0},
		{"10%/month", math.Log(1.10) / 30, 0},
		{"100%/year", math.Ln2 / 365, 365},
		{"3%/14d", math.Log(1.03) / 14, 0},
		{"-2%/week", math.Log(0.98) / 7, 0},
		{"0%/week", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			g, err := capacity.ParseGrowth(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(g.RatePerDay-c.perDay) > 1e-15 {
				t.Errorf("rate %g/day, want %g", g.RatePerDay, c.perDay)
			}
			if c.doubling > 0 && math.Abs(g.DoublingDays()-c.doubling) > 1e-9 {
				t.Errorf("doubling %g days, want %g", g.DoublingDays(), c.doubling)
			}
		})
	}
}

func TestParseGrowth_Errors(t *testing.T) {
	for _, in := range []string{"", "5", "5%", "5/week", "five%/week", "5%/fortnight", "-100%/week", "doubling", "doubling -3d", "doubling 0d", "doubling soon", "NaN%/week"} {
		t.Run(in, func(t *testing.T) {
			_, err := capacity.ParseGrowth(in)
			if !errors.Is(err, capacity.ErrBadGrowth) {
				t.Fatalf("ParseGrowth(%q) = %v, want ErrBadGrowth", in, err)
			}
		})
	}
}

func TestParseDays(t *testing.T) {
	for in, want := range map[string]float64{"60d": 60, "60": 60, "8w": 56, "6mo": 180, "2 months": 60, "1y": 365, "36h": 1.5, "180d": 180} {
		got, err := capacity.ParseDays(in)
		if err != nil || got != want {
			t.Errorf("ParseDays(%q) = %g, %v; want %g", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0d", "-5d", "soon", "-1h"} {
		if _, err := capacity.ParseDays(in); err == nil {
			t.Errorf("ParseDays(%q) accepted", in)
		}
	}
}

func TestDaysUntil(t *testing.T) {
	weekly5, _ := capacity.ParseGrowth("5%/week")
	cases := []struct {
		name            string
		current, target float64
		g               capacity.Growth
		want            float64
		ok              bool
	}{
		{"doubling 60d, 100 to 400", 100, 400, capacity.GrowthFromDoubling(60), 120, true},
		{"doubling 60d, 100 to 200", 100, 200, capacity.GrowthFromDoubling(60), 60, true},
		{"5%/week, ten weeks", 100, 100 * math.Pow(1.05, 10), weekly5, 70, true},
		{"already over", 500, 400, capacity.GrowthFromDoubling(60), 0, true},
		{"exactly at", 400, 400, capacity.Growth{}, 0, true},
		{"no growth", 100, 400, capacity.Growth{}, math.Inf(1), false},
		{"shrinking", 100, 400, capacity.Growth{RatePerDay: -0.01}, math.Inf(1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := capacity.DaysUntil(c.current, c.target, c.g)
			if ok != c.ok || (ok && math.Abs(got-c.want) > 1e-9) || (!ok && !math.IsInf(got, 1)) {
				t.Errorf("DaysUntil = %g, %v; want %g, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestGrowth_Factor(t *testing.T) {
	g, _ := capacity.ParseGrowth("5%/week")
	if f := g.Factor(14); math.Abs(f-1.05*1.05) > 1e-12 {
		t.Errorf("two weeks at 5%%/week: ×%g, want ×1.1025", f)
	}
	if p := g.PercentPer(7); math.Abs(p-5) > 1e-9 {
		t.Errorf("PercentPer(7) = %g, want 5", p)
	}
	if got := capacity.Project(100, capacity.GrowthFromDoubling(30), 90); math.Abs(got-800) > 1e-9 {
		t.Errorf("Project = %g, want 800", got)
	}
}

func TestDateAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	// ln(4)/(ln2/60) is 120 give or take one ulp; it must land on day 120.
	days, _ := capacity.DaysUntil(100, 400, capacity.GrowthFromDoubling(60))
	if got := capacity.DateAfter(now, days).Format(time.DateOnly); got != "2027-03-26" {
		t.Errorf("120 days after 2026-11-26 = %s, want 2027-03-26", got)
	}
	if got := capacity.DateAfter(now, 0.99).Format(time.DateOnly); got != "2026-11-26" {
		t.Errorf("0.99 days = %s, want the same day", got)
	}
}
