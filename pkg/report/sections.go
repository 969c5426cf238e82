package report

import (
	"fmt"
	"html"
	"sort"
	"strconv"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// sections is the body of a run's report, in order; charts and timeline
// are the HTML's charts (the Markdown shows none).
func sections(r *result.Result, charts, timeline []*chart) []section {
	var out []section
	add := func(s section, ok bool) {
		if ok {
			out = append(out, s)
		}
	}
	add(objectivesSection(r))
	out = append(out, section{id: "charts", title: "Charts", htmlOnly: true, blocks: []block{
		chartGrid(charts),
		para{text: text{s: "Latency is measured from each request's intended send time, so a stalled target shows in the percentiles. Hover a point for its value."}, note: true},
	}})
	add(section{id: "over-time", title: "The run over time", htmlOnly: true, blocks: []block{
		chartGrid(timeline),
		para{text: text{s: "One point per interval of each step's measured window; warmups are not measured and show as gaps. The shading marks each step, coloured by phase (ramp, refine, hold). Rates count the requests due in the interval, by their intended send time."}, note: true},
	}}, len(timeline) > 0)
	add(section{id: "steps", title: "Steps", blocks: []block{stepsTable{r}}}, len(r.Steps) > 0)
	add(streamsSection(r))
	add(endpointsSection(r))
	add(errorsSection(r))
	add(warningsSection(r))
	add(nodeLossSection(r))
	add(capacitySection(r))
	return out
}

// objectivesSection is each objective in force with its bound, and the
// measure at the best-before and at the first failing step.
func objectivesSection(r *result.Result) (section, bool) {
	obs := r.Objectives.InForce()
	if len(obs) == 0 {
		return section{}, false
	}
	best, hasBest := bestStep(r)
	fail, hasFail := firstFailStep(r)
	t := table{class: "objectives", head: []string{"objective", "bound"}}
	if hasBest {
		t.head = append(t.head, fmt.Sprintf("at best-before (%s QPS)", fmtQPS(best.OfferedQPS)))
	}
	if hasFail {
		t.head = append(t.head, fmt.Sprintf("at first failing step (%s QPS)", fmtQPS(fail.OfferedQPS)))
	}
	for _, ob := range obs {
		if ob.PerRequest {
			continue // what a good request is: in the goodput row's note
		}
		row := []cell{plain(ob.Label), num(ob.Format(ob.Bound))}
		for _, x := range []struct {
			s  result.Step
			ok bool
		}{{best, hasBest}, {fail, hasFail}} {
			if x.ok {
				v, pass := objectiveCell(ob, x.s)
				row = append(row, verdict(v, pass))
			}
		}
		t.rows = append(t.rows, row)
	}
	return section{id: "objectives", title: "Objectives", blocks: []block{t}}, true
}

// endpointsSection is the endpoints that slowed, each endpoint at the
// chosen steps, and every step by endpoint.
func endpointsSection(r *result.Result) (section, bool) {
	if !hasEndpoints(r) {
		return section{}, false
	}
	every := table{head: []string{"#", "offered QPS", "endpoint", "requests", "share", "p50", "p99", "errors"}}
	for _, s := range r.Steps {
		for _, ep := range s.Endpoints {
			every.rows = append(every.rows, []cell{num(strconv.Itoa(s.Index)), num(fmtQPS(s.OfferedQPS)), plain(ep.Name), num(strconv.FormatInt(ep.Requests, 10)),
				num(fmtPct(share(s, ep))), num(fmtMS(ep.P50MS)), num(fmtMS(ep.P99MS)), num(strconv.FormatInt(ep.Errors, 10))})
		}
	}
	return section{id: "endpoints", title: "Endpoints", blocks: []block{
		endpointSummary{r},
		details{summary: "Every step, by endpoint", blocks: []block{every}},
		para{text: text{s: fmt.Sprintf("Requests are grouped by method and path template (numbers, UUIDs and hex identifiers folded to {id}, query values to {}); the %d most frequent endpoints of the traffic are named, the rest counted as %s.", traffic.MaxEndpoints, traffic.OtherEndpoint)}, note: true},
	}}, true
}

// streamsSection is what each step measured of its streamed responses:
// tokens per second against the offered requests per second, time to
// first token from the intended and from the actual send, and the gaps
// between tokens.
func streamsSection(r *result.Result) (section, bool) {
	rows := StreamRows(r)
	if len(rows) == 0 {
		return section{}, false
	}
	t := table{head: StreamHead}
	for _, row := range rows {
		var cs []cell
		for i, v := range row {
			if i == 1 {
				cs = append(cs, plain(v))
			} else {
				cs = append(cs, num(v))
			}
		}
		t.rows = append(t.rows, cs)
	}
	return section{id: "streams", title: "Streamed responses", blocks: []block{t,
		para{text: text{s: "Time to first token (TTFT) is measured from each request's intended send time, as latency is; the column from the actual send leaves out the generator's own backlog, and the difference between the two shows it. ITL is the gap between consecutive output events; TPOT a response's time per output token after the first. Tokens per second count the output tokens of the responses completed in the window."}, note: true},
	}}, true
}

// StreamHead names the columns of StreamRows.
var StreamHead = []string{"#", "phase", "offered QPS", "tokens/s", "tokens/resp", "TTFT p50", "TTFT p99", "TTFT p99 from send", "ITL p50", "ITL p99", "TPOT p50", "tokens from"}

// StreamRows is a row per step that streamed, in StreamHead's columns.
func StreamRows(r *result.Result) [][]string {
	var out [][]string
	for _, s := range r.Steps {
		x := s.Stream
		if x == nil || x.Responses == 0 {
			continue
		}
		out = append(out, []string{strconv.Itoa(s.Index), s.Phase, fmtQPS(s.OfferedQPS), fmtQPS(x.OutputTokensPerS),
			strconv.FormatFloat(float64(x.OutputTokens)/float64(x.Responses), 'f', 1, 64),
			fmtMS(x.TTFTMS.P50), fmtMS(x.TTFTMS.P99), fmtMS(x.TTFTFromSendMS.P99), fmtMS(x.ITLMS.P50), fmtMS(x.ITLMS.P99), fmtMS(x.TPOTMS.P50), x.TokensFrom})
	}
	return out
}

// errorsSection is the run's error table: each kind of error, how often
// and in which steps, with a sample message.
func errorsSection(r *result.Result) (section, bool) {
	et := errorTable(r)
	if len(et) == 0 {
		return section{}, false
	}
	t := table{head: []string{"class", "HTTP status", "count", "steps", "sample"}}
	for _, e := range et {
		t.rows = append(t.rows, []cell{plain(e.Class), num(errorStatus(e)), num(strconv.FormatInt(e.Count, 10)), plain(errorSteps(e)), {s: errorSample(e), sample: true}})
	}
	return section{id: "errors", title: "Errors", blocks: []block{t}}, true
}

func warningsSection(r *result.Result) (section, bool) {
	ws := warnings(r)
	var l list
	for _, w := range ws {
		l = append(l, item{text: text{s: w}})
	}
	return section{id: "warnings", title: "Warnings", blocks: []block{l}}, len(ws) > 0
}

// nodeLossSection is the node-loss hold: what happened, its notes, and
// (folded away) its timeline.
func nodeLossSection(r *result.Result) (section, bool) {
	nl := r.NodeLoss
	if nl == nil {
		return section{}, false
	}
	s := section{id: "node-loss", title: "Node loss", blocks: []block{para{text: text{s: nodeLossText(r, nl), marked: true}}}}
	if len(nl.Notes) > 0 {
		var l list
		for _, n := range nl.Notes {
			l = append(l, item{text: text{s: n}})
		}
		s.blocks = append(s.blocks, l)
	}
	if len(nl.Timeline) > 0 {
		t := table{head: []string{"offset", "p99", "requests", "errors"}}
		for _, p := range nl.Timeline {
			t.rows = append(t.rows, []cell{num(fmtFloat(p.OffsetS) + " s"), num(fmtMS(p.P99MS)), num(strconv.FormatInt(p.Requests, 10)), num(strconv.FormatInt(p.Errors, 10))})
		}
		s.blocks = append(s.blocks, details{summary: fmt.Sprintf("Timeline (%d points)", len(nl.Timeline)), blocks: []block{t}})
	}
	return s, true
}

// capacitySection is the models fitted to the steps: the knee and the
// Universal Scalability Law.
func capacitySection(r *result.Result) (section, bool) {
	c := r.Capacity
	if c == nil || !(c.Knee != nil && c.Knee.QPS > 0 || c.USL != nil) {
		return section{}, false
	}
	var l list
	if k := c.Knee; k != nil && k.QPS > 0 {
		l = append(l, item{lead: "Knee:", text: text{s: fmt.Sprintf("p99 starts to climb steeply at %s QPS (p99 %s, step %d).", fmtQPS(k.QPS), fmtMS(k.P99MS), k.Step)}})
	}
	if u := c.USL; u != nil {
		it := item{lead: "Universal Scalability Law:", text: text{s: uslText(u) + "."}}
		for _, w := range u.Warnings {
			it.sub = append(it.sub, "⚠ "+w)
		}
		l = append(l, it)
	}
	return section{id: "capacity", title: "Capacity model", blocks: []block{
		para{text: text{s: "Models fitted to the steps, shown beside the measured best-before, never instead of it."}},
		l,
	}}, true
}

// chartGrid is a grid of charts; the Markdown shows none.
type chartGrid []*chart

func (g chartGrid) html(b *strings.Builder) {
	b.WriteString("<div class=\"charts\">\n")
	for _, c := range g {
		c.render(b)
	}
	b.WriteString("</div>\n")
}

func (chartGrid) markdown(*strings.Builder) {}

// stepsTable is every step with its figures and verdict: the HTML's
// table is wide (every percentile, the target's and the generator's
// resources), the Markdown's fits a pull-request comment.
type stepsTable struct{ r *result.Result }

// sloText is a step's verdict in words.
func sloText(s result.Step, pass string) string {
	slo := pass
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
	return slo
}

// stepErrors is a step's error count with its classes.
func stepErrors(s result.Step) string {
	errs := strconv.FormatInt(s.Errors, 10)
	if c := errorClasses(s); c != "" {
		errs += " (" + c + ")"
	}
	return errs
}

// saturation says whether the generator kept up, and why not.
func saturation(g result.Generator) string {
	sat := yesNo(g.Saturated)
	if g.SaturatedWhy != "" {
		sat += ": " + g.SaturatedWhy
	}
	return sat
}

// targetMetrics lists the monitor.metrics figures any step holds (a
// batcher's mean batch size, a cache's hit ratio), sorted: the steps
// table shows each beside the target's CPU.
func targetMetrics(r *result.Result) []string {
	seen := map[string]bool{}
	var keys []string
	for _, s := range r.Steps {
		if s.Target == nil {
			continue
		}
		for k := range s.Target.Metrics {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	// A histogram's rate of observations (.rate) is left to result.json
	// when its mean and p99 are shown: the table stays readable.
	out := keys[:0]
	for _, k := range keys {
		if p, ok := strings.CutSuffix(k, ".rate"); ok && seen[p+".mean"] {
			continue
		}
		out = append(out, k)
	}
	return out
}

// metricCell is a step's figure of a monitor.metrics key, "–" without.
func metricCell(s result.Step, key string) string {
	if s.Target == nil {
		return "–"
	}
	v, ok := s.Target.Metrics[key]
	if !ok {
		return "–"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func (t stepsTable) html(b *strings.Builder) {
	e := html.EscapeString
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	bb := t.r.BestBefore
	metrics := targetMetrics(t.r)
	p("<div class=\"scroll\"><table class=\"steps\">\n<thead><tr>")
	for _, h := range []string{"#", "phase", "offered QPS", "achieved QPS", "p50", "p90", "p99", "p99.9", "max", "errors", "availability", "target CPU", "target RSS", "GC p99"} {
		p("<th>%s</th>", h)
	}
	for _, m := range metrics {
		p("<th class=\"wrap\">%s</th>", e(m))
	}
	for _, h := range []string{"generator CPU", "send lag p99", "saturated", "SLO"} {
		p("<th>%s</th>", h)
	}
	p("</tr></thead>\n<tbody>\n")
	for _, s := range t.r.Steps {
		cls := passClass(s.SLOPass)
		if bb.Found && s.Index == bb.Step {
			cls += " best"
		}
		p("<tr class=\"%s\"><td class=\"n\">%d</td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>", cls, s.Index, e(s.Phase), fmtQPS(s.OfferedQPS), fmtQPS(s.AchievedQPS))
		for _, v := range []float64{s.LatencyMS.P50, s.LatencyMS.P90, s.LatencyMS.P99, s.LatencyMS.P999, s.LatencyMS.Max} {
			p("<td class=\"n\">%s</td>", fmtMS(v))
		}
		p("<td class=\"wrap\">%s</td><td class=\"n\">%s</td>", e(stepErrors(s)), availability(s))
		if tg := s.Target; tg != nil {
			p("<td class=\"n\">%s%%</td><td class=\"n\">%s MB</td><td class=\"n\">%s</td>", strconv.FormatFloat(tg.CPUPercent, 'f', 0, 64), strconv.FormatFloat(tg.RSSMB, 'f', 0, 64), fmtMS(tg.GCPauseP99MS))
		} else {
			p("<td>–</td><td>–</td><td>–</td>")
		}
		for _, m := range metrics {
			p("<td class=\"n\">%s</td>", metricCell(s, m))
		}
		g := s.Generator
		p("<td class=\"n\">%s%%</td><td class=\"n\">%s</td><td class=\"wrap\">%s</td><td class=\"wrap\">%s %s</td></tr>\n", strconv.FormatFloat(g.CPUPercent, 'f', 0, 64), fmtMS(g.SendLagP99MS), e(saturation(g)), check(s.SLOPass), e(sloText(s, "pass")))
	}
	p("</tbody></table></div>\n")
}

func (t stepsTable) markdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	bb := t.r.BestBefore
	metrics := targetMetrics(t.r)
	var mh, ma strings.Builder
	for _, m := range metrics {
		mh.WriteString(" " + mdEsc(m) + " |")
		ma.WriteString(" ---: |")
	}
	p("| # | phase | offered QPS | achieved QPS | p50 | p99 | p99.9 | errors | availability | target CPU |%s generator saturated | SLO |\n", mh.String())
	p("| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |%s --- | --- |\n", ma.String())
	for _, s := range t.r.Steps {
		idx := strconv.Itoa(s.Index)
		if bb.Found && s.Index == bb.Step {
			idx = "**" + idx + "** ★"
		}
		cpu := "–"
		if s.Target != nil {
			cpu = strconv.FormatFloat(s.Target.CPUPercent, 'f', 0, 64) + "%"
		}
		var mc strings.Builder
		for _, m := range metrics {
			mc.WriteString(" " + metricCell(s, m) + " |")
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |%s %s | %s |\n",
			idx, s.Phase, fmtQPS(s.OfferedQPS), fmtQPS(s.AchievedQPS),
			fmtMS(s.LatencyMS.P50), fmtMS(s.LatencyMS.P99), fmtMS(s.LatencyMS.P999),
			mdEsc(stepErrors(s)), availability(s), cpu, mc.String(), mdEsc(saturation(s.Generator)), mdEsc(mark(s.SLOPass)+" "+sloText(s, "pass")))
	}
	p("\nLatency is measured from each request's intended send time. ★ marks the step that set the best-before.\n\n")
}

// endpointSummary is the endpoints that slowed and each endpoint at the
// chosen steps: in HTML a column group a step, in Markdown a cell.
type endpointSummary struct{ r *result.Result }

func (x endpointSummary) html(b *strings.Builder) {
	e := html.EscapeString
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	for _, s := range slowEndpoints(x.r) {
		p("<p class=\"headline none\">%s.</p>\n", e(s.String()))
	}
	cols := endpointColumns(x.r)
	p("<div class=\"scroll\"><table>\n<thead><tr><th rowspan=\"2\">endpoint</th>")
	for _, c := range cols {
		p("<th colspan=\"4\">%s</th>", e(c.label))
	}
	p("</tr><tr>")
	for range cols {
		p("<th>share</th><th>p50</th><th>p99</th><th>errors</th>")
	}
	p("</tr></thead>\n<tbody>\n")
	for _, name := range endpointNames(x.r) {
		p("<tr><td>%s</td>", e(name))
		for _, c := range cols {
			f, _ := endpointFigures(c.step, name)
			for _, v := range f {
				if v == "–" {
					p("<td>–</td>")
				} else {
					p("<td class=\"n\">%s</td>", v)
				}
			}
		}
		p("</tr>\n")
	}
	p("</tbody></table></div>\n")
}

func (x endpointSummary) markdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	for _, s := range slowEndpoints(x.r) {
		p("**%s.**\n\n", mdEsc(s.String()))
	}
	cols := endpointColumns(x.r)
	p("| endpoint |")
	for _, c := range cols {
		p(" share, p50, p99, errors %s |", mdEsc(c.label))
	}
	p("\n| --- |")
	for range cols {
		p(" ---: |")
	}
	p("\n")
	for _, name := range endpointNames(x.r) {
		p("| %s |", mdEsc(name))
		for _, c := range cols {
			if f, ok := endpointFigures(c.step, name); ok {
				p(" %s |", strings.Join(f[:], " · "))
			} else {
				p(" – |")
			}
		}
		p("\n")
	}
	p("\n")
}

// endpointFigures is an endpoint's share of a step's requests, its p50,
// p99 and errors there; dashes, and false, when the step did not see it.
func endpointFigures(s result.Step, name string) ([4]string, bool) {
	ep, ok := endpointOf(s, name)
	if !ok {
		return [4]string{"–", "–", "–", "–"}, false
	}
	return [4]string{fmtPct(share(s, ep)), fmtMS(ep.P50MS), fmtMS(ep.P99MS), strconv.FormatInt(ep.Errors, 10)}, true
}

// manifestBlock is how the run was made: tool, machine, inputs, and the
// effective scenario, folded away.
type manifestBlock struct{ r *result.Result }

func (m manifestBlock) html(b *strings.Builder) {
	e := html.EscapeString
	b.WriteString("<details id=\"manifest\">\n<summary>Run manifest</summary>\n<div class=\"scroll\"><table>\n")
	for _, kv := range manifestRows(m.r) {
		fmt.Fprintf(b, "<tr><th>%s</th><td>%s</td></tr>\n", e(kv[0]), e(kv[1]))
	}
	b.WriteString("</table></div>\n")
	if y := m.r.Manifest.EffectiveYAML; y != "" {
		fmt.Fprintf(b, "<h3>Effective scenario</h3>\n<pre>%s</pre>\n", e(y))
	}
	b.WriteString("</details>\n")
}

func (m manifestBlock) markdown(b *strings.Builder) {
	b.WriteString("<details><summary>Run manifest</summary>\n\n| | |\n| --- | --- |\n")
	for _, kv := range manifestRows(m.r) {
		fmt.Fprintf(b, "| %s | %s |\n", kv[0], mdEsc(kv[1]))
	}
	if y := m.r.Manifest.EffectiveYAML; y != "" {
		fmt.Fprintf(b, "\nEffective scenario:\n\n```yaml\n%s\n```\n", strings.TrimRight(strings.ReplaceAll(y, "```", "` ` `"), "\n"))
	}
	b.WriteString("\n</details>\n\n")
}

// shardPara says which shard of a distributed run this result is.
func shardPara(r *result.Result) (para, bool) {
	if r.Shard == nil {
		return para{}, false
	}
	return para{text: text{s: fmt.Sprintf("Shard %d of %d (plan %s).", r.Shard.Index+1, r.Shard.Count, r.Shard.Plan)}}, true
}
