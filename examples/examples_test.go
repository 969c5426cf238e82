package examples_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// workflow is the part of a GitHub Actions workflow the example uses;
// decoding with KnownFields catches a misspelt key.
type workflow struct {
	Name        string
	On          map[string]any `yaml:"on"`
	Permissions map[string]string
	Concurrency map[string]any
	Env         map[string]string
	Jobs        map[string]struct {
		RunsOn         string `yaml:"runs-on"`
		TimeoutMinutes int    `yaml:"timeout-minutes"`
		Steps          []step
	}
}

type step struct {
	Name string
	ID   string
	If   string
	Uses string
	Run  string
	With map[string]any
	Env  map[string]string
	// ContinueOnError lets a step fail without failing the job.
	ContinueOnError bool `yaml:"continue-on-error"`
}

// decodeWorkflow reads a shipped workflow, refusing unknown keys.
func decodeWorkflow(t *testing.T, name string) *workflow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("github-actions", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	var w workflow
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &w
}

func loadWorkflow(t *testing.T) []step {
	t.Helper()
	w := decodeWorkflow(t, "bestbefore.yml")
	if _, ok := w.On["pull_request"]; !ok {
		t.Errorf("the workflow does not run on pull_request: on = %v", w.On)
	}
	if w.Permissions["pull-requests"] != "write" {
		t.Errorf("the workflow cannot comment on pull requests: permissions %v", w.Permissions)
	}
	if len(w.Jobs) != 1 {
		t.Fatalf("want one job, got %d", len(w.Jobs))
	}
	for _, j := range w.Jobs {
		if j.RunsOn == "" || j.TimeoutMinutes == 0 {
			t.Errorf("the job needs runs-on and a timeout: %q, %d min", j.RunsOn, j.TimeoutMinutes)
		}
		return j.Steps
	}
	return nil
}

// flagValue returns the value after flag in a shell command, "" if absent.
func flagValue(cmd, flag string) string {
	f := strings.Fields(strings.ReplaceAll(cmd, "\\\n", " "))
	for i := range f[:max(len(f)-1, 0)] {
		if f[i] == flag {
			return f[i+1]
		}
	}
	return ""
}

func TestGitHubWorkflowGatesWithCompare(t *testing.T) {
	steps := loadWorkflow(t)
	var run, cmp, comment *step
	uses := map[string]bool{}
	for i := range steps {
		s := &steps[i]
		if s.Uses != "" {
			name, ver, ok := strings.Cut(s.Uses, "@")
			if !ok || !strings.HasPrefix(ver, "v") {
				t.Errorf("step %q uses %q: pin actions to a version", s.Name, s.Uses)
			}
			uses[name] = true
		}
		switch {
		case run == nil && strings.Contains(s.Run, "bestbefore run "):
			run = s
		case cmp == nil && strings.Contains(s.Run, "bestbefore compare "):
			cmp = s
		case comment == nil && strings.Contains(s.Run, "gh pr comment"):
			comment = s
		}
	}
	for _, a := range []string{"actions/checkout", "actions/setup-go", "actions/upload-artifact"} {
		if !uses[a] {
			t.Errorf("the workflow does not use %s", a)
		}
	}
	if run == nil || cmp == nil || comment == nil {
		t.Fatalf("want steps that run bestbefore run, bestbefore compare and gh pr comment; got run=%v compare=%v comment=%v", run != nil, cmp != nil, comment != nil)
	}
	out := flagValue(run.Run, "--out")
	if !strings.Contains(run.Run, "--repeat") || out == "" {
		t.Errorf("the run step should repeat the scenario into --out DIR: %q", run.Run)
	}
	if !strings.Contains(cmp.Run, " "+out+" ") {
		t.Errorf("compare does not read the runs the run step wrote (%s): %q", out, cmp.Run)
	}
	md := flagValue(cmp.Run, "--markdown")
	if md == "" {
		t.Fatalf("compare does not write --markdown: %q", cmp.Run)
	}
	if !strings.Contains(cmp.Run, md+` >> "$GITHUB_STEP_SUMMARY"`) {
		t.Errorf("the Markdown %s is not appended to the job summary: %q", md, cmp.Run)
	}
	if got := flagValue(comment.Run, "--body-file"); got != md {
		t.Errorf("the PR comment posts %q, compare writes %q", got, md)
	}
	if flagValue(cmp.Run, "--junit") == "" {
		t.Errorf("compare does not write --junit: %q", cmp.Run)
	}
	// The job must fail on compare's exit code after the comment and upload.
	last := steps[len(steps)-1]
	if cmp.ID == "" || !strings.Contains(last.If, "steps."+cmp.ID+".outputs.code") || !strings.Contains(last.Run, "exit") {
		t.Errorf("the last step should fail the job on compare's exit code (steps.%s.outputs.code): %+v", cmp.ID, last)
	}
	if !strings.Contains(cmp.Run, `echo "code=$code" >> "$GITHUB_OUTPUT"`) {
		t.Errorf("the compare step does not pass its exit code on: %q", cmp.Run)
	}
}

// fakeBestbefore writes a stand-in for the binary: it logs its arguments,
// writes the --markdown file, and exits with FAKE_RUN / FAKE_COMPARE.
func fakeBestbefore(t *testing.T) (bin, log string) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	bin, log = filepath.Join(dir, "bestbefore"), filepath.Join(dir, "calls")
	script := `#!/bin/sh
echo "$@" >> "` + log + `"
cmd=$1
case "$cmd" in
run) echo "rep 1/3 completed"; exit "${FAKE_RUN:-0}" ;;
compare)
	while [ $# -gt 0 ]; do
		if [ "$1" = --markdown ]; then echo "### bestbefore compare: fake verdict" > "$2"; fi
		shift
	done
	echo "text table"
	exit "${FAKE_COMPARE:-0}" ;;
esac
exit 99
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

func TestCIScriptExitsWithComparesCode(t *testing.T) {
	for _, tc := range []struct {
		name             string
		env              []string
		code             int
		compared, strict bool
	}{
		{"pass", []string{"FAKE_COMPARE=0"}, 0, true, false},
		{"regression", []string{"FAKE_COMPARE=1"}, 1, true, false},
		{"bad baseline", []string{"FAKE_COMPARE=2"}, 2, true, false},
		{"strict", []string{"FAKE_COMPARE=0", "STRICT=1"}, 0, true, true},
		{"run failed", []string{"FAKE_RUN=3"}, 3, false, false},
		{"interrupted", []string{"FAKE_RUN=130"}, 130, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, log := fakeBestbefore(t)
			out := filepath.Join(t.TempDir(), "ci")
			cmd := exec.Command("sh", "ci.sh", "s.yaml", "base", out)
			cmd.Env = append(os.Environ(), append(tc.env, "BESTBEFORE="+bin, "REPEAT=2")...)
			stdout, err := cmd.Output()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stdout)
			}
			calls, _ := os.ReadFile(log)
			lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
			if want := "run s.yaml --repeat 2 --out " + out + "/candidate --quiet"; lines[0] != want {
				t.Errorf("first call %q, want %q", lines[0], want)
			}
			if !tc.compared {
				if len(lines) != 1 {
					t.Errorf("compare called after a failed run: %q", lines)
				}
				return
			}
			if len(lines) != 2 || !strings.HasPrefix(lines[1], "compare base "+out+"/candidate --scenario s.yaml") {
				t.Fatalf("calls %q; want run then compare base %s/candidate", lines, out)
			}
			if got := strings.Contains(lines[1], "--strict"); got != tc.strict {
				t.Errorf("--strict passed: %v, want %v (%q)", got, tc.strict, lines[1])
			}
			if !strings.Contains(string(stdout), "fake verdict") || strings.Contains(string(stdout), "text table") {
				t.Errorf("stdout should be the Markdown report only:\n%s", stdout)
			}
		})
	}
}

// The workflows shipped as examples pass actionlint (with shellcheck on
// their scripts), as a user's CI would run them. Under CI a missing
// actionlint fails the test.
func TestWorkflowsPassActionlint(t *testing.T) {
	bin, err := exec.LookPath("actionlint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("actionlint is not installed (go install github.com/rhysd/actionlint/cmd/actionlint); CI must lint the shipped workflows")
		}
		t.Skip("actionlint not installed")
	}
	if _, err := exec.LookPath("shellcheck"); err != nil && os.Getenv("CI") != "" {
		t.Fatal("shellcheck is not installed (Debian shellcheck): actionlint would not check the workflows' scripts")
	}
	files, _ := filepath.Glob(filepath.Join("github-actions", "*.yml"))
	if len(files) < 2 {
		t.Fatalf("workflows: %v", files)
	}
	args := append([]string{"-config-file", filepath.Join("github-actions", "actionlint.yaml")}, files...)
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Errorf("actionlint: %v\n%s", err, out)
	}
}

// docs/distributed.md shows the sharded workflow as it is in its file, so
// what readers copy is what actionlint checked.
func TestDistributedDocShowsTheLintedWorkflow(t *testing.T) {
	wf, err := os.ReadFile(filepath.Join("github-actions", "sharded.yml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "distributed.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(wf)+"```") {
		t.Error("docs/distributed.md does not show examples/github-actions/sharded.yml verbatim")
	}
}

// The history workflow does what the README's CI recipe says: a push to
// main stores its run, a pull request is compared with main's last runs
// and fails on a regression, the weekly run finds change points and plans
// from Prometheus, and the store is kept as an artifact between runs.
func TestHistoryWorkflow(t *testing.T) {
	w := decodeWorkflow(t, "history.yml")
	for _, ev := range []string{"push", "pull_request", "schedule"} {
		if _, ok := w.On[ev]; !ok {
			t.Errorf("the workflow does not run on %s", ev)
		}
	}
	db := w.Env["DB"]
	if db == "" {
		t.Fatal("no DB in the workflow's env")
	}
	find := func(cmd string) *step {
		for _, j := range w.Jobs {
			for i := range j.Steps {
				if strings.Contains(j.Steps[i].Run, cmd) {
					return &j.Steps[i]
				}
			}
		}
		t.Fatalf("no step runs %q", cmd)
		return nil
	}
	for _, c := range []struct{ cmd, event string }{
		{"bestbefore history add reports/run", "github.event_name == 'push'"},
		{"bestbefore compare --baseline-from-history 5 reports/run", "github.event_name == 'pull_request'"},
		{"bestbefore history changes", "github.event_name == 'schedule'"},
		{"bestbefore plan reports/run/result.json --prometheus", "github.event_name == 'schedule'"},
	} {
		s := find(c.cmd)
		if s.If != c.event {
			t.Errorf("%q runs if %q, want %q", c.cmd, s.If, c.event)
		}
		if strings.Contains(c.cmd, "history") || strings.Contains(c.cmd, "baseline-from-history") {
			if !strings.Contains(s.Run, `--db "$DB"`) {
				t.Errorf("%q does not use the store: %q", c.cmd, s.Run)
			}
		}
	}
	var uploadsDB, fetches bool
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			if strings.HasPrefix(s.Uses, "actions/upload-artifact@") && s.With["path"] == db && s.If == "github.event_name != 'pull_request'" {
				uploadsDB = true
			}
			if strings.Contains(s.Run, "gh run download") && strings.Contains(s.Run, "bestbefore-history") {
				fetches = true
			}
		}
		last := j.Steps[len(j.Steps)-1]
		if !strings.Contains(last.If, "steps.gate.outputs.code") || !strings.Contains(last.Run, `exit "$CODE"`) {
			t.Errorf("the last step should fail the job on compare's exit code: %+v", last)
		}
	}
	if !uploadsDB || !fetches {
		t.Errorf("the store must be fetched (%v) and uploaded again by runs on main (%v)", fetches, uploadsDB)
	}
}
