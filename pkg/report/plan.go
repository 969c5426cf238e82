package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/capacity"
)

// PlanView is what the plan's pictures are drawn from: the plan itself
// and, when growth was fitted to a history, its samples and the growth
// rate's confidence range.
type PlanView struct {
	Name string
	Plan *capacity.Plan
	// History holds the peaks the growth was fitted to, nil otherwise.
	History []capacity.PeakSample
	// Range bounds the growth rate (from the fit), nil without one.
	Range *capacity.GrowthRange
	// LimitedBy is the objective that limited the best-before.
	LimitedBy string
}

// PlanChartNames lists the data-chart names of the plan page.
var PlanChartNames = []string{"plan-peak", "plan-nodes"}

// planNow parses the plan's date.
func planNow(p *capacity.Plan) time.Time {
	t, err := time.Parse(time.DateOnly, p.Now)
	if err != nil {
		return time.Time{}
	}
	return t
}

// dayAxis is an axis of days from the planning date, labelled by date.
func dayAxis(now time.Time, from, to float64) axis {
	span := math.Max(to-from, 1)
	step := 365.0
	for _, s := range []float64{1, 2, 7, 14, 30, 60, 91, 182, 365, 730} {
		if span/s <= 6 {
			step = s
			break
		}
	}
	a := axis{Label: "date", Fixed: true, Min: from, Max: to, Format: func(d float64) string {
		return capacity.DateAfter(now, d).Format(time.DateOnly)
	}}
	for v := math.Ceil(from/step) * step; v <= to+1e-9; v += step {
		a.Ticks = append(a.Ticks, v)
	}
	return a
}

// planCharts draws the projected peak against the N and N-1 capacities,
// and the nodes needed over time.
func planCharts(v PlanView) []*chart {
	p := v.Plan
	now := planNow(p)
	g := capacity.Growth{RatePerDay: p.Growth.RatePerDay}
	from := 0.0
	for _, s := range v.History {
		from = math.Min(from, math.Floor(s.Date.Sub(now).Hours()/24))
	}
	to := p.HorizonDays
	x := dayAxis(now, from, to)
	day := func(d float64) string { return capacity.DateAfter(now, d).Format(time.DateOnly) }
	const n = 120
	curve := func(g capacity.Growth, lo float64) []point {
		var pts []point
		for i := 0; i <= n; i++ {
			d := lo + (to-lo)*float64(i)/n
			pts = append(pts, point{d, capacity.Project(p.PeakQPS, g, d)})
		}
		return pts
	}
	peak := &chart{Name: "plan-peak", Title: "Projected peak against capacity", X: x, Y: axis{Label: "load (QPS)"}}
	if len(v.History) > 0 {
		var pts []point
		for _, s := range v.History {
			pts = append(pts, point{s.Date.Sub(now).Hours() / 24, s.PeakQPS})
		}
		peak.Series = append(peak.Series, series{Name: "measured peaks", Color: "#6b7280", Points: pts, NoLine: true, NoMarks: len(pts) > 150, Tip: func(pt point) string {
			return fmt.Sprintf("%s · peak %s QPS", day(pt.X), fmtQPS(math.Round(pt.Y)))
		}})
		if len(pts) > 150 {
			// Too many to mark one by one: the points as a thin line.
			peak.Series[len(peak.Series)-1].NoLine = false
		}
	}
	peak.Series = append(peak.Series, series{Name: "projected peak", Color: "#2563eb", Points: curve(g, from), NoMarks: true})
	if r := v.Range; r != nil {
		lvl := strconv.FormatFloat(r.Level*100, 'f', -1, 64) + "%"
		peak.Series = append(peak.Series,
			series{Name: lvl + " range, low", Color: "#93c5fd", Points: curve(r.Low, 0), NoMarks: true, Dash: true, Ref: true},
			series{Name: lvl + " range, high", Color: "#93c5fd", Points: curve(r.High, 0), NoMarks: true, Dash: true, Ref: true},
		)
	}
	// Markers at today and at the horizon carry the figures on hover.
	peak.Series = append(peak.Series, series{Name: "", Color: "#2563eb", NoLine: true, Ref: true,
		Points: []point{{0, p.PeakQPS}, {to, p.PeakAtHorizonQPS}}, Tip: func(pt point) string {
			return fmt.Sprintf("%s · projected peak %s QPS", day(pt.X), fmtQPS(math.Round(pt.Y)))
		}})
	peak.HLines = []refLine{
		{Value: p.CapacityNQPS, Label: fmt.Sprintf("N capacity %s (%d nodes)", fmtQPS(math.Round(p.CapacityNQPS)), p.Nodes), Color: "#16a34a"},
		{Value: p.CapacityNMinus1QPS, Label: fmt.Sprintf("N-1 capacity %s", fmtQPS(math.Round(p.CapacityNMinus1QPS))), Color: "#dc2626"},
	}
	peak.VLines = []refLine{{Value: 0, Label: "today", Color: "#111827"}}
	if p.BestBeforeDate != nil && p.DaysUntilBestBefore != nil {
		peak.VLines = append(peak.VLines, refLine{Value: *p.DaysUntilBestBefore, Label: "best-before " + *p.BestBeforeDate, Color: "#dc2626"})
	}
	// The date's confidence range, shaded: from its earliest to its
	// latest date (the horizon when that falls beyond it).
	if r := p.BestBeforeRange; r != nil && r.DaysEarliest != nil && !p.OverToday {
		hi := to
		if r.DaysLatest != nil {
			hi = *r.DaysLatest
		}
		peak.Bands = append(peak.Bands, band{From: *r.DaysEarliest, To: math.Max(hi, *r.DaysEarliest+to/200), Color: "#dc2626",
			Tip: fmt.Sprintf("%g%% range of the best-before date: %s to %s", r.Level*100, orAfter(r.Earliest, p.HorizonDate), orAfter(r.Latest, p.HorizonDate))})
	}
	peak.VLines = append(peak.VLines, refLine{Value: to, Label: "horizon", Color: "#6b7280"})

	nodes := &chart{Name: "plan-nodes", Title: "Nodes needed to survive losing one", X: dayAxis(now, 0, to), Y: axis{Label: "nodes"}}
	var need []point
	last := -1
	for i := 0; i <= 4*n; i++ {
		d := to * float64(i) / (4 * n)
		k := capacity.NodesFor(capacity.Project(p.PeakQPS, g, d), p.PerNodeQPS, p.SafetyMargin)
		if k != last {
			if last >= 0 {
				need = append(need, point{d, float64(last)})
			}
			need = append(need, point{d, float64(k)})
			last = k
		}
	}
	need = append(need, point{to, float64(last)})
	nodes.Series = []series{{Name: "nodes needed (N-1)", Color: "#7c3aed", Points: need, Tip: func(pt point) string {
		return fmt.Sprintf("from %s · %d nodes", day(pt.X), int(pt.Y))
	}}}
	nodes.HLines = []refLine{{Value: float64(p.Nodes), Label: fmt.Sprintf("today: %d nodes", p.Nodes), Color: "#16a34a"}}
	if r := v.Range; r != nil {
		k := capacity.NodesFor(capacity.Project(p.PeakQPS, r.High, to), p.PerNodeQPS, p.SafetyMargin)
		if k > p.NodesNeededAtHorizon {
			nodes.HLines = append(nodes.HLines, refLine{Value: float64(k), Label: fmt.Sprintf("%d at the horizon on the range's high growth", k), Color: "#f87171"})
		}
	}
	nodes.Y.scale([]float64{0, float64(max(last, p.Nodes) + 1)})
	nodes.Y.Fixed = true
	for t := 0.0; t <= nodes.Y.Max; t += math.Max(1, math.Ceil(nodes.Y.Max/6)) {
		nodes.Y.Ticks = append(nodes.Y.Ticks, t)
	}
	return []*chart{peak, nodes}
}

// planHeadline is the plan's answer in one sentence.
func planHeadline(p *capacity.Plan) string {
	target, label := p.DateTarget()
	switch {
	case p.OverToday && p.SingleNode:
		return fmt.Sprintf("Today's peak (%s QPS) already exceeds %s (%s QPS).", fmtQPS(math.Round(p.PeakQPS)), label, fmtQPS(math.Round(target)))
	case p.OverToday:
		return fmt.Sprintf("Today's peak (%s QPS) already exceeds %s (%s QPS): losing a node now would overload the rest.", fmtQPS(math.Round(p.PeakQPS)), label, fmtQPS(math.Round(target)))
	case p.BestBeforeDate != nil:
		return fmt.Sprintf("Best-before %s%s: in %.0f days the projected peak reaches %s (%s QPS).", p.NoEarlier(), *p.BestBeforeDate, math.Floor(*p.DaysUntilBestBefore+1e-9), label, fmtQPS(math.Round(target)))
	}
	return fmt.Sprintf("No best-before date before the horizon (%s): the projected peak stays under %s (%s QPS).", p.HorizonDate, label, fmtQPS(math.Round(target)))
}

// PlanUnit writes a plan's text in its unit: a plan in output tokens
// says tokens/s where a plan in requests says QPS.
func PlanUnit(s, unit string) string {
	if unit == "" {
		return s
	}
	return strings.ReplaceAll(s, "QPS", unit)
}

// PlanHTML writes the plan as one self-contained page: the answer, the
// projected peak against the capacities and the nodes needed over time.
func PlanHTML(w io.Writer, v PlanView, o Options) error {
	p := v.Plan
	var b strings.Builder
	e := html.EscapeString
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	title := "bestbefore plan: " + v.Name
	pageHead(&b, title, o)
	f("<header>\n<h1>%s</h1>\n", e(title))
	cls := "found"
	if p.OverToday || p.BestBeforeDate != nil {
		cls = "none"
	}
	f("<p class=\"headline %s\">%s</p>\n<div class=\"cards\">\n", cls, e(planHeadline(p)))
	card := func(label, value, class string) {
		f("<div class=\"card %s\"><span>%s</span><strong>%s</strong></div>\n", class, e(label), e(value))
	}
	bbd := "none before " + p.HorizonDate
	bbc := "good"
	if p.BestBeforeDate != nil {
		bbd, bbc = p.NoEarlier()+*p.BestBeforeDate, "bad"
	}
	card("best-before date", bbd, bbc)
	if r := p.BestBeforeRange; r != nil && !p.OverToday {
		card(fmt.Sprintf("%g%% range", r.Level*100), orAfter(r.Earliest, p.HorizonDate)+" to "+orAfter(r.Latest, p.HorizonDate), "")
	}
	card("today's peak", fmtQPS(math.Round(p.PeakQPS))+" QPS", "")
	if p.SingleNode {
		card("capacity (1 node, no N-1)", fmtQPS(math.Round(p.CapacityNQPS))+" QPS", "")
		card("headroom", pctOrNA(p.HeadroomNPct), "")
	} else {
		card(fmt.Sprintf("N-1 capacity (%d of %d nodes)", p.Nodes-1, p.Nodes), fmtQPS(math.Round(p.CapacityNMinus1QPS))+" QPS", "")
		card("headroom at N-1", pctOrNA(p.HeadroomNMinus1Pct), "")
	}
	card("growth", capacity.Growth{RatePerDay: p.Growth.RatePerDay}.String(), "")
	card("nodes at the horizon", fmt.Sprintf("%d by %s", p.NodesNeededAtHorizon, p.HorizonDate), "")
	f("</div>\n</header>\n<main>\n<section id=\"charts\">\n<h2>Charts</h2>\n<div class=\"charts\">\n")
	for _, c := range planCharts(v) {
		c.render(&b)
	}
	f("</div>\n<p class=\"note\">The N-1 capacity is the measured best-before per node (%s QPS) × %d nodes × safety margin %g. ", fmtQPS(p.PerNodeQPS), p.Nodes-1, p.SafetyMargin)
	if v.Range != nil {
		f("The dashed lines bound the projection by the growth rate's %g%% confidence range (the rate's uncertainty only). ", v.Range.Level*100)
	}
	f("Hover a point for its value.</p>\n</section>\n")
	f("<section id=\"by-month\">\n<h2>By month</h2>\n<div class=\"scroll\"><table>\n<thead><tr>")
	for _, h := range planTableHeader(v) {
		f("<th>%s</th>", e(h))
	}
	f("</tr></thead>\n<tbody>\n")
	for _, row := range planTable(v) {
		f("<tr>")
		for i, c := range row {
			if i == 0 {
				f("<td>%s</td>", e(c))
			} else {
				f("<td class=\"n\">%s</td>", e(c))
			}
		}
		f("</tr>\n")
	}
	f("</tbody></table></div>\n</section>\n")
	list := func(id, title string, items []string) {
		f("<section id=\"%s\">\n<h2>%s</h2>\n<ul>\n", id, title)
		for _, it := range items {
			f("<li>%s</li>\n", e(it))
		}
		f("</ul>\n</section>\n")
	}
	if len(p.Caveats) > 0 {
		list("caveats", "Caveats", p.Caveats)
	}
	list("assumptions", "Assumptions", p.Assumptions)
	f("</main>\n<footer>Generated %s by bestbefore %s.</footer>\n</body>\n</html>\n", e(fmtTime(o.now())), e(o.version()))
	_, err := io.WriteString(w, PlanUnit(b.String(), p.Unit))
	return err
}

// PlanMarkdown writes the plan for a pull request or a wiki: the answer
// and, where a chart cannot go, the projection month by month.
func PlanMarkdown(w io.Writer, v PlanView, o Options) error {
	p := v.Plan
	var b strings.Builder
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	f("# bestbefore plan: %s\n\n> **%s**\n\n", mdEsc(v.Name), mdEsc(planHeadline(p)))
	if p.SingleNode {
		f("Today's peak %s QPS · capacity %s QPS (1 node, no N-1, safety margin %g) · headroom %s · growth %s\n\n",
			fmtQPS(math.Round(p.PeakQPS)), fmtQPS(math.Round(p.CapacityNQPS)), p.SafetyMargin, pctOrNA(p.HeadroomNPct), mdEsc(capacity.Growth{RatePerDay: p.Growth.RatePerDay}.String()))
	} else {
		f("Today's peak %s QPS · N-1 capacity %s QPS (%d of %d nodes, safety margin %g) · headroom %s · growth %s\n\n",
			fmtQPS(math.Round(p.PeakQPS)), fmtQPS(math.Round(p.CapacityNMinus1QPS)), p.Nodes-1, p.Nodes, p.SafetyMargin, pctOrNA(p.HeadroomNMinus1Pct), mdEsc(capacity.Growth{RatePerDay: p.Growth.RatePerDay}.String()))
	}
	if r := p.BestBeforeRange; r != nil && !p.OverToday {
		f("%g%% range of the date: %s to %s (growth-rate uncertainty only).\n\n", r.Level*100, orAfter(r.Earliest, p.HorizonDate), orAfter(r.Latest, p.HorizonDate))
	}
	hdr := planTableHeader(v)
	f("| %s |\n|", strings.Join(hdr, " | "))
	for i := range hdr {
		if i == 0 {
			f(" --- |")
		} else {
			f(" ---: |")
		}
	}
	f("\n")
	for _, row := range planTable(v) {
		for i := range row {
			row[i] = mdEsc(row[i])
		}
		f("| %s |\n", strings.Join(row, " | "))
	}
	list := func(title string, items []string) {
		f("\n**%s:**\n\n", title)
		for _, it := range items {
			f("- %s\n", mdEsc(it))
		}
	}
	if len(p.Caveats) > 0 {
		list("Caveats", p.Caveats)
	}
	list("Assumes", p.Assumptions)
	f("\n_Generated %s by bestbefore %s._\n", fmtTime(o.now()), o.version())
	_, err := io.WriteString(w, PlanUnit(b.String(), p.Unit))
	return err
}

func planTableHeader(v PlanView) []string {
	h := []string{"date", "projected peak (QPS)"}
	if v.Range != nil {
		h = append(h, fmt.Sprintf("%g%% range (QPS)", v.Range.Level*100))
	}
	return append(h, "headroom at N-1", "nodes needed")
}

// planTable is the projection on the planning date, every 30 days to the
// horizon, and on the best-before date.
func planTable(v PlanView) [][]string {
	p := v.Plan
	now := planNow(p)
	g := capacity.Growth{RatePerDay: p.Growth.RatePerDay}
	days := []float64{0}
	for d := 30.0; d < p.HorizonDays-1e-9; d += 30 {
		days = append(days, d)
	}
	days = append(days, p.HorizonDays)
	if bb := p.DaysUntilBestBefore; bb != nil && *bb > 0 {
		for i, d := range days {
			if *bb < d {
				days = append(days[:i], append([]float64{*bb}, days[i:]...)...)
				break
			}
		}
	}
	var rows [][]string
	for _, d := range days {
		peak := capacity.Project(p.PeakQPS, g, d)
		date := capacity.DateAfter(now, d).Format(time.DateOnly)
		if bb := p.DaysUntilBestBefore; bb != nil && d == *bb {
			date += " (best-before)"
		}
		row := []string{date, fmtQPS(math.Round(peak))}
		if r := v.Range; r != nil {
			row = append(row, fmtQPS(math.Round(capacity.Project(p.PeakQPS, r.Low, d)))+"–"+fmtQPS(math.Round(capacity.Project(p.PeakQPS, r.High, d))))
		}
		hr := "n/a"
		if p.CapacityNMinus1QPS > 0 {
			hr = strconv.FormatFloat((p.CapacityNMinus1QPS-peak)/p.CapacityNMinus1QPS*100, 'f', 0, 64) + "%"
		}
		rows = append(rows, append(row, hr, strconv.Itoa(capacity.NodesFor(peak, p.PerNodeQPS, p.SafetyMargin))))
	}
	return rows
}

func orAfter(d *string, horizon string) string {
	if d == nil {
		return "after " + horizon
	}
	return *d
}

func pctOrNA(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'f', 0, 64) + "%"
}
