package compare_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"github.com/bestbefore/bestbefore/pkg/compare"
	"github.com/bestbefore/bestbefore/pkg/compare/comparetest"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

var update = flag.Bool("update", false, "rewrite golden files")

// A 16-slot server with a 10 ms median service time: capacity ≈ 1,470 QPS.
var (
	server = comparetest.Server{Slots: 16, ServiceMS: 10, Sigma: 0.4, RunNoise: 0.01, Drift: 0.02}
	plan   = comparetest.Plan{Name: "sim", Rates: []float64{200, 400, 600, 800, 1000, 1200, 1600, 2000}, Intervals: 10, WarmupS: 1, P99MS: 50, ErrorRate: 0.001}
)

func side(label string, runs ...*result.Result) *compare.Side {
	s := &compare.Side{Label: label}
	for i, r := range runs {
		s.Paths = append(s.Paths, filepath.Join(label, "rep-"+string(rune('1'+i)), "result.json"))
		s.Runs = append(s.Runs, r)
	}
	return s
}

func slower(f float64) comparetest.Server {
	s := server
	s.ServiceMS *= f
	return s
}

// simNoise is the noise floor of the simulated machine, measured as the
// gate's default floor is on a real one (compare.MeasureNoise over A/A runs).
var simNoise = sync.OnceValue(func() compare.NoiseFloor {
	var runs []*result.Result
	for i := uint64(0); i < 12; i++ {
		runs = append(runs, comparetest.Run(server, plan, 9000+i))
	}
	n, err := compare.MeasureNoise(runs)
	if err != nil {
		panic(err)
	}
	return n
})

// simConfig is the default configuration with the simulated machine's
// noise floor.
func simConfig() compare.Config {
	cfg := compare.DefaultConfig()
	cfg.Noise = simNoise()
	return cfg
}

// verdicts compares twenty pairs of simulated runs, k runs a side.
func verdicts(t *testing.T, cand comparetest.Server, seed uint64) map[compare.Verdict]int {
	return verdictsK(t, cand, seed, 1)
}

func verdictsK(t *testing.T, cand comparetest.Server, seed uint64, k int) map[compare.Verdict]int {
	t.Helper()
	counts := map[compare.Verdict]int{}
	for i := uint64(0); i < 20; i++ {
		var a, b []*result.Result
		for j := uint64(0); j < uint64(k); j++ {
			a = append(a, comparetest.Run(server, plan, seed+100*j+i))
			b = append(b, comparetest.Run(cand, plan, seed+1000+100*j+i))
		}
		rep, err := compare.Compare(side("base", a...), side("cand", b...), simConfig())
		if err != nil {
			t.Fatal(err)
		}
		counts[rep.Verdict]++
	}
	return counts
}

func TestCompare_sameServerRarelyRegresses(t *testing.T) {
	t.Parallel()
	got := verdicts(t, server, 100)
	t.Logf("A/A: %v", got)
	if got[compare.Regression] > 1 {
		t.Errorf("A/A comparisons flagged %d regressions out of 20, want at most 1 (%v)", got[compare.Regression], got)
	}
}

func TestCompare_twentyPercentSlowerIsRegression(t *testing.T) {
	t.Parallel()
	got := verdicts(t, slower(1.2), 200)
	t.Logf("+20%% service time: %v", got)
	if got[compare.Regression] < 19 {
		t.Errorf("a 20%% longer service time was flagged %d times out of 20, want at least 19 (%v)", got[compare.Regression], got)
	}
}

// A 3% change under a 10% threshold is never a regression. One run a
// side cannot rule out 10% on this machine (its noise floor and the
// family of gates make the interval wider than the margin): inconclusive,
// saying so. Five runs a side narrow it enough to pass.
func TestCompare_threePercentWithinThresholdPasses(t *testing.T) {
	t.Parallel()
	t.Logf("simulated noise floor %+v", simNoise())
	one := verdicts(t, slower(1.03), 300)
	five := verdictsK(t, slower(1.03), 300, 5)
	t.Logf("+3%% service time, 1 run a side: %v; 5 runs a side: %v", one, five)
	if one[compare.Regression]+five[compare.Regression] > 1 {
		t.Errorf("a 3%% change under a 10%% threshold was flagged %d times, want at most 1", one[compare.Regression]+five[compare.Regression])
	}
	if five[compare.Pass] < 14 {
		t.Errorf("a 3%% change under a 10%% threshold passed %d times out of 20 with 5 runs a side, want most (%v)", five[compare.Pass], five)
	}
}

func TestCompare_repeatedRunsTestBestBefore(t *testing.T) {
	t.Parallel()
	var base, cand []*result.Result
	for i := uint64(0); i < 5; i++ {
		base = append(base, comparetest.Run(server, plan, 400+i))
		cand = append(cand, comparetest.Run(slower(1.5), plan, 500+i))
	}
	rep, err := compare.Compare(side("base", base...), side("cand", cand...), simConfig())
	if err != nil {
		t.Fatal(err)
	}
	bb := gate(t, rep, "overall/best_before")
	if !strings.Contains(bb.Method, "Mann–Whitney") {
		t.Errorf("best-before with 5 runs a side judged by %q, want a rank test over runs", bb.Method)
	}
	if bb.Verdict != compare.Regression {
		t.Errorf("best-before verdict %s (change %v [%v, %v], p %v), want regression", bb.Verdict, bb.Change, bb.Lo, bb.Hi, bb.PAdj)
	}
	if float64(bb.Base.Value) <= float64(bb.Cand.Value) {
		t.Errorf("best-before baseline %v not above candidate %v", bb.Base.Value, bb.Cand.Value)
	}
}

func TestCompare_singleRunBestBeforeUsesStepEvidence(t *testing.T) {
	t.Parallel()
	a := comparetest.Run(server, plan, 7)
	b := comparetest.Run(slower(1.3), plan, 8)
	rep, err := compare.Compare(side("base", a), side("cand", b), simConfig())
	if err != nil {
		t.Fatal(err)
	}
	bb := gate(t, rep, "overall/best_before")
	if a.BestBefore.QPS <= b.BestBefore.QPS*1.1 {
		t.Fatalf("simulation did not lower the best-before: %v → %v", a.BestBefore.QPS, b.BestBefore.QPS)
	}
	if bb.Verdict != compare.Regression || !strings.Contains(bb.Note, "step/") {
		t.Errorf("best-before %s (%q), want a regression confirmed by named steps", bb.Verdict, bb.Note)
	}
	if !math.IsNaN(float64(bb.P)) {
		t.Errorf("single-run best-before has p-value %v; there is nothing to test", bb.P)
	}
}

func TestCompare_errorRateRegression(t *testing.T) {
	t.Parallel()
	bad := server
	bad.ErrorRate = 0.02
	a := comparetest.Run(server, plan, 11)
	b := comparetest.Run(bad, plan, 12)
	rep, err := compare.Compare(side("base", a), side("cand", b), compare.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	g := gate(t, rep, "overall/error_rate")
	if g.Verdict != compare.Regression {
		t.Errorf("2%% errors against 0%%: verdict %s (change %v [%v, %v]), want regression", g.Verdict, g.Change, g.Lo, g.Hi)
	}
	if c := float64(g.Change); c < 0.01 || c > 0.03 {
		t.Errorf("error-rate change %v, want about +0.02", c)
	}
}

func TestCompare_thresholdsAreConfigurable(t *testing.T) {
	t.Parallel()
	a := comparetest.Run(server, plan, 21)
	b := comparetest.Run(slower(1.2), plan, 22)
	cfg := compare.DefaultConfig()
	loose := 1.0
	cfg.MaxP99Increase = &loose
	cfg.MaxBestBeforeDrop = nil
	rep, err := compare.Compare(side("base", a), side("cand", b), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != compare.Pass {
		t.Errorf("with p99 allowed +100%% and best-before ungated, verdict %s (%v), want pass", rep.Verdict, rep.Regressions())
	}
	if g := gate(t, rep, "overall/best_before"); g.Verdict != compare.Info {
		t.Errorf("ungated best-before verdict %s, want info", g.Verdict)
	}
	cfg.Alpha = 0
	if _, err := compare.Compare(side("base", a), side("cand", b), cfg); err == nil {
		t.Error("alpha 0 accepted")
	}
}

func gate(t *testing.T, rep *compare.Report, id string) compare.Gate {
	t.Helper()
	for _, g := range rep.Gates {
		if g.ID == id {
			return g
		}
	}
	t.Fatalf("no gate %s in report", id)
	return compare.Gate{}
}

// goldenReport is a small, fixed comparison: three steps, a regression.
func goldenReport(t *testing.T) *compare.Report {
	t.Helper()
	p := plan
	p.Rates = []float64{400, 800, 1200, 2000}
	p.Intervals = 8
	a := comparetest.Run(server, p, 1)
	b := comparetest.Run(slower(1.25), p, 2)
	rep, err := compare.Compare(side("base", a), side("cand", b), compare.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", name, got)
	}
}

func TestReport_Markdown(t *testing.T) {
	rep := goldenReport(t)
	var buf bytes.Buffer
	if err := rep.Markdown(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.md", buf.Bytes())
	for _, want := range []string{"| gate |", "regression", "best-before QPS", "Holm–Bonferroni"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Tests    int         `xml:"tests,attr"`
	Errors   *int        `xml:"errors,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name    string `xml:"name,attr"`
	Failure *struct {
		Message string `xml:"message,attr"`
	} `xml:"failure"`
	Skipped *struct{} `xml:"skipped"`
}

func TestReport_JUnit(t *testing.T) {
	rep := goldenReport(t)
	var buf bytes.Buffer
	if err := rep.JUnit(&buf, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.xml", buf.Bytes())

	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit output does not parse: %v", err)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d testsuites, want 1", len(doc.Suites))
	}
	s := doc.Suites[0]
	failures, skipped := 0, 0
	for _, c := range s.Cases {
		if c.Failure != nil {
			failures++
			if c.Failure.Message == "" {
				t.Errorf("failure of %s has no message", c.Name)
			}
		}
		if c.Skipped != nil {
			skipped++
		}
	}
	if len(s.Cases) != len(rep.Gates) || s.Tests != len(rep.Gates) || doc.Tests != len(rep.Gates) {
		t.Errorf("%d testcases, tests=%d/%d, want one per gate (%d)", len(s.Cases), s.Tests, doc.Tests, len(rep.Gates))
	}
	if failures != len(rep.Regressions()) || s.Failures != failures || doc.Failures != failures {
		t.Errorf("%d failures (attr %d/%d), want %d regressions", failures, s.Failures, doc.Failures, len(rep.Regressions()))
	}
	if failures == 0 {
		t.Error("the golden comparison should hold a regression")
	}
	if skipped != len(rep.Inconclusive()) || s.Skipped != skipped {
		t.Errorf("%d skipped (attr %d), want %d inconclusive", skipped, s.Skipped, len(rep.Inconclusive()))
	}
}

func TestReport_JSONAndText(t *testing.T) {
	rep := goldenReport(t)
	var js, txt bytes.Buffer
	if err := rep.JSON(&js); err != nil {
		t.Fatal(err)
	}
	var back compare.Report
	if err := jsonUnmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON output does not parse: %v", err)
	}
	if back.Verdict != rep.Verdict || len(back.Gates) != len(rep.Gates) {
		t.Errorf("JSON round trip: verdict %s, %d gates; want %s, %d", back.Verdict, len(back.Gates), rep.Verdict, len(rep.Gates))
	}
	if err := rep.Text(&txt); err != nil {
		t.Fatal(err)
	}
	out := txt.String()
	if !strings.Contains(out, "→") || !strings.Contains(out, "verdict: REGRESSION") {
		t.Errorf("text output lacks the benchstat-style rows or the verdict:\n%s", out)
	}
}

func writeJSON(t *testing.T, path string, r *result.Result) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := result.Write(path, r); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	r := comparetest.Run(server, plan, 3)
	writeJSON(t, filepath.Join(dir, "reps", "rep-01", "result.json"), r)
	writeJSON(t, filepath.Join(dir, "reps", "rep-02", "result.json"), r)
	writeJSON(t, filepath.Join(dir, "flat", "a.json"), r)
	writeJSON(t, filepath.Join(dir, "one.json"), r)
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "corrupt.json"), []byte(`{"schema": "bestbefore.result/v1", "steps": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	ab := &result.Result{Schema: result.SchemaV1, Name: "sim", Status: result.StatusCompleted, Manifest: result.Manifest{Tool: "bestbefore", CPUs: 1}, Steps: []result.Step{}, BestBefore: result.BestBefore{Step: -1}, Sides: map[string]*result.Result{"baseline": r, "candidate": r}}
	writeJSON(t, filepath.Join(dir, "ab.json"), ab)

	for _, c := range []struct {
		path string
		runs int
	}{{"reps", 2}, {"flat", 1}, {"one.json", 1}} {
		s, err := compare.Load(filepath.Join(dir, c.path))
		if err != nil {
			t.Errorf("Load(%s): %v", c.path, err)
			continue
		}
		if len(s.Runs) != c.runs {
			t.Errorf("Load(%s): %d runs, want %d", c.path, len(s.Runs), c.runs)
		}
	}
	for _, c := range []struct{ path, want string }{
		{"empty", "no results"},
		{"missing.json", "cannot read"},
		{"corrupt.json", "corrupt"},
		{"ab.json", "A/B"},
	} {
		_, err := compare.Load(filepath.Join(dir, c.path))
		var ie *compare.InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("Load(%s) = %v, want an InputError naming the file and saying %q", c.path, err, c.want)
		}
	}
	b, c, err := compare.LoadAB(filepath.Join(dir, "ab.json"))
	if err != nil || len(b.Runs) != 1 || len(c.Runs) != 1 {
		t.Errorf("LoadAB: %v", err)
	}
	if _, _, err := compare.LoadAB(filepath.Join(dir, "one.json")); err == nil || !strings.Contains(err.Error(), "not a live A/B result") {
		t.Errorf("LoadAB of a plain result: %v", err)
	}
}

func TestCompare_mismatchedInputs(t *testing.T) {
	a := comparetest.Run(server, plan, 5)
	other := plan
	other.Name = "other"
	b := comparetest.Run(server, other, 6)
	_, err := compare.Compare(side("base", a), side("cand", b), compare.DefaultConfig())
	var ie *compare.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), `"other"`) {
		t.Errorf("different scenarios: %v, want an InputError naming both", err)
	}
	shifted := plan
	shifted.Rates = []float64{300, 500, 700}
	c := comparetest.Run(server, shifted, 7)
	_, err = compare.Compare(side("base", a), side("cand", c), compare.DefaultConfig())
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "no common steps") {
		t.Errorf("disjoint step plans: %v, want an InputError about common steps", err)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// inconclusiveReport is the golden report with its regressions made
// passes and one overall gate inconclusive: compare exits 0, or 1 with
// --strict.
func inconclusiveReport(t *testing.T) *compare.Report {
	rep := *goldenReport(t)
	rep.Gates = append([]compare.Gate(nil), rep.Gates...)
	for i := range rep.Gates {
		if rep.Gates[i].Verdict != compare.Pass {
			rep.Gates[i].Verdict = compare.Pass
		}
	}
	for i := range rep.Gates {
		if rep.Gates[i].Scope == "overall" {
			rep.Gates[i].Verdict = compare.Inconclusive
			break
		}
	}
	rep.Verdict = compare.Inconclusive
	return &rep
}

// With --strict an inconclusive comparison fails the job, so the JUnit
// file must show a failure: a CI test view may not be green for a red job.
func TestJUnitStrictShowsWhatFailsTheJob(t *testing.T) {
	rep := inconclusiveReport(t)
	for _, strict := range []bool{false, true} {
		var buf bytes.Buffer
		if err := rep.JUnit(&buf, strict); err != nil {
			t.Fatal(err)
		}
		var doc junitSuites
		if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		s := doc.Suites[0]
		if strict && (doc.Failures == 0 || s.Failures == 0 || s.Skipped != 0) {
			t.Errorf("--strict: failures %d/%d, skipped %d; an inconclusive gate fails the job and must be a <failure>", doc.Failures, s.Failures, s.Skipped)
		}
		if !strict && (doc.Failures != 0 || s.Skipped == 0) {
			t.Errorf("without --strict: failures %d, skipped %d; an inconclusive gate passes the job, as <skipped>", doc.Failures, s.Skipped)
		}
		if s.Errors == nil {
			t.Error("testsuite has no errors attribute (junit-10.xsd requires it)")
		}
	}
}

// Jenkins' xunit junit-10.xsd, the strictest JUnit reader in common use,
// accepts what compare --junit writes, with and without --strict, with
// regressions and with inconclusive gates. xmllint (Debian libxml2-utils)
// does the validating; CI installs it.
func TestJUnitValidAgainstJenkinsXSD(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("xmllint is not installed (Debian libxml2-utils); CI must validate the JUnit output")
		}
		t.Skip("xmllint not installed (Debian libxml2-utils)")
	}
	dir := t.TempDir()
	for name, rep := range map[string]*compare.Report{"regression": goldenReport(t), "inconclusive": inconclusiveReport(t)} {
		for _, strict := range []bool{false, true} {
			var buf bytes.Buffer
			if err := rep.JUnit(&buf, strict); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, fmt.Sprintf("%s-%v.xml", name, strict))
			os.WriteFile(path, buf.Bytes(), 0o644)
			out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "junit-10.xsd"), path).CombinedOutput()
			if err != nil {
				t.Errorf("%s, strict=%v: junit-10.xsd rejects the output: %v\n%s\n%s", name, strict, err, out, buf.String())
			}
		}
	}
}

// A 2.3× slower service on short steps (three 2 s steps, one run a side):
// too few intervals for a rank test of intervals to reach significance,
// but each step holds hundreds of requests, and the gate uses them.
func TestCompare_twoTimesSlowerOnShortStepsIsRegression(t *testing.T) {
	t.Parallel()
	short := comparetest.Plan{Name: "short", Rates: []float64{150, 300, 450}, Intervals: 2, WarmupS: 1, P99MS: 100, ErrorRate: 0.001}
	regressions := 0
	for i := uint64(0); i < 20; i++ {
		a := comparetest.Run(server, short, 600+i)
		b := comparetest.Run(slower(2.3), short, 700+i)
		rep, err := compare.Compare(side("base", a), side("cand", b), simConfig())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict == compare.Regression {
			regressions++
		} else if i == 0 {
			var buf bytes.Buffer
			rep.Text(&buf)
			t.Logf("not a regression:\n%s", buf.String())
		}
	}
	if regressions < 20 {
		t.Errorf("a 2.3× slower service on 2 s steps was a regression %d times out of 20, want 20", regressions)
	}
}

// A gate the run cannot resolve does not decide the verdict: 0 errors
// against 0 on short single runs says what rise it would have seen and
// leaves the verdict to the latency and best-before gates, so identical
// sides pass and a 20% slower one is a regression, not "inconclusive
// (error rate)".
func TestCompare_unresolvedGateLeavesTheVerdictToTheOthers(t *testing.T) {
	t.Parallel()
	short := plan
	short.Rates, short.Intervals = []float64{100, 200, 300}, 3 // 1,800 requests, as three 3 s steps
	for name, tc := range map[string]struct {
		cand comparetest.Server
		want compare.Verdict
	}{"identical": {server, compare.Pass}, "20% slower": {slower(1.2), compare.Regression}} {
		rep, err := compare.Compare(side("base", comparetest.Run(server, short, 71)), side("cand", comparetest.Run(tc.cand, short, 72)), simConfig())
		if err != nil {
			t.Fatal(err)
		}
		er := gate(t, rep, "overall/error_rate")
		t.Logf("%s: verdict %s; error rate %s (%s)", name, rep.Verdict, er.Verdict, er.Note)
		if !er.Unresolved || !strings.Contains(er.Note, "only a rise beyond") || !strings.Contains(er.Note, "0% → 0%") {
			t.Errorf("%s: error-rate gate %+v, want unresolved, saying what it could see", name, er)
		}
		if rep.Verdict != tc.want {
			t.Errorf("%s: verdict %s, want %s", name, rep.Verdict, tc.want)
		}
	}
}

// Sides measured on different machines are compared with the difference
// said first, in the JSON and in every text a user reads; asked to, the
// gate refuses them.
func TestCompareSaysWhenTheMachinesDiffer(t *testing.T) {
	on := func(r *result.Result, cpu string, cores int) *result.Result {
		r.Manifest.CPUModel, r.Manifest.CPUs = cpu, cores
		return r
	}
	base := side("base", on(comparetest.Run(server, plan, 1), "AMD EPYC 7B13", 2), on(comparetest.Run(server, plan, 2), "AMD EPYC 7B13", 2))
	cand := side("cand", on(comparetest.Run(server, plan, 3), "Intel Xeon Platinum 8375C", 4))
	rep, err := compare.Compare(base, cand, compare.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if rep.SameMachine || len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "different machines (baseline: AMD EPYC 7B13 ×2; candidate: Intel Xeon Platinum 8375C ×4)") {
		t.Errorf("same_machine %v, notes %q", rep.SameMachine, rep.Notes)
	}
	var md, txt bytes.Buffer
	rep.Markdown(&md)
	rep.Text(&txt)
	for name, doc := range map[string]string{"markdown": md.String(), "text": txt.String()} {
		if !strings.Contains(doc, "different machines") {
			t.Errorf("the %s report does not say the machines differ", name)
		}
	}
	cfg := compare.DefaultConfig()
	cfg.RequireSameMachine = true
	var ie *compare.InputError
	if _, err := compare.Compare(base, cand, cfg); !errors.As(err, &ie) || !strings.Contains(err.Error(), "--require-same-machine") {
		t.Errorf("--require-same-machine: err %v, want an input error", err)
	}
	// One machine on both sides: nothing to say, nothing refused.
	cand = side("cand", on(comparetest.Run(server, plan, 3), "AMD EPYC 7B13", 2))
	rep, err = compare.Compare(base, cand, cfg)
	if err != nil || !rep.SameMachine {
		t.Fatalf("same machine: err %v, report %+v", err, rep)
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "different machines") {
			t.Errorf("a note says one machine differs from itself: %s", n)
		}
	}
}

// A scenario name with a backtick cannot break out into the pull-request
// comment: rendered as GitHub does, the Markdown report holds no image,
// link, HTML or code span, however the name is made.
func TestMarkdownReportKeepsNamesText(t *testing.T) {
	name := "a`![x](http://evil/x.png)` <img src=x> [y](javascript:alert(1))"
	a, b := comparetest.Run(server, plan, 1), comparetest.Run(server, plan, 2)
	a.Name, b.Name = name, name
	rep, err := compare.Compare(side("base`![i](http://e/i.png)`", a), side("cand", b), compare.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	rep.Markdown(&md)
	src := md.Bytes()
	doc := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser().Parse(text.NewReader(src))
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		switch n.Kind() {
		case ast.KindImage, ast.KindLink, ast.KindAutoLink, ast.KindRawHTML, ast.KindHTMLBlock, ast.KindCodeSpan:
			if entering {
				t.Errorf("the Markdown report holds a %s: %q", n.Kind(), nodeText(n, src))
			}
		}
		return ast.WalkContinue, nil
	})
}

// nodeText is the text a Markdown node shows.
func nodeText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering {
			b.Write(t.Segment.Value(src))
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// withStreams gives every step of r a stream whose time to first token
// is about ttftMS (lognormal, seeded) and whose gaps are 10 ms.
func withStreams(t *testing.T, r *result.Result, ttftMS float64, seed uint64) *result.Result {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range r.Steps {
		ttft, itl := stats.New(), stats.New()
		for j := 0; j < 500; j++ {
			_ = ttft.RecordValue(int64(ttftMS * 1000 * math.Exp(0.3*rng.NormFloat64())))
			_ = itl.RecordValue(int64(10000 * math.Exp(0.1*rng.NormFloat64())))
		}
		s := &result.Stream{Responses: 500, OutputTokens: 16000, TokensFrom: "usage", TTFTMS: result.Summarize(ttft), ITLMS: result.Summarize(itl)}
		s.TTFTHistogram, _ = stats.Encode(ttft)
		s.ITLHistogram, _ = stats.Encode(itl)
		r.Steps[i].Stream = s
	}
	return r
}

// When both sides streamed, the time to first token and between tokens
// are compared as the latency percentiles are: shown by default, gated
// with a threshold (a 50% slower first token is a regression, gaps
// unchanged are not); when one side did not stream there is nothing to
// compare them with, and no such gate appears.
func TestCompare_streamGates(t *testing.T) {
	base := withStreams(t, comparetest.Run(server, plan, 4100), 20, 1)
	cand := withStreams(t, comparetest.Run(server, plan, 4101), 30, 2)
	cfg := simConfig()
	rep, err := compare.Compare(side("base", base), side("cand", cand), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if g := gate(t, rep, "overall/ttft_p99"); g.Verdict != compare.Info || g.Change < 0.3 {
		t.Errorf("TTFT p99 without a threshold: %s, change %+.1f%%", g.Verdict, 100*float64(g.Change))
	}
	th := 0.1
	cfg.MaxTTFTP99Increase, cfg.MaxITLP99Increase = &th, &th
	rep, err = compare.Compare(side("base", base), side("cand", cand), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if g := gate(t, rep, "overall/ttft_p99"); g.Verdict != compare.Regression {
		t.Errorf("TTFT p99 +50%% against +10%%: %s (change %+.1f%%)", g.Verdict, 100*float64(g.Change))
	}
	if g := gate(t, rep, "overall/itl_p99"); g.Verdict == compare.Regression {
		t.Errorf("ITL unchanged: %s", g.Verdict)
	}
	if rep.Verdict != compare.Regression {
		t.Errorf("verdict %s", rep.Verdict)
	}
	plain := comparetest.Run(server, plan, 4102)
	rep, err = compare.Compare(side("base", base), side("cand", plain), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rep.Gates {
		if g.Metric == compare.MetricTTFTP99 || g.Metric == compare.MetricITLP99 {
			t.Errorf("a side that did not stream has a %s gate", g.ID)
		}
	}
}
