package report

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/markdown"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Markdown writes a GitHub-flavoured report that fits a pull-request comment
// or a CI job summary: the headline first, then objectives, steps, warnings,
// node loss, capacity models and the run manifest.
func Markdown(w io.Writer, r *result.Result, o Options) error {
	r = forDisplay(r)
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }

	p("# bestbefore: %s\n\n", mdEsc(r.Name))
	bb := r.BestBefore
	switch {
	case fixedRun(r):
		p("> **%s**\n\n", mdEsc(fixedText(r)))
	case bb.Found:
		p("> **Best-before: %s QPS**", fmtQPS(bb.QPS))
		if bb.NMinus1QPS > 0 {
			p(" · **N-1: %s QPS**", fmtQPS(bb.NMinus1QPS))
		}
		p("\n>\n> %s\n\n", mdEsc(headlineDetail(r)))
	default:
		p("> **No best-before QPS found.**\n>\n> %s\n\n", mdEsc(headline(r)))
	}
	p("Status **%s**", r.Status)
	if r.Reason != "" {
		p(" (%s)", mdEsc(r.Reason))
	}
	p(" · %s · %s · %d steps", fmtTime(r.StartedAt), duration(r), len(r.Steps))
	if bb.Nodes > 0 {
		p(" · %s", plural(bb.Nodes, "node"))
	}
	p("\n\n")

	if obs := r.Objectives.InForce(); len(obs) > 0 {
		best, hasBest := bestStep(r)
		fail, hasFail := firstFailStep(r)
		p("## Objectives\n\n| objective | bound |")
		if hasBest {
			p(" at best-before (%s QPS) |", fmtQPS(best.OfferedQPS))
		}
		if hasFail {
			p(" at first failing step (%s QPS) |", fmtQPS(fail.OfferedQPS))
		}
		p("\n| --- | ---: |")
		if hasBest {
			p(" ---: |")
		}
		if hasFail {
			p(" ---: |")
		}
		p("\n")
		for _, ob := range obs {
			p("| %s | %s |", ob.Label, ob.Format(ob.Bound))
			for _, st := range []struct {
				s  result.Step
				ok bool
			}{{best, hasBest}, {fail, hasFail}} {
				if !st.ok {
					continue
				}
				v, pass := objectiveCell(ob, st.s)
				p(" %s %s |", mark(pass), v)
			}
			p("\n")
		}
		p("\n")
	}

	if len(r.Steps) > 0 {
		p("## Steps\n\n")
		p("| # | phase | offered QPS | achieved QPS | p50 | p99 | p99.9 | errors | availability | target CPU | generator saturated | SLO |\n")
		p("| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | --- |\n")
		for _, s := range r.Steps {
			idx := strconv.Itoa(s.Index)
			if bb.Found && s.Index == bb.Step {
				idx = "**" + idx + "** ★"
			}
			errs := strconv.FormatInt(s.Errors, 10)
			if c := errorClasses(s); c != "" {
				errs += " (" + c + ")"
			}
			cpu := "–"
			if s.Target != nil {
				cpu = strconv.FormatFloat(s.Target.CPUPercent, 'f', 0, 64) + "%"
			}
			sat := yesNo(s.Generator.Saturated)
			if s.Generator.SaturatedWhy != "" {
				sat += ": " + s.Generator.SaturatedWhy
			}
			slo := "✅ pass"
			if !s.SLOPass {
				slo = "❌ " + strings.Join(s.Failed, ", ")
				if s.Remeasured {
					slo += " (measured again)"
				}
			}
			if s.Partial {
				slo += fmt.Sprintf(" (partial: %.1f s ran)", s.DurationS)
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				idx, s.Phase, fmtQPS(s.OfferedQPS), fmtQPS(s.AchievedQPS),
				fmtMS(s.LatencyMS.P50), fmtMS(s.LatencyMS.P99), fmtMS(s.LatencyMS.P999),
				mdEsc(errs), availability(s), cpu, mdEsc(sat), mdEsc(slo))
		}
		p("\nLatency is measured from each request's intended send time. ★ marks the step that set the best-before.\n\n")
	}

	if hasEndpoints(r) {
		p("## Endpoints\n\n")
		for _, x := range slowEndpoints(r) {
			p("**%s.**\n\n", mdEsc(x.String()))
		}
		cols := endpointColumns(r)
		p("| endpoint |")
		for _, c := range cols {
			p(" share, p50, p99, errors %s |", mdEsc(c.label))
		}
		p("\n| --- |")
		for range cols {
			p(" ---: |")
		}
		p("\n")
		for _, name := range endpointNames(r) {
			p("| %s |", mdEsc(name))
			for _, c := range cols {
				if ep, ok := endpointOf(c.step, name); ok {
					p(" %s · %s · %s · %d |", fmtPct(share(c.step, ep)), fmtMS(ep.P50MS), fmtMS(ep.P99MS), ep.Errors)
				} else {
					p(" – |")
				}
			}
			p("\n")
		}
		p("\n<details><summary>Every step, by endpoint</summary>\n\n| # | offered QPS | endpoint | requests | share | p50 | p99 | errors |\n| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, s := range r.Steps {
			for _, ep := range s.Endpoints {
				p("| %d | %s | %s | %d | %s | %s | %s | %d |\n", s.Index, fmtQPS(s.OfferedQPS), mdEsc(ep.Name), ep.Requests, fmtPct(share(s, ep)), fmtMS(ep.P50MS), fmtMS(ep.P99MS), ep.Errors)
			}
		}
		p("\n</details>\n\nRequests are grouped by method and path template (numbers, UUIDs and hex identifiers folded to {id}, query values to {}); the %d most frequent endpoints of the traffic are named, the rest counted as %s.\n\n", traffic.MaxEndpoints, traffic.OtherEndpoint)
	}

	if et := errorTable(r); len(et) > 0 {
		p("## Errors\n\n| class | HTTP status | count | steps | sample |\n| --- | ---: | ---: | --- | --- |\n")
		for _, e := range et {
			p("| %s | %s | %d | %s | %s |\n", mdEsc(e.Class), errorStatus(e), e.Count, errorSteps(e), mdEsc(errorSample(e)))
		}
		p("\n")
	}

	if ws := warnings(r); len(ws) > 0 {
		p("## Warnings\n\n")
		for _, w := range ws {
			p("- %s\n", mdEsc(w))
		}
		p("\n")
	}

	if nl := r.NodeLoss; nl != nil {
		p("## Node loss\n\n")
		p("%s\n\n", markdown.Bold(nodeLossText(r, nl)))
		for _, n := range nl.Notes {
			p("- %s\n", mdEsc(n))
		}
		if len(nl.Notes) > 0 {
			p("\n")
		}
		if len(nl.Timeline) > 0 {
			p("<details><summary>Timeline (%d points)</summary>\n\n| offset | p99 | requests | errors |\n| ---: | ---: | ---: | ---: |\n", len(nl.Timeline))
			for _, t := range nl.Timeline {
				p("| %s s | %s | %d | %d |\n", fmtFloat(t.OffsetS), fmtMS(t.P99MS), t.Requests, t.Errors)
			}
			p("\n</details>\n\n")
		}
	}

	if c := r.Capacity; c != nil && (c.Knee != nil && c.Knee.QPS > 0 || c.USL != nil) {
		p("## Capacity model\n\nModels fitted to the steps, shown beside the measured best-before, never instead of it.\n\n")
		if k := c.Knee; k != nil && k.QPS > 0 {
			p("- **Knee:** p99 starts to climb steeply at %s QPS (p99 %s, step %d).\n", fmtQPS(k.QPS), fmtMS(k.P99MS), k.Step)
		}
		if u := c.USL; u != nil {
			p("- **Universal Scalability Law:** %s.\n", uslText(u))
			for _, w := range u.Warnings {
				p("  - ⚠ %s\n", mdEsc(w))
			}
		}
		p("\n")
	}

	if r.Shard != nil {
		p("Shard %d of %d (plan %s).\n\n", r.Shard.Index+1, r.Shard.Count, mdEsc(r.Shard.Plan))
	}

	p("<details><summary>Run manifest</summary>\n\n| | |\n| --- | --- |\n")
	for _, kv := range manifestRows(r) {
		p("| %s | %s |\n", kv[0], mdEsc(kv[1]))
	}
	if y := r.Manifest.EffectiveYAML; y != "" {
		p("\nEffective scenario:\n\n```yaml\n%s\n```\n", strings.TrimRight(strings.ReplaceAll(y, "```", "` ` `"), "\n"))
	}
	p("\n</details>\n\n")
	p("_Generated %s by bestbefore %s._\n", fmtTime(o.now()), o.version())
	return bw.Flush()
}

func mark(pass bool) string {
	if pass {
		return "✅"
	}
	return "❌"
}

// mdEsc keeps text from breaking a Markdown table or being read as markup.
func mdEsc(s string) string { return markdown.Text(s) }

// warnings gathers the run's warnings and the steps' warnings, each step
// warning once with the rates it was seen at.
func warnings(r *result.Result) []string {
	out := append([]string(nil), r.Warnings...)
	for _, x := range slowEndpoints(r) {
		out = append(out, x.String())
	}
	var order []string
	at := map[string][]float64{}
	for _, s := range r.Steps {
		for _, w := range s.Warnings {
			if _, ok := at[w]; !ok {
				order = append(order, w)
			}
			at[w] = append(at[w], s.OfferedQPS)
		}
		if s.Generator.Saturated {
			w := "load generator saturated"
			if s.Generator.SaturatedWhy != "" {
				w += " (" + s.Generator.SaturatedWhy + ")"
			}
			if _, ok := at[w]; !ok {
				order = append(order, w)
			}
			at[w] = append(at[w], s.OfferedQPS)
		}
	}
	for _, w := range order {
		rates := at[w]
		sort.Float64s(rates)
		l := make([]string, len(rates))
		for i, q := range rates {
			l[i] = fmtQPS(q)
		}
		out = append(out, fmt.Sprintf("%s: at %s QPS", w, strings.Join(l, ", ")))
	}
	return out
}

func nodeLossText(r *result.Result, nl *result.NodeLoss) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Node %s was stopped %s s into a hold at %s QPS", nl.Node, fmtFloat(nl.LostAtS), fmtQPS(nl.QPS))
	if nl.Held {
		b.WriteString(": the remaining nodes **held** the load")
	} else {
		b.WriteString(": the remaining nodes **did not hold** the load")
	}
	// Which rate the hold verified, and how it relates to the N-1 figure
	// the run publishes (that rate less the safety margin); and the
	// error margin, so that a verdict near its bound reads as one.
	var notes []string
	if bb := r.BestBefore; bb.Found && bb.Nodes > 1 && bb.NMinus1QPS > 0 {
		n1 := bb.QPS * float64(bb.Nodes-1) / float64(bb.Nodes)
		switch {
		case math.Abs(nl.QPS-bb.NMinus1QPS) <= 0.01*bb.NMinus1QPS:
			notes = append(notes, "the published N-1 rate itself")
		case math.Abs(nl.QPS-n1) <= 0.01*n1:
			notes = append(notes, fmt.Sprintf("the N-1 rate before the safety margin: the published N-1, %s QPS, is %s of it, so the hold verified more than it", fmtQPS(bb.NMinus1QPS), fmtFloat(bb.SafetyMargin)))
		case nl.QPS >= bb.NMinus1QPS:
			notes = append(notes, fmt.Sprintf("capacity.node_loss.qps, above the published N-1 of %s QPS, which it therefore covers", fmtQPS(bb.NMinus1QPS)))
		default:
			notes = append(notes, fmt.Sprintf("capacity.node_loss.qps, below the published N-1 of %s QPS: the hold does not verify the N-1 figure", fmtQPS(bb.NMinus1QPS)))
		}
	}
	if bound, ok := r.Objectives.Bound("error_rate"); ok && nl.Step >= 0 && nl.Step < len(r.Steps) {
		notes = append(notes, fmt.Sprintf("the hold's error rate %s against an objective of %s", result.FormatShare(r.Steps[nl.Step].ErrorRate), result.FormatShare(bound)))
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, "; ") + ")")
	}
	fmt.Fprintf(&b, ". Errors from the loss to recovery: %d", nl.TransitionErrs)
	if inFlight := errorsBefore(nl); inFlight > 0 {
		fmt.Fprintf(&b, " (%d of them requests in flight on the node when it was stopped: sent before %s s, they show in the timeline's earlier seconds)", inFlight, fmtFloat(nl.LostAtS))
	}
	b.WriteString(". ")
	switch {
	case nl.Never:
		b.WriteString("The service never recovered within the hold.")
	case nl.RecoverS != nil:
		fmt.Fprintf(&b, "Time to recover (to the first second from which no request failed and p99 kept its objective): %s s.", fmtFloat(*nl.RecoverS))
	}
	if nl.Restored {
		b.WriteString(" The node was restored afterwards.")
	}
	return b.String()
}

func uslText(u *result.USL) string {
	return fmt.Sprintf("σ (contention) %s, κ (coherency) %s, λ %s QPS per unit of concurrency, R² %s; predicted peak %s QPS at concurrency %s",
		fmtFloat(u.Sigma), fmtFloat(u.Kappa), fmtFloat(u.Lambda), strconv.FormatFloat(u.R2, 'f', 3, 64), fmtQPS(u.PeakQPS), fmtFloat(u.PeakConcurrency))
}

func manifestRows(r *result.Result) [][2]string {
	m := r.Manifest
	rows := [][2]string{
		{"tool", strings.TrimSpace(m.Tool + " " + m.Version)},
		{"Go", m.GoVersion},
		{"platform", m.OS + "/" + m.Arch},
		{"CPU", fmt.Sprintf("%s × %d", m.CPUModel, m.CPUs)},
	}
	if m.Hostname != "" {
		rows = append(rows, [2]string{"host", m.Hostname})
	}
	rows = append(rows,
		[2]string{"seed", strconv.FormatInt(m.Seed, 10)},
		[2]string{"scenario", m.Scenario + " (sha256 " + short(m.ScenarioSHA) + ")"},
		[2]string{"traffic", m.Traffic + " (sha256 " + short(m.TrafficSHA) + ")"},
		[2]string{"targets", strings.Join(m.Targets, ", ")},
	)
	if len(m.Overrides) > 0 {
		rows = append(rows, [2]string{"overrides", strings.Join(m.Overrides, " ")})
	}
	keys := make([]string, 0, len(m.Extra))
	for k := range m.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rows = append(rows, [2]string{k, m.Extra[k]})
	}
	rows = append(rows, [2]string{"started", fmtTime(r.StartedAt)}, [2]string{"finished", fmtTime(r.FinishedAt)})
	return rows
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	if sha == "" {
		return "–"
	}
	return sha
}

// errorsBefore counts the transition errors of requests due before the
// loss: the ones in flight on the lost node.
func errorsBefore(nl *result.NodeLoss) int64 {
	var n int64
	for i, p := range nl.Timeline {
		end := nl.LostAtS
		if i+1 < len(nl.Timeline) {
			end = min(end, nl.Timeline[i+1].OffsetS)
		}
		if p.OffsetS < nl.LostAtS && end <= nl.LostAtS {
			n += p.Errors
		}
	}
	return min(n, nl.TransitionErrs)
}
