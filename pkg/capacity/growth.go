// Package capacity holds the capacity-planning arithmetic: growth
// projection, N-1 headroom and the best-before date, the Universal
// Scalability Law fit and the latency knee. It is pure: no files, no
// network, no clock (callers pass "now" in), so every figure it produces
// can be reproduced and tested exactly.
package capacity

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Day is the planning time unit.
const Day = 24 * time.Hour

// ErrBadGrowth is wrapped by every growth syntax error.
var ErrBadGrowth = errors.New("capacity: bad growth")

// Growth is exponential load growth, stored as a continuous rate per day:
// load(t) = load(0) × e^(RatePerDay × t).
type Growth struct {
	RatePerDay float64
}

// GrowthFromDoubling returns the growth that doubles the load every d days.
func GrowthFromDoubling(days float64) Growth {
	return Growth{RatePerDay: math.Ln2 / days}
}

// GrowthFromPercent returns compound growth of pct percent every period
// days (5, 7 is "5%/week": ×1.05 each week).
func GrowthFromPercent(pct, periodDays float64) Growth {
	return Growth{RatePerDay: math.Log1p(pct/100) / periodDays}
}

// Factor is how much the load is multiplied by after days.
func (g Growth) Factor(days float64) float64 { return math.Exp(g.RatePerDay * days) }

// DoublingDays is the doubling time in days; +Inf when the load is not growing.
func (g Growth) DoublingDays() float64 {
	if g.RatePerDay <= 0 {
		return math.Inf(1)
	}
	return math.Ln2 / g.RatePerDay
}

// PercentPer is the compound growth in percent over periodDays.
func (g Growth) PercentPer(periodDays float64) float64 {
	return math.Expm1(g.RatePerDay*periodDays) * 100
}

// String renders the growth the way a planner reads it.
func (g Growth) String() string {
	if g.RatePerDay == 0 {
		return "no growth"
	}
	if g.RatePerDay < 0 {
		return fmt.Sprintf("%.3g%%/week (shrinking)", g.PercentPer(7))
	}
	return fmt.Sprintf("%.3g%%/week (doubling every %.1f days)", g.PercentPer(7), g.DoublingDays())
}

// periods maps the names accepted after "%/" to their length in days.
// A month is 30 days and a year 365 days, so that results are exact and
// independent of the calendar.
var periods = map[string]float64{
	"day": 1, "days": 1, "d": 1,
	"week": 7, "weeks": 7, "w": 7, "wk": 7,
	"month": 30, "months": 30, "mo": 30,
	"year": 365, "years": 365, "y": 365, "yr": 365,
}

// ParseGrowth reads a growth specification:
//
//	"5%/week", "0.5%/day", "10%/month" (30 days), "40%/year" (365 days)
//	"doubling 60d", "doubling 8w" (doubling time; also "double every 60d")
//
// Percentages compound: "5%/week" multiplies the load by 1.05 each week.
// A negative percentage (shrinking load) is accepted; it never reaches
// any capacity.
func ParseGrowth(s string) (Growth, error) {
	in := strings.TrimSpace(strings.ToLower(s))
	for _, p := range []string{"doubling every ", "double every ", "doubling ", "doubles every ", "x2 every "} {
		if rest, ok := strings.CutPrefix(in, p); ok {
			return ParseDoubling(rest)
		}
	}
	pct, per, ok := strings.Cut(in, "/")
	if !ok || !strings.HasSuffix(strings.TrimSpace(pct), "%") {
		return Growth{}, fmt.Errorf("%w: %q: want e.g. \"5%%/week\", \"0.5%%/day\" or \"doubling 60d\"", ErrBadGrowth, s)
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(pct), "%"), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return Growth{}, fmt.Errorf("%w: %q: %q is not a percentage", ErrBadGrowth, s, strings.TrimSpace(pct))
	}
	if v <= -100 {
		return Growth{}, fmt.Errorf("%w: %q: a load cannot shrink by 100%% or more", ErrBadGrowth, s)
	}
	per = strings.TrimSpace(per)
	days, ok := periods[per]
	if !ok {
		// "5%/2w", "5%/14d"
		d, err := ParseDays(per)
		if err != nil {
			return Growth{}, fmt.Errorf("%w: %q: unknown period %q (want day, week, month, year or a length such as 14d)", ErrBadGrowth, s, per)
		}
		days = d
	}
	return GrowthFromPercent(v, days), nil
}

// ParseDoubling reads a doubling time such as "60d", "8w" or "1y".
func ParseDoubling(s string) (Growth, error) {
	d, err := ParseDays(s)
	if err != nil {
		return Growth{}, fmt.Errorf("%w: doubling time: %v", ErrBadGrowth, err)
	}
	return GrowthFromDoubling(d), nil
}

// ParseDays reads a positive length of time in days: "60d", "60" (days),
// "8w", "6mo" (30-day months), "1y" (365 days) or a Go duration ("36h").
func ParseDays(s string) (float64, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" {
		return 0, fmt.Errorf("empty length of time (want e.g. 60d, 8w, 6mo, 1y)")
	}
	units := []struct {
		suffix string
		days   float64
	}{{"days", 1}, {"day", 1}, {"d", 1}, {"weeks", 7}, {"week", 7}, {"w", 7}, {"months", 30}, {"month", 30}, {"mo", 30}, {"years", 365}, {"year", 365}, {"y", 365}, {"", 1}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil {
			continue
		}
		if !(v > 0) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%q: a length of time must be positive", s)
		}
		return v * u.days, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return 0, fmt.Errorf("%q: a length of time must be positive", s)
		}
		return d.Hours() / 24, nil
	}
	return 0, fmt.Errorf("%q is not a length of time (want e.g. 60d, 8w, 6mo, 1y)", s)
}

// DaysUntil is how many days growth g takes to bring a load from current
// to target. It is 0 when current already reaches target, and ok is false
// when the load never gets there (no growth, or shrinking).
func DaysUntil(current, target float64, g Growth) (days float64, ok bool) {
	if current >= target {
		return 0, true
	}
	if current <= 0 || g.RatePerDay <= 0 {
		return math.Inf(1), false
	}
	return math.Log(target/current) / g.RatePerDay, true
}

// Project is the load after days of growth g.
func Project(current float64, g Growth, days float64) float64 {
	return current * g.Factor(days)
}

// DateAfter returns the calendar date (midnight UTC) of the day on which a
// crossing days after now happens. A tiny tolerance absorbs floating-point
// error, so that exactly 120 days is day 120 and not day 119.
func DateAfter(now time.Time, days float64) time.Time {
	y, m, d := now.UTC().Date()
	base := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return base.AddDate(0, 0, int(math.Floor(days+1e-9)))
}
