package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// TimelineChartNames lists the data-chart names of the run-over-time
// charts, in page order; drawn when the steps hold per-interval data.
var TimelineChartNames = []string{"time-rate", "time-latency", "time-errors", "time-inflight", "time-lag"}

// phaseColor shades a phase's steps behind the time series.
var phaseColor = map[string]string{
	result.PhaseRamp:   "#2563eb",
	result.PhaseRefine: "#d97706",
	result.PhaseHold:   "#7c3aed",
	result.PhaseFixed:  "#2563eb",
}

// timelineCharts draws the whole run as time series, one point per
// interval of each step's measured window (the warmups, not measured,
// are gaps): achieved and offered rate, p50/p90/p99, errors per second,
// requests in flight and the generator's send lag. Each step is a band
// shaded by its phase; node loss is marked where it happened.
func timelineCharts(r *result.Result) ([]*chart, error) {
	if len(r.Steps) == 0 {
		return nil, nil
	}
	origin := r.StartedAt
	if origin.IsZero() || r.Steps[0].StartedAt.Before(origin) {
		origin = r.Steps[0].StartedAt
	}
	var rate, offered, p50, p90, p99, errs, inflight, lag []point
	var bands []band
	var end float64
	gap := point{math.NaN(), math.NaN()}
	lastPhase := ""
	for _, s := range r.Steps {
		if len(s.Intervals) == 0 {
			continue
		}
		t0 := s.StartedAt.Sub(origin).Seconds() + s.WarmupS
		t1 := t0 + s.DurationS
		end = math.Max(end, t1)
		label := ""
		if s.Phase != lastPhase {
			label = s.Phase
			lastPhase = s.Phase
		}
		bands = append(bands, band{From: t0, To: t1, Label: label, Color: phaseColor[s.Phase],
			Tip: fmt.Sprintf("step %d (%s): %s QPS offered", s.Index, s.Phase, fmtQPS(s.OfferedQPS))})
		offered = append(offered, point{t0, s.OfferedQPS}, point{t1, s.OfferedQPS}, gap)
		for i, iv := range s.Intervals {
			w := s.DurationS - iv.OffsetS
			if i+1 < len(s.Intervals) {
				w = s.Intervals[i+1].OffsetS - iv.OffsetS
			}
			if w <= 0 {
				continue
			}
			x := t0 + iv.OffsetS + w/2
			rate = append(rate, point{x, float64(iv.Requests-iv.Errors) / w})
			errs = append(errs, point{x, float64(iv.Errors) / w})
			inflight = append(inflight, point{x, iv.InFlightMean})
			lag = append(lag, point{x, iv.SendLagMaxMS})
			h, err := stats.Decode(iv.Histogram)
			if err != nil {
				return nil, fmt.Errorf("report: step %d interval %d: %w", s.Index, i, err)
			}
			if h.TotalCount() > 0 {
				p50 = append(p50, point{x, stats.QuantileMS(h, 50)})
				p90 = append(p90, point{x, stats.QuantileMS(h, 90)})
				p99 = append(p99, point{x, stats.QuantileMS(h, 99)})
			}
		}
		for _, sr := range []*[]point{&rate, &errs, &inflight, &lag, &p50, &p90, &p99} {
			*sr = append(*sr, gap)
		}
	}
	if len(rate) == 0 {
		return nil, nil
	}
	tx := timeAxis(end)
	var marks []refLine
	if nl := r.NodeLoss; nl != nil {
		for _, s := range r.Steps {
			if s.Index != nl.Step {
				continue
			}
			lost := s.StartedAt.Sub(origin).Seconds() + s.WarmupS + nl.LostAtS
			marks = append(marks, refLine{Value: lost, Label: "node lost", Color: "#dc2626"})
			if nl.RecoverS != nil && !nl.Never {
				marks = append(marks, refLine{Value: lost + *nl.RecoverS, Label: "recovered", Color: "#16a34a"})
			}
		}
	}
	at := func(p point) string { return tx.label(p.X) }
	mk := func(name, title string, y axis) *chart {
		return &chart{Name: name, Title: title, X: tx, Y: y, Bands: bands, VLines: marks}
	}
	many := len(rate) > 150

	rc := mk("time-rate", "Rate over time", axis{Label: "requests per second"})
	rc.Series = []series{
		{Name: "succeeded (by intended send time)", Points: rate, NoMarks: many, Tip: func(p point) string {
			return fmt.Sprintf("%s · %s succeeded/s", at(p), fmtQPS(math.Round(p.Y*10)/10))
		}},
		{Name: "offered", Points: offered, Dash: true, NoMarks: true, Ref: true, Color: "#6b7280"},
	}

	lc := mk("time-latency", "Latency over time", axis{Label: "latency (log)", Log: true, Format: tickMS})
	for _, pc := range []struct {
		name string
		pts  []point
	}{{"p50", p50}, {"p90", p90}, {"p99", p99}} {
		name := pc.name
		lc.Series = append(lc.Series, series{Name: name, Points: pc.pts, NoMarks: many, Tip: func(p point) string {
			return fmt.Sprintf("%s · %s %s", at(p), name, fmtMS(p.Y))
		}})
	}
	lc.HLines = sloLines(r)

	ec := mk("time-errors", "Errors over time", axis{Label: "errors per second"})
	ec.Series = []series{{Name: "errors/s", Color: "#dc2626", Points: errs, NoMarks: many, Tip: func(p point) string {
		return fmt.Sprintf("%s · %s errors/s", at(p), strconv.FormatFloat(p.Y, 'g', 4, 64))
	}}}

	ic := mk("time-inflight", "Requests in flight over time", axis{Label: "requests in flight (mean)"})
	ic.Series = []series{{Name: "in flight", Points: inflight, NoMarks: many, Tip: func(p point) string {
		return fmt.Sprintf("%s · %s in flight", at(p), strconv.FormatFloat(p.Y, 'f', 1, 64))
	}}}

	gc := mk("time-lag", "Generator send lag over time", axis{Label: "send lag, max (ms)"})
	gc.Series = []series{{Name: "send lag max", Color: "#d97706", Points: lag, NoMarks: many, Tip: func(p point) string {
		return fmt.Sprintf("%s · send lag max %s", at(p), fmtMS(p.Y))
	}}}
	return []*chart{rc, lc, ec, ic, gc}, nil
}

// timeAxis is a time axis from 0 to end seconds with ticks on round
// seconds, minutes or hours.
func timeAxis(end float64) axis {
	end = math.Max(end, 1)
	step := 3600.0 * 6
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 3600 * 3, 3600 * 6} {
		if end/s <= 8 {
			step = s
			break
		}
	}
	a := axis{Label: "time into the run", Fixed: true, Min: 0, Max: math.Ceil(end/step) * step, Format: fmtClock}
	for v := 0.0; v <= a.Max+1e-9; v += step {
		a.Ticks = append(a.Ticks, v)
	}
	return a
}

// fmtClock writes seconds into a run as 45s, 2m, 2m30s or 1h05m.
func fmtClock(s float64) string {
	t := int(math.Round(s))
	switch {
	case t < 60:
		return strconv.Itoa(t) + "s"
	case t < 3600 && t%60 == 0:
		return strconv.Itoa(t/60) + "m"
	case t < 3600:
		return fmt.Sprintf("%dm%02ds", t/60, t%60)
	}
	return fmt.Sprintf("%dh%02dm", t/3600, t%3600/60)
}
