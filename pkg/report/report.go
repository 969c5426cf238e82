// Package report renders a result.Result for people: Markdown for pull
// requests and CI job summaries, a self-contained HTML page with charts, an
// HdrHistogram interval log for other HDR tools, and a one-screen terminal
// summary.
//
// Every renderer is a pure function of the result and the Options; the clock
// and the tool version are injected so the output can be compared with
// golden files.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// Options are the inputs of a report that do not come from the result.
type Options struct {
	// Now stamps the report; nil means time.Now.
	Now func() time.Time
	// Version is the version of the tool rendering the report.
	Version string
	// Written lists the files a run wrote (result.json, reports); Summary
	// prints them so the user knows where to look.
	Written []string
	// HLog shapes the hlog format.
	HLog HLogOptions
	// Width is the terminal's width in columns, for Summary to wrap its
	// lines between words; 0 means DefaultWidth.
	Width int
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now().UTC()
	}
	return o.Now().UTC()
}

func (o Options) version() string {
	if o.Version == "" {
		return "dev"
	}
	return o.Version
}

// Formats accepted by Render.
var Formats = []string{"md", "html", "json", "hlog"}

// Render writes r in the named format: md, html, json or hlog.
func Render(w io.Writer, format string, r *result.Result, o Options) error {
	switch format {
	case "md", "markdown":
		return Markdown(w, r, o)
	case "html":
		return HTML(w, r, o)
	case "json":
		return JSON(w, r)
	case "hlog":
		return HLog(w, r, o.HLog)
	}
	return fmt.Errorf("report: unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// JSON writes r as indented JSON, the same bytes result.Write stores.
func JSON(w io.Writer, r *result.Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// File names WriteAll writes.
const (
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
)

// WriteAll writes report.md and report.html into dir, each atomically.
func WriteAll(dir string, r *result.Result, o Options) error {
	var md, html bytes.Buffer
	if err := Markdown(&md, r, o); err != nil {
		return err
	}
	if err := HTML(&html, r, o); err != nil {
		return err
	}
	// A report that cannot be written (a full disk) must not leave the
	// one of an earlier run in its place, passing for this run's.
	var errs []error
	for _, f := range []struct {
		name string
		data []byte
	}{{MarkdownFile, md.Bytes()}, {HTMLFile, html.Bytes()}} {
		path := filepath.Join(dir, f.name)
		if err := result.WriteFileAtomic(path, f.data); err != nil {
			if rerr := os.Remove(path); rerr == nil {
				err = fmt.Errorf("%w (the %s of an earlier run was removed)", err, f.name)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// rampSteps returns the steps measured while searching for the best-before
// (ramp and refinement), ordered by offered rate. Hold steps (node loss)
// run under different conditions and are left out of the rate charts.
func rampSteps(r *result.Result) []result.Step {
	out := make([]result.Step, 0, len(r.Steps))
	for _, s := range r.Steps {
		if s.Phase == result.PhaseHold {
			continue
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].OfferedQPS != out[j].OfferedQPS {
			return out[i].OfferedQPS < out[j].OfferedQPS
		}
		return out[i].Index < out[j].Index
	})
	return out
}

// bestStep returns the step that set the best-before, if any.
func bestStep(r *result.Result) (result.Step, bool) {
	if !r.BestBefore.Found || r.BestBefore.Step < 0 {
		return result.Step{}, false
	}
	for _, s := range r.Steps {
		if s.Index == r.BestBefore.Step {
			return s, true
		}
	}
	return result.Step{}, false
}

// firstFailStep returns the step the best-before calls the first failure
// (best_before.first_fail_qps): the lowest-rate ramp or refinement step
// that broke an objective or, failing that, saturated the generator.
func firstFailStep(r *result.Result) (result.Step, bool) {
	if r.BestBefore.FirstFailQPS <= 0 {
		return result.Step{}, false
	}
	var sat *result.Step
	for _, s := range rampSteps(r) {
		if s.OfferedQPS != r.BestBefore.FirstFailQPS {
			continue
		}
		if !s.SLOPass && !s.Generator.Saturated {
			return s, true
		}
		if s.Generator.Saturated && sat == nil {
			sat = &s
		}
	}
	if sat != nil {
		return *sat, true
	}
	return result.Step{}, false
}

// fixedRun says the run tried one fixed rate (run --rate): its answer is
// whether the service held the objectives there, not a best-before.
func fixedRun(r *result.Result) bool {
	n := 0
	for _, s := range r.Steps {
		switch s.Phase {
		case result.PhaseFixed:
			n++
		case result.PhaseHold:
		default:
			return false
		}
	}
	return n > 0
}

// fixedText is the answer of a fixed-rate run: held or did not hold the
// objectives at its rate, and why.
func fixedText(r *result.Result) string {
	var st result.Step
	for _, s := range r.Steps {
		if s.Phase == result.PhaseFixed {
			st = s // the last: a re-measured step's verdict is the second look's
		}
	}
	q := fmtQPS(st.OfferedQPS)
	more := "A fixed rate is one rate tried, not a search: ramp (--max-qps, or a scenario) to find the highest rate the service holds."
	switch {
	case st.Partial && st.SLOPass:
		return fmt.Sprintf("Interrupted after %.1f s at %s QPS: the part that ran held the objectives, but a step cut short is no verdict. %s", st.DurationS, q, more)
	case st.Partial:
		return fmt.Sprintf("Interrupted after %.1f s at %s QPS, and the part that ran already broke %s.", st.DurationS, q, strings.Join(st.Failed, ", "))
	case st.Generator.Saturated:
		return fmt.Sprintf("No verdict at %s QPS: the load generator could not keep the schedule (%s), so the step describes the generator, not the service.", q, st.Generator.SaturatedWhy)
	case st.SLOPass:
		return fmt.Sprintf("Held the objectives at %s QPS for %.0f s. %s", q, st.DurationS+st.WarmupS, more)
	}
	return fmt.Sprintf("Did not hold the objectives at %s QPS: broke %s. %s", q, strings.Join(st.Failed, ", "), more)
}

// headline is the one-sentence answer, in plain text.
func headline(r *result.Result) string {
	bb := r.BestBefore
	if fixedRun(r) {
		return fixedText(r)
	}
	if !bb.Found {
		return "No best-before QPS: " + noneReason(r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Best-before: %s QPS", fmtQPS(bb.QPS))
	if bb.Nodes > 1 {
		fmt.Fprintf(&b, "; N-1 (one of %d nodes lost, safety margin %s): %s QPS", bb.Nodes, fmtFloat(bb.SafetyMargin), fmtQPS(bb.NMinus1QPS))
	} else if bb.NMinus1QPS > 0 {
		fmt.Fprintf(&b, "; with safety margin %s: %s QPS", fmtFloat(bb.SafetyMargin), fmtQPS(bb.NMinus1QPS))
	}
	if bb.OutputTokensPerS > 0 {
		fmt.Fprintf(&b, " (%s output tokens/s", fmtQPS(bb.OutputTokensPerS))
		if bb.NMinus1OutputTokensPerS > 0 {
			fmt.Fprintf(&b, "; N-1: %s", fmtQPS(bb.NMinus1OutputTokensPerS))
		}
		b.WriteString(")")
	}
	b.WriteString(". ")
	b.WriteString(limitText(r))
	return b.String()
}

// headlineDetail explains the bold headline figures of a found best-before.
func headlineDetail(r *result.Result) string {
	bb := r.BestBefore
	var parts []string
	if bb.Nodes > 1 && bb.NMinus1QPS > 0 {
		parts = append(parts, fmt.Sprintf("N-1 is what the cluster can carry with one of its %d nodes lost, with a safety margin of %s.", bb.Nodes, fmtFloat(bb.SafetyMargin)))
	}
	if t := limitText(r); t != "" {
		parts = append(parts, t)
	}
	return strings.Join(parts, " ")
}

// limitText says what stopped the ramp and, when a rule other than "the
// highest passing step" set the figure, which rule and its numbers.
func limitText(r *result.Result) string {
	t := stopText(r)
	if why := r.BestBefore.Why; why != "" && r.BestBefore.Found {
		t = strings.TrimSpace(t + " " + why)
	}
	return t
}

// stopText says what stopped the ramp.
func stopText(r *result.Result) string {
	bb := r.BestBefore
	switch {
	case bb.LimitedBy == result.LimitedByMaxQPS:
		return "The ramp reached load.max_qps without breaking an objective: the service can take more; raise max_qps to find its limit."
	case bb.LimitedBy == result.LimitedByInterrupted:
		return "The run was interrupted before any step broke an objective: the figure is a lower bound (the service held it and may take more)."
	case bb.LimitedBy == result.LimitedByFixedRate:
		return "A fixed-rate run held its one rate: the figure is a lower bound, not a limit."
	case bb.LimitedBy != "" && bb.FirstFailQPS > 0:
		return fmt.Sprintf("Limited by %s, first broken at %s QPS.", bb.LimitedBy, fmtQPS(bb.FirstFailQPS))
	case bb.LimitedBy != "":
		return fmt.Sprintf("Limited by %s.", bb.LimitedBy)
	case bb.FirstFailQPS > 0:
		return fmt.Sprintf("First failing rate: %s QPS.", fmtQPS(bb.FirstFailQPS))
	}
	return ""
}

// noneReason explains why no best-before was found.
func noneReason(r *result.Result) string {
	steps := rampSteps(r)
	suffix := ""
	if r.Status != "" && r.Status != result.StatusCompleted {
		suffix = " (run " + r.Status
		if r.Reason != "" {
			suffix += ": " + r.Reason
		}
		suffix += ")"
	}
	if len(steps) == 0 {
		return "no step was measured" + suffix + "."
	}
	allSat := true
	for _, s := range steps {
		if !s.Generator.Saturated {
			allSat = false
			break
		}
	}
	if allSat {
		why := steps[0].Generator.SaturatedWhy
		if why != "" {
			why = " (" + why + ")"
		}
		return "every step saturated the load generator" + why + ", so the measurements describe the generator, not the target; run `bestbefore calibrate`, lower load.start_qps or spread the load over more generators" + suffix + "."
	}
	first := steps[0]
	if !first.SLOPass {
		broke := strings.Join(first.Failed, ", ")
		if broke == "" {
			broke = "an objective"
		}
		return fmt.Sprintf("the first step, at %s QPS, already broke %s: the service misses its objectives even at the lowest rate tried; lower load.start_qps or review the objectives%s.", fmtQPS(first.OfferedQPS), broke, suffix)
	}
	passSat := false
	for _, s := range steps {
		if s.SLOPass && s.Generator.Saturated {
			passSat = true
		}
	}
	if passSat {
		return "the only steps that met the objectives saturated the load generator, and a best-before is never claimed on a step the generator limited" + suffix + "."
	}
	return "no step met every objective" + suffix + "."
}

// objectiveCell is what a report shows for an objective at a step: the
// step's measure in the objective's unit, and the step's own verdict.
func objectiveCell(f result.InForce, s result.Step) (string, bool) {
	kept := f.Verdict(&s)
	v, ok := f.Measure(&s)
	if !ok {
		return "not measured", kept
	}
	return f.Format(v), kept
}

// availability is successes / requests as a percentage in "nines": as many
// decimals as it takes to show the first digit that is not a nine, never
// rounded up to 100% while a request failed.
func availability(s result.Step) string {
	if s.Requests <= 0 {
		return "–"
	}
	if s.Successes >= s.Requests {
		return "100%"
	}
	p := float64(s.Successes) / float64(s.Requests) * 100
	d := int(math.Max(2, math.Min(6, math.Ceil(-math.Log10(100-p)))))
	scale := math.Pow(10, float64(d))
	return strconv.FormatFloat(math.Floor(p*scale)/scale, 'f', d, 64) + "%"
}

// errorClasses lists the non-zero error classes, largest first.
func errorClasses(s result.Step) string {
	type kv struct {
		k string
		v int64
	}
	var l []kv
	for k, v := range s.ErrorsByClass {
		if v > 0 {
			l = append(l, kv{k, v})
		}
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].v != l[j].v {
			return l[i].v > l[j].v
		}
		return l[i].k < l[j].k
	})
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = fmt.Sprintf("%s %d", e.k, e.v)
	}
	return strings.Join(parts, ", ")
}

// errorClassNames lists every class seen in any step, sorted.
func errorClassNames(steps []result.Step) []string {
	set := map[string]bool{}
	for _, s := range steps {
		for k, v := range s.ErrorsByClass {
			if v > 0 {
				set[k] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func fmtQPS(v float64) string {
	if v == math.Trunc(v) || v >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// fmtMS and fmtPct write milliseconds and shares as every report and the
// objective catalogue do.
var (
	fmtMS  = result.FormatMS
	fmtPct = result.FormatShare
)

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format(time.RFC3339)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func duration(r *result.Result) string {
	if r.StartedAt.IsZero() || r.FinishedAt.IsZero() {
		return "–"
	}
	return r.FinishedAt.Sub(r.StartedAt).Round(time.Second).String()
}

// errorTable is the run's error table: as written in the result, or
// gathered from its steps for a result written without one.
func errorTable(r *result.Result) []result.ErrorRow {
	if r.Errors != nil {
		return r.Errors
	}
	return result.TabulateErrors(r.Steps)
}

// errorStatus and errorSample write an error table's status and sample
// cells: "–" for no HTTP answer, a sample cut to 120 characters.
func errorStatus(e result.ErrorRow) string {
	if e.Status == 0 {
		return "–"
	}
	return strconv.Itoa(e.Status)
}

func errorSample(e result.ErrorRow) string {
	s := []rune(strings.Join(strings.Fields(e.Sample), " "))
	if len(s) > 120 {
		return string(s[:119]) + "…"
	}
	if len(s) == 0 {
		return "–"
	}
	return string(s)
}

// errorSteps names the steps an error was seen in: "3" or "3–7".
func errorSteps(e result.ErrorRow) string {
	if e.FirstStep == e.LastStep {
		return strconv.Itoa(e.FirstStep)
	}
	return strconv.Itoa(e.FirstStep) + "–" + strconv.Itoa(e.LastStep)
}

// plural writes a count and its noun, singular for one: "1 node",
// "3 nodes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// MaxShownName is the most of a name (an endpoint's path, a scenario's
// name, an error sample) a report shows; result.json keeps it whole.
const MaxShownName = 160

// shortName cuts a name past MaxShownName runes, saying how long it was.
func shortName(s string) string {
	if utf8.RuneCountInString(s) <= MaxShownName {
		return s
	}
	rs := []rune(s)
	return string(rs[:MaxShownName-1]) + "… (" + strconv.Itoa(len(rs)) + " characters)"
}

// forDisplay returns r with every name a report shows cut to
// MaxShownName (a 4 MiB request path made a 21 MB report.html); r itself
// is left whole. r when nothing is too long.
func forDisplay(r *result.Result) *result.Result {
	long := func(s string) bool { return len(s) > MaxShownName }
	need := long(r.Name) || long(r.Reason)
	for _, w := range r.Warnings {
		need = need || long(w)
	}
	for _, e := range r.Errors {
		need = need || long(e.Sample)
	}
	for _, s := range r.Steps {
		for _, ep := range s.Endpoints {
			need = need || long(ep.Name)
		}
		for _, k := range s.ErrorKinds {
			need = need || long(k.Sample)
		}
		for _, w := range s.Warnings {
			need = need || long(w)
		}
	}
	if !need {
		return r
	}
	c := *r
	c.Name, c.Reason = shortName(r.Name), shortName(r.Reason)
	c.Warnings = shortNames(r.Warnings)
	c.Errors = append([]result.ErrorRow(nil), r.Errors...)
	for i := range c.Errors {
		c.Errors[i].Sample = shortName(c.Errors[i].Sample)
	}
	c.Steps = append([]result.Step(nil), r.Steps...)
	for i := range c.Steps {
		s := &c.Steps[i]
		s.Endpoints = append([]result.Endpoint(nil), s.Endpoints...)
		for j := range s.Endpoints {
			s.Endpoints[j].Name = shortName(s.Endpoints[j].Name)
		}
		s.ErrorKinds = append([]result.ErrorKind(nil), s.ErrorKinds...)
		for j := range s.ErrorKinds {
			s.ErrorKinds[j].Sample = shortName(s.ErrorKinds[j].Sample)
		}
		s.Warnings = shortNames(s.Warnings)
	}
	return &c
}

func shortNames(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shortName(s)
	}
	return out
}
