package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fake writes a stand-in for the bestbefore binary: it logs its arguments;
// `run` writes OUT/rep-01/result.json and report.html and exits FAKE_RUN;
// `compare` writes its --markdown and --junit files and exits FAKE_COMPARE.
func fake(t *testing.T) (bin, log string) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	bin, log = filepath.Join(dir, "bestbefore"), filepath.Join(dir, "calls")
	script := `#!/bin/sh
echo "$@" >> "` + log + `"
cmd=$1
while [ $# -gt 0 ]; do
	case "$1" in
	--out) mkdir -p "$2/rep-01"; echo '{}' > "$2/rep-01/result.json"; echo html > "$2/rep-01/report.html" ;;
	--markdown) echo "### fake verdict" > "$2" ;;
	--junit) echo "<testsuites/>" > "$2" ;;
	esac
	shift
done
case "$cmd" in
run) exit "${FAKE_RUN:-0}" ;;
compare) exit "${FAKE_COMPARE:-0}" ;;
esac
exit 99
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

func gate(t *testing.T, env []string, args ...string) (code int, stderr string) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"ci-gate.sh"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var errb strings.Builder
	cmd.Stderr = &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, errb.String()
}

func readCalls(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func baselineDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "baseline")
	if err := os.MkdirAll(filepath.Join(dir, "rep-01"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rep-01", "result.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGateExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      []string
		args     []string
		code     int
		compared bool
	}{
		{"pass or inconclusive", []string{"FAKE_COMPARE=0"}, nil, 0, true},
		{"regression", []string{"FAKE_COMPARE=1"}, nil, 1, true},
		{"corrupt baseline", []string{"FAKE_COMPARE=2"}, nil, 2, true},
		{"run could not be carried out", []string{"FAKE_RUN=3"}, nil, 3, false},
		{"interrupted", []string{"FAKE_RUN=130"}, nil, 130, false},
		{"slower candidate", []string{"FAKE_COMPARE=1"}, []string{"--set", "target.bundled.lookup=30ms"}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, log := fake(t)
			base, out := baselineDir(t), filepath.Join(t.TempDir(), "gate")
			env := append(tc.env, "BESTBEFORE_BIN="+bin, "GATE_BASELINE="+base, "GATE_OUT="+out, "GATE_REPEAT=2")
			code, stderr := gate(t, env, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
			calls := readCalls(t, log)
			wantRun := "run scenarios/ci.yaml --repeat 2 --out " + out + "/candidate --quiet --set monitor.max_send_lag=20ms"
			if len(tc.args) > 0 {
				wantRun += " " + strings.Join(tc.args, " ")
			}
			if len(calls) == 0 || calls[0] != wantRun {
				t.Fatalf("calls %q, want first %q", calls, wantRun)
			}
			if !tc.compared {
				if len(calls) != 1 {
					t.Errorf("compare ran after a failed run: %q", calls)
				}
				return
			}
			want := "compare " + base + " " + out + "/candidate --scenario scenarios/ci.yaml --markdown " + out + "/compare.md --junit " + out + "/compare.junit.xml"
			if len(calls) != 2 || calls[1] != want {
				t.Errorf("calls %q, want then %q", calls, want)
			}
			for _, f := range []string{"compare.md", "compare.junit.xml"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("the gate did not leave %s: %v", f, err)
				}
			}
		})
	}
}

func TestGateWithoutBaselineIsBadInput(t *testing.T) {
	bin, log := fake(t)
	empty := t.TempDir()
	code, stderr := gate(t, []string{"BESTBEFORE_BIN=" + bin, "GATE_BASELINE=" + empty, "GATE_OUT=" + t.TempDir()})
	if code != 2 || !strings.Contains(stderr, "--refresh-baseline") {
		t.Errorf("exit %d, %q; want 2 and a hint to --refresh-baseline", code, stderr)
	}
	if calls := readCalls(t, log); len(calls) != 0 {
		t.Errorf("ran %q without a baseline", calls)
	}
}

func TestRefreshBaseline(t *testing.T) {
	bin, log := fake(t)
	base := baselineDir(t)
	stale := filepath.Join(base, "rep-07")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"BESTBEFORE_BIN=" + bin, "GATE_BASELINE=" + base, "BASELINE_REPEAT=4"}
	code, stderr := gate(t, env, "--refresh-baseline")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	calls := readCalls(t, log)
	if want := "run scenarios/ci.yaml --repeat 4 --out " + base + ".new --quiet --set monitor.max_send_lag=20ms"; len(calls) != 1 || calls[0] != want {
		t.Errorf("calls %q, want only %q", calls, want)
	}
	if _, err := os.Stat(filepath.Join(base, "rep-01", "result.json")); err != nil {
		t.Errorf("the new baseline has no result: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "rep-01", "report.html")); !os.IsNotExist(err) {
		t.Errorf("report.html kept in the baseline (keep it small): %v", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("an old repetition survived the refresh: %v", err)
	}

	// A baseline is measured with the scenario as committed.
	code, stderr = gate(t, env, "--refresh-baseline", "--set", "load.max_qps=100")
	if code != 2 || !strings.Contains(stderr, "--set is for candidates") {
		t.Errorf("refresh with --set: exit %d, %q; want 2", code, stderr)
	}
}
