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

	var body strings.Builder
	for _, sec := range sections(r, nil, nil) {
		sec.markdown(&body)
	}
	if sp, ok := shardPara(r); ok {
		sp.markdown(&body)
	}
	manifestBlock{r}.markdown(&body)
	bw.WriteString(body.String())
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
