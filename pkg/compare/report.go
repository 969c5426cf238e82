package compare

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/markdown"
)

// Num is a float64 that is written to JSON as null when it is not a
// finite number (an unbounded interval, a p-value that was not computed).
type Num float64

// MarshalJSON writes finite values as numbers and the rest as null.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(f, 'g', 6, 64)), nil
}

// UnmarshalJSON reads a number, or null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// row is a gate rendered as text cells.
type row struct {
	name, base, cand, change, interval, p, verdict string
}

func (g *Gate) row() row {
	return row{
		name:     g.Name(),
		base:     fmtEstimate(g.Unit, g.Base),
		cand:     fmtEstimate(g.Unit, g.Cand),
		change:   fmtChange(float64(g.Change), g.Absolute),
		interval: fmtInterval(float64(g.Lo), float64(g.Hi), g.Absolute),
		p:        fmtP(g),
		verdict:  string(g.Verdict),
	}
}

// Name is the gate's human name, e.g. "p99 (geomean)" or "200 qps p99".
func (g *Gate) Name() string {
	metric := map[string]string{
		MetricBestBefore: "best-before QPS",
		MetricP50:        "p50",
		MetricP99:        "p99",
		MetricP999:       "p99.9",
		MetricErrorRate:  "error rate",
		MetricTTFTP99:    "TTFT p99",
		MetricITLP99:     "ITL p99",
	}[g.Metric]
	if g.Scope == "step" {
		return fmt.Sprintf("%s qps %s", fmtQPS(g.StepQPS), metric)
	}
	if g.Unit == "ms" {
		return metric + " (geomean)"
	}
	return metric
}

// Text writes the human table, benchstat style.
func (r *Report) Text(w io.Writer) error {
	w = iostreams.SafeWriter(w)
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s\n", r.Scenario)
	fmt.Fprintf(&b, "baseline:  %s (%s)\n", r.Baseline.Label, plural(r.Baseline.Runs, "run"))
	fmt.Fprintf(&b, "candidate: %s (%s)\n", r.Candidate.Label, plural(r.Candidate.Runs, "run"))
	fmt.Fprintf(&b, "%s\n\n", r.method())
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "gate\tbaseline\t\tcandidate\tchange\tinterval\tp\tverdict")
	for i := range r.Gates {
		c := r.Gates[i].row()
		fmt.Fprintf(tw, "%s\t%s\t→\t%s\t%s\t%s\t%s\t%s\n", c.name, c.base, c.cand, c.change, c.interval, c.p, c.verdict)
	}
	tw.Flush()
	b.WriteString("\n")
	for _, n := range r.notes() {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	fmt.Fprintf(&b, "verdict: %s\n", r.summary())
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) method() string {
	return fmt.Sprintf("α = %s, Holm–Bonferroni over %s overall (intervals at %s confidence) and %s by step (at %s)",
		fmtFloat(r.Alpha), plural(r.Tests, "gate"), fmtPct(r.Confidence), plural(r.StepTests, "gate"), fmtPct(r.StepConfidence))
}

// notes gathers the report's notes and the gates' notes worth reading
// (overall gates and anything not passing).
func (r *Report) notes() []string {
	out := append([]string(nil), r.Notes...)
	for _, g := range r.Gates {
		if g.Note == "" || (g.Scope == "step" && g.Verdict != Regression) {
			// An inconclusive step says what it could detect in the JSON
			// and the JUnit file; the overall gates say it here.
			continue
		}
		if g.Scope == "overall" && g.Unit == "ms" && (g.Verdict == Pass || g.Verdict == Info) {
			continue // "geometric mean of N step medians" says nothing new
		}
		out = append(out, g.Name()+": "+g.Note)
	}
	return out
}

func (r *Report) summary() string {
	switch r.Verdict {
	case Regression:
		var ids []string
		for _, g := range r.Regressions() {
			ids = append(ids, g.Name())
		}
		return "REGRESSION in " + joinList(ids)
	case Inconclusive:
		var ids []string
		for _, g := range r.Inconclusive() {
			if g.Scope == "overall" {
				ids = append(ids, g.Name())
			}
		}
		return "INCONCLUSIVE (" + joinList(ids) + "): the data can neither rule out nor confirm a change beyond the threshold"
	}
	return "PASS"
}

// Markdown writes a table for a pull-request comment.
func (r *Report) Markdown(w io.Writer) error {
	var b strings.Builder
	icon := map[Verdict]string{Pass: "✅", Regression: "❌", Inconclusive: "⚠️", Info: ""}
	fmt.Fprintf(&b, "### bestbefore compare: %s %s\n\n", icon[r.Verdict], r.Verdict)
	// The names are the user's (a scenario, a directory): escaped text,
	// never a code span, where a backtick in them would end the span.
	fmt.Fprintf(&b, "Scenario **%s**: baseline %s (%s) → candidate %s (%s).  \n",
		mdEscape(r.Scenario), mdEscape(r.Baseline.Label), plural(r.Baseline.Runs, "run"), mdEscape(r.Candidate.Label), plural(r.Candidate.Runs, "run"))
	fmt.Fprintf(&b, "%s.\n\n", r.method())
	b.WriteString("| gate | baseline | candidate | change | interval | p | verdict |\n")
	b.WriteString("| --- | ---: | ---: | ---: | :---: | ---: | --- |\n")
	for i := range r.Gates {
		g := &r.Gates[i]
		c := g.row()
		v := c.verdict
		if g.Verdict == Regression || g.Verdict == Inconclusive {
			v = "**" + v + "**"
		}
		if ic := icon[g.Verdict]; ic != "" {
			v = ic + " " + v
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(c.name), c.base, c.cand, c.change, c.interval, c.p, v)
	}
	b.WriteString("\n")
	for _, n := range r.notes() {
		fmt.Fprintf(&b, "- %s\n", mdEscape(n))
	}
	fmt.Fprintf(&b, "\n**Verdict:** %s\n", r.summary())
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string { return markdown.Text(s) }

// JUnit document types, as CI systems read them. They follow the Jenkins
// xunit plugin's junit-10.xsd (testdata/junit-10.xsd), the strictest
// reader in common use: errors is required on <testsuite>, skipped is
// allowed there and not on <testsuites>.
type (
	// JUnitSuites is the <testsuites> root.
	JUnitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Suites   []JUnitSuite `xml:"testsuite"`
	}
	// JUnitSuite is one <testsuite>.
	JUnitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Skipped  int         `xml:"skipped,attr"`
		Cases    []JUnitCase `xml:"testcase"`
	}
	// JUnitCase is one gate as a <testcase>.
	JUnitCase struct {
		ClassName string        `xml:"classname,attr"`
		Name      string        `xml:"name,attr"`
		Failure   *JUnitMessage `xml:"failure,omitempty"`
		Skipped   *JUnitMessage `xml:"skipped,omitempty"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	// JUnitMessage is a <failure> or <skipped> element.
	JUnitMessage struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Text    string `xml:",chardata"`
	}
)

// JUnit writes every gate as a <testcase>: regressions as <failure>,
// inconclusive gates as <skipped>, in one <testsuite> inside
// <testsuites>. With strict (compare --strict, where an inconclusive
// comparison fails the job) inconclusive gates are <failure> too, so the
// file's failure count is nonzero exactly when compare exits 1; an
// inconclusive verdict that no gate carries gets a testcase of its own.
func (r *Report) JUnit(w io.Writer, strict bool) error {
	suite := JUnitSuite{Name: "bestbefore compare: " + r.Scenario}
	for i := range r.Gates {
		g := &r.Gates[i]
		c := g.row()
		line := fmt.Sprintf("%s  %s → %s  %s %s  %s  %s", c.name, c.base, c.cand, c.change, c.interval, c.p, c.verdict)
		tc := JUnitCase{ClassName: "bestbefore.compare." + g.Scope, Name: g.ID, SystemOut: line}
		detail := line
		if g.Note != "" {
			detail += "\n" + g.Note
		}
		switch {
		case g.Verdict == Regression:
			tc.Failure = &JUnitMessage{Message: line, Type: "regression", Text: detail}
			suite.Failures++
		case g.Verdict == Inconclusive && strict:
			tc.Failure = &JUnitMessage{Message: "inconclusive (--strict): " + line, Type: "inconclusive", Text: detail}
			suite.Failures++
		case g.Verdict == Inconclusive:
			tc.Skipped = &JUnitMessage{Message: "inconclusive: " + line, Text: detail}
			suite.Skipped++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	if strict && r.Verdict == Inconclusive && suite.Failures == 0 {
		msg := "inconclusive comparison (--strict): " + r.summary()
		suite.Cases = append(suite.Cases, JUnitCase{ClassName: "bestbefore.compare", Name: "verdict",
			Failure: &JUnitMessage{Message: msg, Type: "inconclusive", Text: msg}})
		suite.Failures++
	}
	suite.Tests = len(suite.Cases)
	doc := JUnitSuites{Name: "bestbefore compare", Tests: suite.Tests, Failures: suite.Failures, Suites: []JUnitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

func fmtEstimate(unit string, e Estimate) string {
	v := float64(e.Value)
	if math.IsNaN(v) {
		return "—"
	}
	var s string
	switch unit {
	case "ms":
		s = fmtMS(v)
	case "qps":
		s = fmtQPS(v)
	case "ratio":
		s = fmtPct(v)
	default:
		s = fmtFloat(v)
	}
	if sp := float64(e.Spread); !math.IsNaN(sp) {
		s += fmt.Sprintf(" ± %.0f%%", sp*100)
	}
	return s
}

func fmtMS(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v/1000, 'f', digits(v/1000), 64) + "s"
	case v >= 1:
		return strconv.FormatFloat(v, 'f', digits(v), 64) + "ms"
	default:
		return strconv.FormatFloat(v*1000, 'f', digits(v*1000), 64) + "µs"
	}
}

// digits gives three significant digits without exponents.
func digits(v float64) int {
	switch {
	case v >= 100:
		return 0
	case v >= 10:
		return 1
	default:
		return 2
	}
}

func fmtQPS(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func fmtPct(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return strconv.FormatFloat(v*100, 'g', 4, 64) + "%"
}

func fmtChange(v float64, absolute bool) string {
	if math.IsNaN(v) {
		return "—"
	}
	if math.IsInf(v, 0) {
		if v > 0 {
			return "+∞"
		}
		return "−∞"
	}
	if absolute {
		return fmt.Sprintf("%+.2fpp", v*100)
	}
	return fmt.Sprintf("%+.1f%%", v*100)
}

func fmtInterval(lo, hi float64, absolute bool) string {
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return "—"
	}
	return "[" + fmtChange(lo, absolute) + ", " + fmtChange(hi, absolute) + "]"
}

func fmtP(g *Gate) string {
	p := float64(g.PAdj)
	if math.IsNaN(p) {
		p = float64(g.P)
	}
	if math.IsNaN(p) {
		return "—"
	}
	if p < 0.001 {
		return "p<0.001"
	}
	return fmt.Sprintf("p=%.3f", p)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
