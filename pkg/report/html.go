package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// HTML writes report.html: one self-contained page (inline CSS and SVG, no
// script, no network) with the headline, charts and tables. Its Content
// Security Policy forbids every external resource.
func HTML(w io.Writer, r *result.Result, o Options) error {
	r = forDisplay(r)
	charts, err := buildCharts(r)
	if err != nil {
		return err
	}
	timeline, err := timelineCharts(r)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.Grow(64 << 10)
	e := html.EscapeString
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	pageHead(&b, "bestbefore: "+r.Name, o)

	bb := r.BestBefore
	p("<header>\n<h1>bestbefore: %s</h1>\n", e(r.Name))
	if bb.Found {
		p("<p class=\"headline found\">%s</p>\n", e(headline(r)))
	} else {
		p("<p class=\"headline none\">%s</p>\n", e(headline(r)))
	}
	p("<div class=\"cards\">\n")
	card := func(label, value, class string) {
		p("<div class=\"card %s\"><span>%s</span><strong>%s</strong></div>\n", class, e(label), e(value))
	}
	if bb.Found {
		card("best-before", fmtQPS(bb.QPS)+" QPS", "good")
		if bb.NMinus1QPS > 0 {
			card(fmt.Sprintf("N-1 (%d nodes, margin %s)", bb.Nodes, fmtFloat(bb.SafetyMargin)), fmtQPS(bb.NMinus1QPS)+" QPS", "good")
		}
	} else {
		card("best-before", "none found", "bad")
	}
	if bb.LimitedBy != "" {
		card("limited by", bb.LimitedBy, "")
	}
	if bb.FirstFailQPS > 0 {
		card("first failing rate", fmtQPS(bb.FirstFailQPS)+" QPS", "")
	}
	if r.NodeLoss != nil {
		if r.NodeLoss.Held {
			card("node loss", "held", "good")
		} else {
			card("node loss", "not held", "bad")
		}
	}
	st := r.Status
	if r.Reason != "" {
		st += ": " + r.Reason
	}
	card("status", st, "")
	card("steps · duration", fmt.Sprintf("%d · %s", len(r.Steps), duration(r)), "")
	p("</div>\n</header>\n<main>\n")

	if obs := r.Objectives.InForce(); len(obs) > 0 {
		best, hasBest := bestStep(r)
		fail, hasFail := firstFailStep(r)
		p("<section id=\"objectives\">\n<h2>Objectives</h2>\n<div class=\"scroll\"><table class=\"objectives\">\n<thead><tr><th>objective</th><th>bound</th>")
		if hasBest {
			p("<th>at best-before (%s QPS)</th>", fmtQPS(best.OfferedQPS))
		}
		if hasFail {
			p("<th>at first failing step (%s QPS)</th>", fmtQPS(fail.OfferedQPS))
		}
		p("</tr></thead>\n<tbody>\n")
		for _, ob := range obs {
			p("<tr><td>%s</td><td class=\"n\">%s</td>", e(ob.Label), e(ob.Format(ob.Bound)))
			for _, x := range []struct {
				s  result.Step
				ok bool
			}{{best, hasBest}, {fail, hasFail}} {
				if !x.ok {
					continue
				}
				v, pass := objectiveCell(ob, x.s)
				p("<td class=\"n %s\">%s %s</td>", passClass(pass), check(pass), e(v))
			}
			p("</tr>\n")
		}
		p("</tbody></table></div>\n</section>\n")
	}

	p("<section id=\"charts\">\n<h2>Charts</h2>\n<div class=\"charts\">\n")
	for _, c := range charts {
		c.render(&b)
	}
	p("</div>\n<p class=\"note\">Latency is measured from each request's intended send time, so a stalled target shows in the percentiles. Hover a point for its value.</p>\n</section>\n")

	if len(timeline) > 0 {
		p("<section id=\"over-time\">\n<h2>The run over time</h2>\n<div class=\"charts\">\n")
		for _, c := range timeline {
			c.render(&b)
		}
		p("</div>\n<p class=\"note\">One point per interval of each step's measured window; warmups are not measured and show as gaps. The shading marks each step, coloured by phase (ramp, refine, hold). Rates count the requests due in the interval, by their intended send time.</p>\n</section>\n")
	}

	if len(r.Steps) > 0 {
		p("<section id=\"steps\">\n<h2>Steps</h2>\n<div class=\"scroll\"><table class=\"steps\">\n<thead><tr>")
		for _, h := range []string{"#", "phase", "offered QPS", "achieved QPS", "p50", "p90", "p99", "p99.9", "max", "errors", "availability", "target CPU", "target RSS", "GC p99", "generator CPU", "send lag p99", "saturated", "SLO"} {
			p("<th>%s</th>", h)
		}
		p("</tr></thead>\n<tbody>\n")
		for _, s := range r.Steps {
			cls := passClass(s.SLOPass)
			if bb.Found && s.Index == bb.Step {
				cls += " best"
			}
			p("<tr class=\"%s\"><td class=\"n\">%d</td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>", cls, s.Index, e(s.Phase), fmtQPS(s.OfferedQPS), fmtQPS(s.AchievedQPS))
			for _, v := range []float64{s.LatencyMS.P50, s.LatencyMS.P90, s.LatencyMS.P99, s.LatencyMS.P999, s.LatencyMS.Max} {
				p("<td class=\"n\">%s</td>", fmtMS(v))
			}
			errs := strconv.FormatInt(s.Errors, 10)
			if c := errorClasses(s); c != "" {
				errs += " (" + c + ")"
			}
			p("<td class=\"wrap\">%s</td><td class=\"n\">%s</td>", e(errs), availability(s))
			if t := s.Target; t != nil {
				p("<td class=\"n\">%s%%</td><td class=\"n\">%s MB</td><td class=\"n\">%s</td>", strconv.FormatFloat(t.CPUPercent, 'f', 0, 64), strconv.FormatFloat(t.RSSMB, 'f', 0, 64), fmtMS(t.GCPauseP99MS))
			} else {
				p("<td>–</td><td>–</td><td>–</td>")
			}
			g := s.Generator
			sat := yesNo(g.Saturated)
			if g.SaturatedWhy != "" {
				sat += ": " + g.SaturatedWhy
			}
			slo := "pass"
			if !s.SLOPass {
				slo = strings.Join(s.Failed, ", ")
				if s.Remeasured {
					slo += " (measured again)"
				}
				if slo == "" {
					slo = "fail"
				}
			}
			if s.Partial {
				slo += fmt.Sprintf(" (partial: %.1f s ran)", s.DurationS)
			}
			p("<td class=\"n\">%s%%</td><td class=\"n\">%s</td><td class=\"wrap\">%s</td><td class=\"wrap\">%s %s</td></tr>\n", strconv.FormatFloat(g.CPUPercent, 'f', 0, 64), fmtMS(g.SendLagP99MS), e(sat), check(s.SLOPass), e(slo))
		}
		p("</tbody></table></div>\n</section>\n")
	}

	if hasEndpoints(r) {
		p("<section id=\"endpoints\">\n<h2>Endpoints</h2>\n")
		for _, x := range slowEndpoints(r) {
			p("<p class=\"headline none\">%s.</p>\n", e(x.String()))
		}
		cols := endpointColumns(r)
		p("<div class=\"scroll\"><table>\n<thead><tr><th rowspan=\"2\">endpoint</th>")
		for _, c := range cols {
			p("<th colspan=\"4\">%s</th>", e(c.label))
		}
		p("</tr><tr>")
		for range cols {
			p("<th>share</th><th>p50</th><th>p99</th><th>errors</th>")
		}
		p("</tr></thead>\n<tbody>\n")
		for _, name := range endpointNames(r) {
			p("<tr><td>%s</td>", e(name))
			for _, c := range cols {
				if ep, ok := endpointOf(c.step, name); ok {
					p("<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%d</td>", fmtPct(share(c.step, ep)), fmtMS(ep.P50MS), fmtMS(ep.P99MS), ep.Errors)
				} else {
					p("<td>–</td><td>–</td><td>–</td><td>–</td>")
				}
			}
			p("</tr>\n")
		}
		p("</tbody></table></div>\n<details>\n<summary>Every step, by endpoint</summary>\n<div class=\"scroll\"><table>\n<thead><tr><th>#</th><th>offered QPS</th><th>endpoint</th><th>requests</th><th>share</th><th>p50</th><th>p99</th><th>errors</th></tr></thead>\n<tbody>\n")
		for _, s := range r.Steps {
			for _, ep := range s.Endpoints {
				p("<tr><td class=\"n\">%d</td><td class=\"n\">%s</td><td>%s</td><td class=\"n\">%d</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%d</td></tr>\n",
					s.Index, fmtQPS(s.OfferedQPS), e(ep.Name), ep.Requests, fmtPct(share(s, ep)), fmtMS(ep.P50MS), fmtMS(ep.P99MS), ep.Errors)
			}
		}
		p("</tbody></table></div>\n</details>\n<p class=\"note\">Requests are grouped by method and path template (numbers, UUIDs and hex identifiers folded to {id}, query values to {}); the %d most frequent endpoints of the traffic are named, the rest counted as %s.</p>\n</section>\n", traffic.MaxEndpoints, traffic.OtherEndpoint)
	}

	if et := errorTable(r); len(et) > 0 {
		p("<section id=\"errors\">\n<h2>Errors</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th>class</th><th>HTTP status</th><th>count</th><th>first step</th><th>last step</th><th>sample</th></tr></thead>\n<tbody>\n")
		for _, x := range et {
			p("<tr><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"sample\">%s</td></tr>\n", e(x.Class), errorStatus(x), x.Count, x.FirstStep, x.LastStep, e(errorSample(x)))
		}
		p("</tbody></table></div>\n</section>\n")
	}

	if ws := warnings(r); len(ws) > 0 {
		p("<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>\n")
		for _, w := range ws {
			p("<li>%s</li>\n", e(w))
		}
		p("</ul>\n</section>\n")
	}

	if nl := r.NodeLoss; nl != nil {
		p("<section id=\"node-loss\">\n<h2>Node loss</h2>\n<p>%s</p>\n", boldHTML(nodeLossText(r, nl)))
		if len(nl.Notes) > 0 {
			p("<ul>\n")
			for _, n := range nl.Notes {
				p("<li>%s</li>\n", e(n))
			}
			p("</ul>\n")
		}
		p("</section>\n")
	}

	if c := r.Capacity; c != nil && (c.Knee != nil && c.Knee.QPS > 0 || c.USL != nil) {
		p("<section id=\"capacity\">\n<h2>Capacity model</h2>\n<p>Models fitted to the steps, shown beside the measured best-before, never instead of it.</p>\n<ul>\n")
		if k := c.Knee; k != nil && k.QPS > 0 {
			p("<li><strong>Knee:</strong> p99 starts to climb steeply at %s QPS (p99 %s, step %d).</li>\n", fmtQPS(k.QPS), fmtMS(k.P99MS), k.Step)
		}
		if u := c.USL; u != nil {
			p("<li><strong>Universal Scalability Law:</strong> %s.", e(uslText(u)))
			for _, w := range u.Warnings {
				p(" ⚠ %s", e(w))
			}
			p("</li>\n")
		}
		p("</ul>\n</section>\n")
	}

	p("<details id=\"manifest\">\n<summary>Run manifest</summary>\n<div class=\"scroll\"><table>\n")
	for _, kv := range manifestRows(r) {
		p("<tr><th>%s</th><td>%s</td></tr>\n", e(kv[0]), e(kv[1]))
	}
	p("</table></div>\n")
	if y := r.Manifest.EffectiveYAML; y != "" {
		p("<h3>Effective scenario</h3>\n<pre>%s</pre>\n", e(y))
	}
	p("</details>\n</main>\n<footer>Generated %s by bestbefore %s.</footer>\n</body>\n</html>\n", e(fmtTime(o.now())), e(o.version()))
	_, err = io.WriteString(w, b.String())
	return err
}

// pageHead writes the start of every page bestbefore draws, up to <body>:
// self-contained, its Content Security Policy forbidding every external
// resource and every script.
func pageHead(b *strings.Builder, title string, o Options) {
	e := html.EscapeString
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	b.WriteString("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'none'\">\n")
	fmt.Fprintf(b, "<meta name=\"generator\" content=\"bestbefore %s\">\n", e(o.version()))
	fmt.Fprintf(b, "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n", e(title), css)
}

// check is the HTML pass mark: plain symbols that every font has.
func check(pass bool) string {
	if pass {
		return "✓"
	}
	return "✗"
}

func passClass(pass bool) string {
	if pass {
		return "pass"
	}
	return "fail"
}

// boldHTML escapes s and turns Markdown **bold** into <strong>.
func boldHTML(s string) string {
	parts := strings.Split(html.EscapeString(s), "**")
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			if i%2 == 1 {
				b.WriteString("<strong>")
			} else {
				b.WriteString("</strong>")
			}
		}
		b.WriteString(p)
	}
	if len(parts)%2 == 0 {
		b.WriteString("</strong>")
	}
	return b.String()
}

// ChartNames lists the data-chart names HTML may draw, in page order.
// latency, throughput, errors, target-cpu, target-memory, pauses and
// spectrum are always drawn when the run has steps; usl, endpoints and
// node-loss only when the result holds them; the run-over-time charts
// (TimelineChartNames) when the steps hold per-interval data.
var ChartNames = append([]string{"latency", "throughput", "usl", "errors", "target-cpu", "target-memory", "pauses", "spectrum", "endpoints", "node-loss"}, TimelineChartNames...)

// buildCharts builds the charts of r, in page order.
func buildCharts(r *result.Result) ([]*chart, error) {
	steps := rampSteps(r)
	var out []*chart
	if len(steps) == 0 {
		return nil, nil
	}
	bb := r.BestBefore
	qpsAxis := axis{Label: "offered load (QPS)"}
	var bbLines []refLine
	if bb.Found {
		bbLines = append(bbLines, refLine{Value: bb.QPS, Label: "best-before " + fmtQPS(bb.QPS), Color: "#16a34a"})
		if bb.NMinus1QPS > 0 {
			bbLines = append(bbLines, refLine{Value: bb.NMinus1QPS, Label: "N-1 " + fmtQPS(bb.NMinus1QPS), Color: "#0891b2"})
		}
	}
	if c := r.Capacity; c != nil && c.Knee != nil && c.Knee.QPS > 0 {
		bbLines = append(bbLines, refLine{Value: c.Knee.QPS, Label: "knee " + fmtQPS(c.Knee.QPS), Color: "#d97706"})
	}
	by := func(f func(s result.Step) (float64, bool)) []point {
		pts := make([]point, 0, len(steps))
		for _, s := range steps {
			if v, ok := f(s); ok {
				pts = append(pts, point{s.OfferedQPS, v})
			}
		}
		return pts
	}
	msTip := func(name string) func(point) string {
		return func(p point) string { return fmt.Sprintf("%s QPS · %s %s", fmtQPS(p.X), name, fmtMS(p.Y)) }
	}

	// (a) latency percentiles.
	lat := &chart{Name: "latency", Title: "Latency percentiles vs offered load", X: qpsAxis, Y: axis{Label: "latency (log)", Log: true, Format: tickMS}}
	for _, pc := range []struct {
		name string
		f    func(l result.Latency) float64
	}{
		{"p50", func(l result.Latency) float64 { return l.P50 }},
		{"p90", func(l result.Latency) float64 { return l.P90 }},
		{"p99", func(l result.Latency) float64 { return l.P99 }},
		{"p99.9", func(l result.Latency) float64 { return l.P999 }},
		{"max", func(l result.Latency) float64 { return l.Max }},
	} {
		lat.Series = append(lat.Series, series{Name: pc.name, Points: by(func(s result.Step) (float64, bool) { return pc.f(s.LatencyMS), s.Requests > 0 }), Tip: msTip(pc.name)})
	}
	lat.HLines = sloLines(r)
	lat.VLines = bbLines
	out = append(out, lat)

	// (b) throughput.
	tp := &chart{Name: "throughput", Title: "Achieved vs offered throughput", X: qpsAxis, Y: axis{Label: "achieved (QPS)"}, VLines: bbLines}
	maxQ := steps[len(steps)-1].OfferedQPS
	tp.Series = append(tp.Series,
		series{Name: "achieved", Points: by(func(s result.Step) (float64, bool) { return s.AchievedQPS, true }),
			Tip: func(p point) string {
				return fmt.Sprintf("offered %s QPS · achieved %s QPS", fmtQPS(p.X), fmtQPS(p.Y))
			}},
		series{Name: "offered = achieved", Points: []point{{0, 0}, {maxQ, maxQ}}, Dash: true, NoMarks: true, Ref: true, Color: "#9ca3af"},
	)
	if c := r.Capacity; c != nil && c.USL != nil && c.USL.PeakQPS > 0 {
		tp.HLines = append(tp.HLines, refLine{Value: c.USL.PeakQPS, Label: "USL peak " + fmtQPS(c.USL.PeakQPS), Color: "#7c3aed"})
	}
	out = append(out, tp)

	// USL: throughput against concurrency, measured and fitted.
	if c := r.Capacity; c != nil && c.USL != nil && c.USL.Lambda > 0 {
		u := c.USL
		usl := &chart{Name: "usl", Title: "Universal Scalability Law fit: throughput vs concurrency (Little's law)", X: axis{Label: "concurrency (achieved QPS × mean latency)"}, Y: axis{Label: "throughput (QPS)"}}
		var meas []point
		maxN := u.PeakConcurrency
		for _, s := range steps {
			if s.LittleConcurrency > 0 {
				meas = append(meas, point{s.LittleConcurrency, s.AchievedQPS})
				maxN = math.Max(maxN, s.LittleConcurrency)
			}
		}
		maxN *= 1.1
		var curve []point
		for i := 0; i <= 60; i++ {
			n := maxN * float64(i) / 60
			x := u.Lambda * n / (1 + u.Sigma*(n-1) + u.Kappa*n*(n-1))
			if n == 0 {
				x = 0
			}
			curve = append(curve, point{n, x})
		}
		usl.Series = []series{
			{Name: "measured", Points: meas, NoLine: true, Tip: func(p point) string {
				return fmt.Sprintf("concurrency %s · %s QPS", fmtFloat(p.X), fmtQPS(p.Y))
			}},
			{Name: fmt.Sprintf("USL σ=%s κ=%s", fmtFloat(u.Sigma), fmtFloat(u.Kappa)), Points: curve, Dash: true, NoMarks: true, Ref: true, Color: "#7c3aed"},
		}
		out = append(out, usl)
	}

	// (c) error rate by class.
	er := &chart{Name: "errors", Title: "Error rate by class vs offered load", X: qpsAxis, Y: axis{Label: "share of requests (%)"}}
	pctTip := func(name string) func(point) string {
		return func(p point) string { return fmt.Sprintf("%s QPS · %s %s", fmtQPS(p.X), name, fmtPct(p.Y/100)) }
	}
	er.Series = append(er.Series, series{Name: "all errors", Color: "#111827", Points: by(func(s result.Step) (float64, bool) { return s.ErrorRate * 100, true }), Tip: pctTip("errors")})
	for _, cl := range errorClassNames(steps) {
		er.Series = append(er.Series, series{Name: cl, Points: by(func(s result.Step) (float64, bool) {
			if s.Requests <= 0 {
				return 0, true
			}
			return float64(s.ErrorsByClass[cl]) / float64(s.Requests) * 100, true
		}), Tip: pctTip(cl)})
	}
	if o, ok := r.Objectives.Bound("error_rate"); ok {
		er.HLines = append(er.HLines, refLine{Value: o * 100, Label: "SLO " + fmtPct(o), Color: "#dc2626"})
	}
	out = append(out, er)

	// (d) resources: CPU, memory, GC pauses and send lag.
	tgt := func(f func(t *result.TargetResources) float64) []point {
		return by(func(s result.Step) (float64, bool) {
			if s.Target == nil {
				return 0, false
			}
			return f(s.Target), true
		})
	}
	cpuTip := func(name string) func(point) string {
		return func(p point) string {
			return fmt.Sprintf("%s QPS · %s %s%%", fmtQPS(p.X), name, strconv.FormatFloat(p.Y, 'f', 1, 64))
		}
	}
	cpu := &chart{Name: "target-cpu", Title: "CPU vs offered load", X: qpsAxis, Y: axis{Label: "CPU (%)"}}
	cpu.Series = append(cpu.Series,
		series{Name: "target", Points: tgt(func(t *result.TargetResources) float64 { return t.CPUPercent }), Tip: cpuTip("target CPU")},
		series{Name: "busiest node", Points: tgt(func(t *result.TargetResources) float64 { return t.MaxCPUPercent }), Tip: cpuTip("busiest node CPU")},
		series{Name: "generator", Points: by(func(s result.Step) (float64, bool) { return s.Generator.CPUPercent, true }), Tip: cpuTip("generator CPU")},
		series{Name: "host", Points: by(func(s result.Step) (float64, bool) {
			if s.Host == nil {
				return 0, false
			}
			return s.Host.CPUPercent, true
		}), Tip: cpuTip("host CPU")},
	)
	if o, ok := r.Objectives.Bound("target_cpu"); ok {
		cpu.HLines = append(cpu.HLines, refLine{Value: o, Label: "SLO " + strconv.FormatFloat(o, 'f', 0, 64) + "%", Color: "#dc2626"})
	}
	cpu.Series = nonEmpty(cpu.Series)
	out = append(out, cpu)

	mbTip := func(name string) func(point) string {
		return func(p point) string {
			return fmt.Sprintf("%s QPS · %s %s MB", fmtQPS(p.X), name, strconv.FormatFloat(p.Y, 'f', 1, 64))
		}
	}
	mem := &chart{Name: "target-memory", Title: "Memory vs offered load", X: qpsAxis, Y: axis{Label: "memory (MB)"}}
	mem.Series = nonEmpty([]series{
		{Name: "target RSS", Points: tgt(func(t *result.TargetResources) float64 { return t.RSSMB }), Tip: mbTip("target RSS")},
		{Name: "target heap", Points: tgt(func(t *result.TargetResources) float64 { return t.HeapMB }), Tip: mbTip("target heap")},
		{Name: "generator RSS", Points: by(func(s result.Step) (float64, bool) { return s.Generator.RSSMB, true }), Tip: mbTip("generator RSS")},
	})
	out = append(out, mem)

	pauses := &chart{Name: "pauses", Title: "Target GC pauses and generator send lag vs offered load", X: qpsAxis, Y: axis{Label: "milliseconds"}}
	pauses.Series = nonEmpty([]series{
		{Name: "target GC pause p99", Points: tgt(func(t *result.TargetResources) float64 { return t.GCPauseP99MS }), Tip: msTip("GC pause p99")},
		{Name: "send lag p99", Points: by(func(s result.Step) (float64, bool) { return s.Generator.SendLagP99MS, true }), Tip: msTip("send lag p99")},
		{Name: "send lag max", Points: by(func(s result.Step) (float64, bool) { return s.Generator.SendLagMaxMS, true }), Tip: msTip("send lag max"), Dash: true},
	})
	if o, ok := r.Objectives.Bound("gc_pause_p99"); ok {
		pauses.HLines = append(pauses.HLines, refLine{Value: o, Label: "SLO GC p99 " + fmtMS(o), Color: "#dc2626"})
	}
	out = append(out, pauses)

	// (e) percentile spectrum of chosen steps.
	spec, err := spectrum(r, steps)
	if err != nil {
		return nil, err
	}
	out = append(out, spec)

	if hasEndpoints(r) {
		out = append(out, endpointChart(r, steps))
	}

	// (f) node-loss timeline.
	if nl := r.NodeLoss; nl != nil && len(nl.Timeline) > 0 {
		c := &chart{Name: "node-loss", Title: fmt.Sprintf("Node loss at %s QPS: p99 over time", fmtQPS(nl.QPS)), X: axis{Label: "time into the hold (s)"}, Y: axis{Label: "p99 (log)", Log: true, Format: tickMS}}
		var p99, errPts []point
		for _, t := range nl.Timeline {
			p99 = append(p99, point{t.OffsetS, t.P99MS})
			if t.Errors > 0 {
				errPts = append(errPts, point{t.OffsetS, t.P99MS})
			}
		}
		c.Series = []series{{Name: "p99", Points: p99, Tip: func(p point) string { return fmt.Sprintf("%s s · p99 %s", fmtFloat(p.X), fmtMS(p.Y)) }}}
		if len(errPts) > 0 {
			c.Series = append(c.Series, series{Name: "slice with errors", Color: "#dc2626", Points: errPts, NoLine: true})
		}
		c.VLines = []refLine{{Value: nl.LostAtS, Label: "node lost", Color: "#dc2626"}}
		if nl.RecoverS != nil && !nl.Never {
			c.VLines = append(c.VLines, refLine{Value: nl.LostAtS + *nl.RecoverS, Label: "recovered", Color: "#16a34a"})
		}
		c.HLines = sloLines(r)
		out = append(out, c)
	}
	return out, nil
}

func nonEmpty(ss []series) []series {
	out := ss[:0]
	for _, s := range ss {
		for _, p := range s.Points {
			if p.Y != 0 {
				out = append(out, s)
				break
			}
		}
	}
	if len(out) == 0 && len(ss) > 0 {
		return ss[:1]
	}
	return out
}

func sloLines(r *result.Result) []refLine {
	var out []refLine
	for _, f := range r.Objectives.InForce() {
		if strings.HasPrefix(f.Key, "latency.") {
			out = append(out, refLine{Value: f.Bound, Label: "SLO " + strings.TrimPrefix(f.Label, "latency ") + " " + fmtMS(f.Bound), Color: "#dc2626"})
		}
	}
	return out
}

// spectrum plots latency against percentile on a "nines" axis for the first
// step, the best-before step, the first failing step and the last step.
func spectrum(r *result.Result, steps []result.Step) (*chart, error) {
	type pick struct {
		label string
		s     result.Step
	}
	var picks []pick
	seen := map[int]bool{}
	add := func(label string, s result.Step, ok bool) {
		if ok && !seen[s.Index] {
			seen[s.Index] = true
			picks = append(picks, pick{label, s})
		}
	}
	add("first", steps[0], true)
	bs, ok := bestStep(r)
	add("best-before", bs, ok)
	fs, ok := firstFailStep(r)
	add("first failing", fs, ok)
	add("last", steps[len(steps)-1], true)

	maxNines := 2.0
	c := &chart{Name: "spectrum", Title: "Latency by percentile (from the steps' HDR histograms)", Y: axis{Label: "latency (log)", Log: true, Format: tickMS}}
	for _, pk := range picks {
		h, err := stats.Decode(pk.s.Histogram)
		if err != nil {
			return nil, fmt.Errorf("report: step %d: %w", pk.s.Index, err)
		}
		n := h.TotalCount()
		if n == 0 {
			continue
		}
		// Stop at the percentile the sample can resolve: 1/n of the tail.
		top := math.Min(5, math.Floor(math.Log10(float64(n))*10)/10)
		maxNines = math.Max(maxNines, math.Ceil(top))
		var pts []point
		for x := 0.0; x <= top+1e-9; x += 0.1 {
			q := 100 * (1 - math.Pow(10, -x))
			pts = append(pts, point{x, stats.QuantileMS(h, q)})
		}
		name := fmt.Sprintf("%s: %s QPS", pk.label, fmtQPS(pk.s.OfferedQPS))
		c.Series = append(c.Series, series{Name: name, Points: pts, NoMarks: len(pts) > 30, Tip: func(p point) string {
			return fmt.Sprintf("%s · %s %s", name, ninesLabel(p.X), fmtMS(p.Y))
		}})
	}
	// Without markers the tooltips are lost; keep a marker at each whole nine.
	for i := range c.Series {
		s := &c.Series[i]
		if s.NoMarks {
			var marks []point
			for _, p := range s.Points {
				if math.Abs(p.X-math.Round(p.X)) < 1e-6 {
					marks = append(marks, p)
				}
			}
			c.Series = append(c.Series, series{Name: "", Color: palette[i%len(palette)], Points: marks, NoLine: true, Ref: true, Tip: s.Tip})
		}
	}
	c.X = axis{Label: "percentile", Fixed: true, Min: 0, Max: maxNines, Format: ninesLabel}
	for x := 0.0; x <= maxNines; x++ {
		c.X.Ticks = append(c.X.Ticks, x)
	}
	c.HLines = sloLines(r)
	return c, nil
}

// ninesLabel names the percentile at x nines: 0 → 0%, 2 → 99%, 3 → 99.9%.
func ninesLabel(x float64) string {
	if x == 0 {
		return "p0"
	}
	q := 100 * (1 - math.Pow(10, -x))
	d := int(math.Max(0, math.Ceil(x-1e-9)-1))
	t := strconv.FormatFloat(q, 'f', d, 64)
	if strings.Contains(t, ".") {
		t = strings.TrimRight(strings.TrimRight(t, "0"), ".")
	}
	return "p" + t
}
