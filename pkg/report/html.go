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
		if bb.OutputTokensPerS > 0 {
			card("best-before in tokens", fmtQPS(bb.OutputTokensPerS)+" tokens/s", "good")
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

	for _, sec := range sections(r, charts, timeline) {
		sec.html(&b)
	}
	if sp, ok := shardPara(r); ok {
		sp.html(&b)
	}
	manifestBlock{r}.html(&b)
	p("</main>\n<footer>Generated %s by bestbefore %s.</footer>\n</body>\n</html>\n", e(fmtTime(o.now())), e(o.version()))
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

	// Streams: time to first token and between tokens, and output tokens
	// per second, against the offered load.
	streamed := func(s result.Step) bool { return s.Stream != nil && s.Stream.Responses > 0 }
	if len(by(func(s result.Step) (float64, bool) { return 0, streamed(s) })) > 0 {
		st := &chart{Name: "stream-latency", Title: "Time to first token and between tokens vs offered load", X: qpsAxis, Y: axis{Label: "milliseconds (log)", Log: true, Format: tickMS}, VLines: bbLines}
		for _, pc := range []struct {
			name string
			f    func(x *result.Stream) float64
		}{
			{"TTFT p50", func(x *result.Stream) float64 { return x.TTFTMS.P50 }},
			{"TTFT p99", func(x *result.Stream) float64 { return x.TTFTMS.P99 }},
			{"TTFT p99 from the actual send", func(x *result.Stream) float64 { return x.TTFTFromSendMS.P99 }},
			{"ITL p50", func(x *result.Stream) float64 { return x.ITLMS.P50 }},
			{"ITL p99", func(x *result.Stream) float64 { return x.ITLMS.P99 }},
		} {
			st.Series = append(st.Series, series{Name: pc.name, Points: by(func(s result.Step) (float64, bool) {
				if !streamed(s) {
					return 0, false
				}
				return pc.f(s.Stream), true
			}), Tip: msTip(pc.name)})
		}
		for _, f := range r.Objectives.InForce() {
			if strings.HasPrefix(f.Key, "ttft.") || strings.HasPrefix(f.Key, "itl.") {
				st.HLines = append(st.HLines, refLine{Value: f.Bound, Label: "SLO " + f.Key + " " + fmtMS(f.Bound), Color: "#dc2626"})
			}
		}
		out = append(out, st)
		tk := &chart{Name: "tokens", Title: "Output tokens per second vs offered load", X: qpsAxis, Y: axis{Label: "output tokens/s"}, VLines: bbLines}
		tk.Series = append(tk.Series, series{Name: "delivered", Points: by(func(s result.Step) (float64, bool) {
			if !streamed(s) {
				return 0, false
			}
			return s.Stream.OutputTokensPerS, true
		}), Tip: func(p point) string {
			return fmt.Sprintf("offered %s QPS · %s output tokens/s", fmtQPS(p.X), fmtQPS(p.Y))
		}})
		if bb.OutputTokensPerS > 0 {
			tk.HLines = append(tk.HLines, refLine{Value: bb.OutputTokensPerS, Label: "best-before " + fmtQPS(bb.OutputTokensPerS) + " tokens/s", Color: "#16a34a"})
		}
		out = append(out, tk)
	}

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
