package trafficsynth_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/cmd/trafficsynth"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	cmd := trafficsynth.NewCmdSynth(&cmdutil.Factory{IOStreams: ios}, nil)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestSynth_WritesAReproducibleGzipFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.ndjson.gz"), filepath.Join(dir, "b.ndjson.gz")
	for _, p := range []string{a, b} {
		if _, stderr, err := run(t, "--out", p, "--requests", "500", "--seed", "4"); err != nil {
			t.Fatal(err)
		} else if !strings.Contains(stderr, "wrote 500 requests") {
			t.Errorf("stderr %q", stderr)
		}
	}
	n, err := traffic.Count(a)
	if err != nil || n != 500 {
		t.Fatalf("count = %d, %v", n, err)
	}
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, bb) {
		t.Error("same seed, different files")
	}
}

func TestSynth_Stdout(t *testing.T) {
	out, _, err := run(t, "--out", "-", "--requests", "3")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"path":"/v1/predict"`) {
		t.Errorf("stdout:\n%s", out)
	}
}

func TestSynth_BadInput(t *testing.T) {
	for _, args := range [][]string{
		{"--out", "-", "--requests", "0"},
		{"--out", "-", "--zipf", "0.9"},
		{"--out", "-", "--start", "yesterday"},
	} {
		_, _, err := run(t, args...)
		if cmdutil.CodeOf(err) != cmdutil.ExitBadInput {
			t.Errorf("%v: err %v (exit %d), want exit 2", args, err, cmdutil.CodeOf(err))
		}
	}
	if _, _, err := run(t, "--out", filepath.Join(t.TempDir(), "no", "such", "dir.ndjson")); cmdutil.CodeOf(err) != cmdutil.ExitRunFailed {
		t.Errorf("unwritable output: err %v", err)
	}
}
