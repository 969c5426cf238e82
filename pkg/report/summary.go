package report

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// DefaultWidth is the width the terminal summary wraps its prose to when
// the terminal's own is unknown (output piped to a file or a CI log).
const DefaultWidth = 120

// Summary writes the one-screen terminal summary of a run: the headline, a
// compact table of the steps, a text chart of p99 against offered load,
// what limited the run, warnings, and where the reports were written.
func Summary(w io.Writer, r *result.Result, o Options) error {
	r = forDisplay(r)
	// Names, warnings and error samples come from outside: no escape
	// sequence of theirs reaches the terminal.
	bw := bufio.NewWriter(iostreams.SafeWriter(w))
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	bb := r.BestBefore
	width := o.Width
	if width <= 0 {
		width = DefaultWidth
	}
	// para writes prose wrapped to the width, its later lines indented.
	para := func(indent int, format string, a ...any) {
		p("%s\n", iostreams.Wrap(fmt.Sprintf(format, a...), width, indent))
	}

	steps := fmt.Sprintf("%d steps", len(r.Steps))
	if len(r.Steps) == 1 {
		steps = "1 step"
	}
	p("bestbefore %s: %s in %s, %s\n\n", r.Name, r.Status, duration(r), steps)
	switch {
	case fixedRun(r):
		para(2, "  %s", fixedText(r))
	case bb.Found:
		p("  Best-before  %s QPS\n", fmtQPS(bb.QPS))
		if bb.NMinus1QPS > 0 {
			p("  N-1          %s QPS  (one of %d nodes lost, safety margin %s)\n", fmtQPS(bb.NMinus1QPS), bb.Nodes, fmtFloat(bb.SafetyMargin))
		}
		if bb.OutputTokensPerS > 0 {
			p("  In tokens    %s output tokens/s", fmtQPS(bb.OutputTokensPerS))
			if bb.NMinus1OutputTokensPerS > 0 {
				p("; N-1 %s", fmtQPS(bb.NMinus1OutputTokensPerS))
			}
			p("  (the rate × the tokens a response held there)\n")
		}
		if t := limitText(r); t != "" {
			para(2, "  %s", t)
		}
	default:
		para(4, "  No best-before QPS: %s", noneReason(r))
	}
	if nl := r.NodeLoss; nl != nil {
		para(15, "  Node loss    %s", strings.ReplaceAll(nodeLossText(r, nl), "**", ""))
	}
	if len(r.Steps) > 0 && !targetWatched(r) {
		para(15, "  Target CPU   not watched: no process of the target was sampled; add --pid PID or --process-name NAME to run (or monitor.pids in the scenario)")
	}
	p("\n")

	if len(r.Steps) > 0 {
		p("  %3s %-6s %8s %8s %9s %9s %9s %7s %11s %7s  %s\n", "#", "phase", "offered", "achieved", "p50", "p99", "p99.9", "errors", "available", "tgt cpu", "SLO")
		for _, s := range r.Steps {
			cpu := "–"
			if s.Target != nil {
				cpu = strconv.FormatFloat(s.Target.CPUPercent, 'f', 0, 64) + "%"
			}
			slo := "ok"
			if !s.SLOPass {
				slo = "FAIL " + strings.Join(s.Failed, ",")
			}
			if s.Generator.Saturated {
				slo += " (generator saturated)"
			}
			if s.Remeasured {
				slo += " (measured again)"
			}
			if s.Partial {
				slo += fmt.Sprintf(" (partial: %.1f s ran)", s.DurationS)
			}
			star := " "
			if bb.Found && s.Index == bb.Step {
				star = "*"
			}
			row := fmt.Sprintf("%s %3d %-6s %8s %8s %9s %9s %9s %7d %11s %7s  ", star, s.Index, s.Phase, fmtQPS(s.OfferedQPS), fmtQPS(s.AchievedQPS),
				fmtMS(s.LatencyMS.P50), fmtMS(s.LatencyMS.P99), fmtMS(s.LatencyMS.P999), s.Errors, availability(s), cpu)
			// Too long for the width, the SLO column wraps under itself
			// between objectives or, with too little room there, goes on
			// the next lines.
			col := utf8.RuneCountInString(row)
			switch {
			case col+utf8.RuneCountInString(slo) <= width || width-col >= 24:
				p("%s\n", iostreams.Wrap(row+slo, width, col))
			default:
				p("%s\n%s\n", strings.TrimRight(row, " "), iostreams.Wrap("      "+slo, width, 6))
			}
		}
		p("\n")
		if rows := StreamRows(r); len(rows) > 0 {
			p("  Streamed responses (TTFT from the intended send; ITL between output events):\n")
			writeColumns(bw, "  ", append([][]string{StreamHead}, rows...))
			p("\n")
		}
		textChart(bw, r)
	}

	if ws := warnings(r); len(ws) > 0 {
		p("Warnings:\n")
		for _, w := range ws {
			para(4, "  - %s", w)
		}
		p("\n")
	}
	if len(o.Written) > 0 {
		p("Written:\n")
		for _, f := range o.Written {
			p("  %s\n", f)
		}
	}
	return bw.Flush()
}

const chartWidth = 40

// textChart draws one bar per step (ordered by offered rate), its length the
// p99 on a log scale, with the p99 objective marked by a │.
func textChart(w io.Writer, r *result.Result) {
	steps := rampSteps(r)
	lo, hi := math.Inf(1), 0.0
	for _, s := range steps {
		if v := s.LatencyMS.P99; v > 0 {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	slo, hasSLO := r.Objectives.Bound("latency.p99")
	if hasSLO {
		lo, hi = math.Min(lo, slo), math.Max(hi, slo)
	}
	if hi == 0 {
		return
	}
	min, max := lo/2, hi*1.05
	if max <= min*2 {
		max = min * 4
	}
	col := func(v float64) float64 {
		return math.Log10(v/min) / math.Log10(max/min) * chartWidth
	}
	title := fmt.Sprintf("p99 vs offered QPS (log scale %s .. %s", fmtMS(min), fmtMS(max))
	if hasSLO {
		title += ", │ objective " + fmtMS(slo)
	}
	fmt.Fprintf(w, "%s)\n", title)
	sloCol := -1
	if hasSLO {
		sloCol = int(math.Min(chartWidth-1, math.Floor(col(slo))))
	}
	for _, s := range steps {
		row := []rune(strings.Repeat(" ", chartWidth))
		v := s.LatencyMS.P99
		if v > 0 {
			fillBar(row, col(v))
		}
		if sloCol >= 0 && row[sloCol] == ' ' {
			row[sloCol] = '│'
		}
		mark := ""
		if !s.SLOPass {
			mark = " ✗"
		}
		fmt.Fprintf(w, "  %8s ▕%s▏ %s%s\n", fmtQPS(s.OfferedQPS), string(row), fmtMS(v), mark)
	}
	fmt.Fprintln(w)
}

var eighths = []rune(" ▏▎▍▌▋▊▉")

func fillBar(row []rune, width float64) {
	width = math.Max(0, math.Min(float64(len(row)), width))
	full := int(width)
	for i := 0; i < full; i++ {
		row[i] = '█'
	}
	if full < len(row) {
		if e := int((width - float64(full)) * 8); e > 0 {
			row[full] = eighths[e]
		} else if full == 0 {
			row[0] = '▏'
		}
	}
}

// targetWatched says a step holds a sample of the target's processes.
func targetWatched(r *result.Result) bool {
	for _, s := range r.Steps {
		if s.Target != nil {
			return true
		}
	}
	return false
}

// writeColumns writes rows as left-padded columns, the first row a head.
func writeColumns(w io.Writer, indent string, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)))
			b.WriteString(c)
		}
		fmt.Fprintln(w, b.String())
	}
}
