package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// HistoryPoint is one stored run on the history charts.
type HistoryPoint struct {
	Time          time.Time
	Commit        string
	Branch        string
	Run           string
	BestBeforeQPS float64
	NMinus1QPS    float64
	P99MS         float64
}

// HistoryChange is a change point to mark.
type HistoryChange struct {
	Time     time.Time
	Commit   string
	Relative float64
}

// HistoryView is one scenario's runs on one machine, oldest first.
type HistoryView struct {
	Scenario, Machine string
	Points            []HistoryPoint
	// The change points of the best-before and of the p99.
	BestBeforeChanges, P99Changes []HistoryChange
	// SLOP99MS is the p99 objective (0: none); PeakQPS the planned peak.
	SLOP99MS, PeakQPS float64
}

// HistoryChartNames lists the data-chart names of one scenario's section
// of the history page.
var HistoryChartNames = []string{"history-best-before", "history-p99"}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	if c == "" {
		return "no commit"
	}
	return c
}

// historyCharts draws a scenario's best-before and N-1, and its p99 at the
// best-before, against time, with the change points marked.
func historyCharts(v HistoryView) []*chart {
	first := v.Points[0].Time
	day := func(t time.Time) float64 { return t.Sub(first).Hours() / 24 }
	last := day(v.Points[len(v.Points)-1].Time)
	x := dayAxis(first, 0, math.Max(last, 1))
	x.Label = "run date"
	tip := func(p HistoryPoint, what string) string {
		return fmt.Sprintf("%s · commit %s (%s) · %s", p.Time.UTC().Format("2006-01-02 15:04"), shortCommit(p.Commit), p.Branch, what)
	}
	marks := func(cs []HistoryChange) []refLine {
		var out []refLine
		for _, c := range cs {
			out = append(out, refLine{Value: day(c.Time), Label: fmt.Sprintf("%+.0f%% at %s", 100*c.Relative, shortCommit(c.Commit)), Color: "#dc2626"})
		}
		return out
	}
	var bb, n1, p99 []point
	for _, p := range v.Points {
		bb = append(bb, point{day(p.Time), p.BestBeforeQPS})
		if p.NMinus1QPS > 0 {
			n1 = append(n1, point{day(p.Time), p.NMinus1QPS})
		}
		if p.P99MS > 0 {
			p99 = append(p99, point{day(p.Time), p.P99MS})
		}
	}
	// Every marker is at a run's day: its tip names that run.
	runAt := make(map[float64]HistoryPoint, len(v.Points))
	for _, p := range v.Points {
		runAt[day(p.Time)] = p
	}
	at := func(what func(y float64) string) func(point) string {
		return func(pt point) string { return tip(runAt[pt.X], what(pt.Y)) }
	}
	qps := func(unit string) func(float64) string {
		return func(y float64) string { return fmtQPS(math.Round(y*10)/10) + unit }
	}
	qc := &chart{Name: "history-best-before", Title: "Best-before and N-1 over time", X: x, Y: axis{Label: "QPS"}, VLines: marks(v.BestBeforeChanges)}
	qc.Series = []series{
		{Name: "best-before", Color: "#16a34a", Points: bb, Tip: at(qps(" QPS best-before"))},
		{Name: "N-1", Color: "#0891b2", Points: n1, Tip: at(qps(" QPS N-1"))},
	}
	if v.PeakQPS > 0 {
		qc.HLines = []refLine{{Value: v.PeakQPS, Label: "planned peak " + fmtQPS(v.PeakQPS), Color: "#7c3aed"}}
	}
	pc := &chart{Name: "history-p99", Title: "p99 at the best-before over time", X: x, Y: axis{Label: "p99 (ms)"}, VLines: marks(v.P99Changes)}
	pc.Series = []series{{Name: "p99 at the best-before", Color: "#d97706", Points: p99, Tip: at(func(y float64) string { return "p99 " + fmtMS(y) })}}
	if v.SLOP99MS > 0 {
		pc.HLines = []refLine{{Value: v.SLOP99MS, Label: "SLO p99 " + fmtMS(v.SLOP99MS), Color: "#dc2626"}}
	}
	return []*chart{qc, pc}
}

// HistoryHTML writes the history page: per scenario and machine, the
// best-before, N-1 and p99 over time with their change points.
func HistoryHTML(w io.Writer, views []HistoryView, o Options) error {
	var b strings.Builder
	e := html.EscapeString
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	pageHead(&b, "bestbefore history", o)
	f("<header>\n<h1>bestbefore history</h1>\n</header>\n<main>\n")
	for i, v := range views {
		if len(v.Points) == 0 {
			continue
		}
		f("<section id=\"scenario-%d\">\n<h2>%s <span class=\"note\">on %s, %d runs</span></h2>\n", i, e(v.Scenario), e(v.Machine), len(v.Points))
		lastP := v.Points[len(v.Points)-1]
		f("<div class=\"cards\">\n")
		f("<div class=\"card good\"><span>latest best-before</span><strong>%s QPS</strong></div>\n", fmtQPS(lastP.BestBeforeQPS))
		f("<div class=\"card\"><span>latest commit</span><strong>%s</strong></div>\n", e(shortCommit(lastP.Commit)))
		cls := "good"
		if len(v.BestBeforeChanges)+len(v.P99Changes) > 0 {
			cls = "bad"
		}
		f("<div class=\"card %s\"><span>change points</span><strong>%d best-before, %d p99</strong></div>\n</div>\n", cls, len(v.BestBeforeChanges), len(v.P99Changes))
		f("<div class=\"charts\">\n")
		for _, c := range historyCharts(v) {
			c.render(&b)
		}
		f("</div>\n")
		if n := len(v.BestBeforeChanges) + len(v.P99Changes); n > 0 {
			f("<ul>\n")
			for _, c := range v.BestBeforeChanges {
				f("<li>best-before %+.1f%% from commit %s (%s)</li>\n", 100*c.Relative, e(shortCommit(c.Commit)), c.Time.UTC().Format("2006-01-02 15:04"))
			}
			for _, c := range v.P99Changes {
				f("<li>p99 %+.1f%% from commit %s (%s)</li>\n", 100*c.Relative, e(shortCommit(c.Commit)), c.Time.UTC().Format("2006-01-02 15:04"))
			}
			f("</ul>\n")
		}
		f("</section>\n")
	}
	f("<p class=\"note\">One point per completed run with a best-before; change points found by E-Divisive means with Student's t-test (history changes). Hover a point for its commit.</p>\n")
	f("</main>\n<footer>Generated %s by bestbefore %s.</footer>\n</body>\n</html>\n", e(fmtTime(o.now())), e(o.version()))
	_, err := io.WriteString(w, b.String())
	return err
}
