package compare_test

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdCompare "github.com/bestbefore/bestbefore/cmd/compare"
	"github.com/bestbefore/bestbefore/pkg/compare/comparetest"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/result"
)

var (
	server = comparetest.Server{Slots: 16, ServiceMS: 10, Sigma: 0.4, RunNoise: 0.01, Drift: 0.02}
	plan   = comparetest.Plan{Name: "sim", Rates: []float64{400, 800, 1200, 2000}, Intervals: 8, WarmupS: 1, P99MS: 50, ErrorRate: 0.001}
)

func write(t *testing.T, path string, r *result.Result) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := result.Write(path, r); err != nil {
		t.Fatal(err)
	}
	return path
}

// run executes `compare args...` and returns the exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	cmd := cmdCompare.NewCmdCompare(&cmdutil.Factory{IOStreams: ios}, nil)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.Execute()
	if err != nil {
		errOut.WriteString(err.Error())
	}
	code := cmdutil.CodeOf(err)
	if err != nil && strings.Contains(err.Error(), "arg(s)") {
		code = cmdutil.ExitBadInput
	}
	return code, out.String(), errOut.String()
}

func TestCompare_regressionExitsOneAndWritesReports(t *testing.T) {
	dir := t.TempDir()
	slow := server
	slow.ServiceMS *= 1.3
	base := write(t, filepath.Join(dir, "base.json"), comparetest.Run(server, plan, 1))
	cand := write(t, filepath.Join(dir, "cand.json"), comparetest.Run(slow, plan, 2))
	md, junit := filepath.Join(dir, "out.md"), filepath.Join(dir, "out.xml")
	code, out, errOut := run(t, base, cand, "--markdown", md, "--junit", junit)
	if code != cmdutil.ExitGate {
		t.Fatalf("exit %d, want 1 (regression); stderr: %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "REGRESSION") || !strings.Contains(out, "p99 (geomean)") {
		t.Errorf("stdout lacks the verdict table:\n%s", out)
	}
	b, err := os.ReadFile(md)
	if err != nil || !strings.Contains(string(b), "| gate |") {
		t.Errorf("markdown file: %v\n%s", err, b)
	}
	x, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(x, &doc); err != nil || doc.Failures == 0 {
		t.Errorf("junit file: %v, failures=%d", err, doc.Failures)
	}
}

func TestCompare_sameRunPassesAndJSON(t *testing.T) {
	dir := t.TempDir()
	r := comparetest.Run(server, plan, 3)
	base := write(t, filepath.Join(dir, "base", "rep-01", "result.json"), r)
	write(t, filepath.Join(dir, "base", "rep-02", "result.json"), comparetest.Run(server, plan, 4))
	cand := write(t, filepath.Join(dir, "cand.json"), r)
	code, out, errOut := run(t, filepath.Dir(filepath.Dir(base)), cand, "--json")
	if code != 0 {
		t.Fatalf("exit %d comparing a run with itself, want 0; stderr: %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, `"verdict": "pass"`) || !strings.Contains(out, `"runs": 2`) {
		t.Errorf("JSON output lacks the pass verdict or the 2 baseline runs:\n%.600s", out)
	}
}

func TestCompare_abResultWithOneArgument(t *testing.T) {
	dir := t.TempDir()
	ab := &result.Result{Schema: result.SchemaV1, Name: "sim", Status: result.StatusCompleted, Manifest: result.Manifest{Tool: "bestbefore", CPUs: 1}, Steps: []result.Step{}, BestBefore: result.BestBefore{Step: -1}, Sides: map[string]*result.Result{
		"baseline":  comparetest.Run(server, plan, 5),
		"candidate": comparetest.Run(server, plan, 6),
	}}
	path := write(t, filepath.Join(dir, "ab.json"), ab)
	code, out, errOut := run(t, path)
	if code != 0 || !strings.Contains(out, "#baseline") {
		t.Errorf("exit %d, want 0 with the A/B sides named; stderr: %s\n%s", code, errOut, out)
	}
}

func TestCompare_badInputExitsTwo(t *testing.T) {
	dir := t.TempDir()
	good := write(t, filepath.Join(dir, "good.json"), comparetest.Run(server, plan, 7))
	other := plan
	other.Name = "checkout"
	renamed := write(t, filepath.Join(dir, "renamed.json"), comparetest.Run(server, other, 8))
	shifted := plan
	shifted.Rates = []float64{300, 500}
	disjoint := write(t, filepath.Join(dir, "disjoint.json"), comparetest.Run(server, shifted, 9))
	corrupt := filepath.Join(dir, "corrupt.json")
	os.WriteFile(corrupt, []byte("{not json"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	badScenario := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badScenario, []byte("name: x\ntarget: {url: http://127.0.0.1:1}\ntraffic: {file: t.ndjson}\nload: {start_qps: 10, max_qps: 20}\ngate:\n  max_p99_incraese: 10%\n"), 0o644)

	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"different scenarios", []string{good, renamed}, []string{"renamed.json", `"checkout"`}},
		{"no common steps", []string{good, disjoint}, []string{"no common steps", "disjoint.json"}},
		{"corrupt", []string{good, corrupt}, []string{"corrupt.json", "corrupt result"}},
		{"missing", []string{filepath.Join(dir, "nope.json"), good}, []string{"nope.json"}},
		{"empty directory", []string{empty, good}, []string{"empty", "no results"}},
		{"plain result alone", []string{good}, []string{"good.json", "not a live A/B result"}},
		{"bad threshold", []string{good, good, "--max-p99-increase", "ten"}, []string{"--max-p99-increase"}},
		{"bad alpha", []string{good, good, "--alpha", "2"}, []string{"alpha"}},
		{"bad scenario gate", []string{good, good, "--scenario", badScenario}, []string{"bad.yaml:6", "max_p99_incraese"}},
		{"too many args", []string{good, good, good}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := run(t, c.args...)
			if code != cmdutil.ExitBadInput {
				t.Errorf("exit %d, want 2; stderr: %s", code, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("message %q does not mention %q", errOut, w)
				}
			}
		})
	}
}

func TestCompare_scenarioGateAndFlagPrecedence(t *testing.T) {
	dir := t.TempDir()
	slow := server
	slow.ServiceMS *= 1.2 // below capacity at every gated step: p99 grows, but not 500%
	base := write(t, filepath.Join(dir, "base.json"), comparetest.Run(server, plan, 10))
	cand := write(t, filepath.Join(dir, "cand.json"), comparetest.Run(slow, plan, 11))
	sc := filepath.Join(dir, "ci.yaml")
	os.WriteFile(sc, []byte("name: sim\ntarget: {url: http://127.0.0.1:1}\ntraffic: {file: t.ndjson}\nload: {start_qps: 10, max_qps: 20}\ngate:\n  max_p99_increase: 500%\n  max_best_before_drop: 90%\n  alpha: 0.01\n"), 0o644)
	code, out, errOut := run(t, base, cand, "--scenario", sc)
	if code != 0 {
		t.Errorf("with the scenario's loose gate: exit %d, want 0; %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "α = 0.01") {
		t.Errorf("the scenario's alpha was not used:\n%.300s", out)
	}
	code, _, errOut = run(t, base, cand, "--scenario", sc, "--max-p99-increase", "10%")
	if code != cmdutil.ExitGate {
		t.Errorf("a flag should override the scenario's gate: exit %d, want 1; %s", code, errOut)
	}
}

func TestCompare_strictFailsInconclusive(t *testing.T) {
	dir := t.TempDir()
	// One interval a step: too little data to bound any change.
	p := plan
	p.Intervals = 1
	base := write(t, filepath.Join(dir, "base.json"), comparetest.Run(server, p, 12))
	cand := write(t, filepath.Join(dir, "cand.json"), comparetest.Run(server, p, 13))
	// p99.9 gated at +5%: these runs measure +8%, not significantly, so
	// that gate can neither pass nor call a regression (a gate whose
	// estimate lies within a threshold it cannot resolve steps aside,
	// ADR 31, so the p99 gate alone would let the verdict pass).
	code, out, _ := run(t, base, cand, "--max-p999-increase", "5%")
	if code != 0 || !strings.Contains(out, "INCONCLUSIVE") {
		t.Fatalf("exit %d, want 0 and an inconclusive verdict:\n%s", code, out)
	}
	if code, _, _ := run(t, base, cand, "--max-p999-increase", "5%", "--strict"); code != cmdutil.ExitGate {
		t.Errorf("--strict on an inconclusive verdict: exit %d, want 1", code)
	}
}

// The committed CI baseline's first run against its second (one run a
// side, the default 10% threshold): the p99 gate cannot resolve 10% on one
// run a side, and says what it could see and what would decide it, on the
// terminal, in the Markdown and in the JUnit file; it steps aside, and the
// gates that can decide (best-before, error rate) pass the pair (ADR 31).
func TestCompare_aaOnOneRunSaysWhatItCanDetect(t *testing.T) {
	dir := t.TempDir()
	md, junit := filepath.Join(dir, "gate.md"), filepath.Join(dir, "gate.xml")
	base, cand := "../../reports/baseline/rep-01/result.json", "../../reports/baseline/rep-02/result.json"
	code, out, errOut := run(t, base, cand, "--markdown", md, "--junit", junit)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "verdict: PASS") {
		t.Fatalf("the same service one run a side: want pass, the unresolved p99 gate stepping aside\n%s", out)
	}
	for name, text := range map[string]string{"stdout": out, "gate.md": readFile(t, md), "gate.xml": readFile(t, junit)} {
		for _, w := range []string{"p99 (geomean)", "cannot resolve +10.0%", "only a rise beyond +", "to decide at +10.0%:", "runs on each side"} {
			if !strings.Contains(text, w) {
				t.Errorf("%s does not say %q", name, w)
			}
		}
	}
	if !strings.Contains(out, "noise floor p50 2%, p99 3%, p99.9 5% (measured on a shared 2-core machine") {
		t.Errorf("the noise floor assumed is not stated:\n%s", out)
	}
	// With a noise floor given for faster machines, the interval narrows.
	_, out2, _ := run(t, base, cand, "--noise-floor", "1%")
	if !strings.Contains(out2, "p99 1%, ") || !strings.Contains(out2, "(given with --noise-floor)") {
		t.Errorf("--noise-floor 1%% not used:\n%s", out2)
	}
	if code, _, errOut := run(t, base, cand, "--noise-floor", "0"); code != cmdutil.ExitBadInput {
		t.Errorf("--noise-floor 0: exit %d (%s), want 2", code, errOut)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
