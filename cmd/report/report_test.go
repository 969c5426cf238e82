package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdReport "github.com/bestbefore/bestbefore/cmd/report"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
)

const fixture = "../../pkg/report/testdata/result.json"

func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	cmd := cmdReport.NewCmdReport(&cmdutil.Factory{IOStreams: ios, Version: "v0.0.0-test"}, nil)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestReportDefaultsToMarkdownOnStdout(t *testing.T) {
	out, _, err := runCmd(t, fixture)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "# bestbefore: demo") || !strings.Contains(out, "**Best-before: 650 QPS**") {
		t.Fatalf("stdout is not the Markdown report:\n%.300s", out)
	}
}

func TestReportFormats(t *testing.T) {
	for _, c := range []struct{ format, want string }{
		{"html", `data-chart="latency"`},
		{"json", `"schema": "bestbefore.result/v1"`},
		{"hlog", "\n1.000000,5.000000,"},
		{"hlog --tags", "\nTag=step-08-650qps,"},
	} {
		out, _, err := runCmd(t, append([]string{fixture, "--format"}, strings.Fields(c.format)...)...)
		if err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		if !strings.Contains(out, c.want) {
			t.Errorf("--format %s output lacks %q", c.format, c.want)
		}
	}
}

func TestReportOutFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.hlog")
	out, _, err := runCmd(t, fixture, "--format", "hlog", "--out", path)
	if err != nil {
		t.Fatal(err)
	}
	if out != "" {
		t.Errorf("stdout not empty with --out: %.100s", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rd := hdrhistogram.NewHistogramLogReader(bytes.NewReader(b))
	n := 0
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		n++
	}
	if n != 11 {
		t.Errorf("%s holds %d intervals, want the fixture's 11 steps", path, n)
	}
}

func TestReportBadInputExits2NamingTheFile(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.json")
	if err := os.WriteFile(corrupt, []byte(`{"schema": "bestbefore.result/v1", "steps": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(other, []byte(`{"schema": "something/else"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	badHist := filepath.Join(dir, "badhist.json")
	raw, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte(`"histogram": "`), []byte(`"histogram": "garbage`), 1)
	if err := os.WriteFile(badHist, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{missing}, missing},
		{[]string{corrupt}, corrupt},
		{[]string{other}, other},
		{[]string{badHist, "--format", "html"}, badHist},
		{[]string{fixture, "--format", "pdf"}, `"pdf"`},
	} {
		_, _, err := runCmd(t, c.args...)
		if code := cmdutil.CodeOf(err); code != cmdutil.ExitBadInput {
			t.Errorf("%v: exit %d (%v), want 2", c.args, code, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %q does not name %s", c.args, err, c.want)
		}
	}
}

// The command only wires flags to Options: read through the runF seam,
// without rendering anything.
func TestReportFlagsReachTheOptions(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var got *cmdReport.Options
	cmd := cmdReport.NewCmdReport(&cmdutil.Factory{IOStreams: ios, Version: "v9"}, func(o *cmdReport.Options) error { got = o; return nil })
	cmd.SetArgs([]string{"r.json", "--format", "hlog", "--tags", "--out", "x.hlog"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Result != "r.json" || got.Format != "hlog" || !got.Tags || got.Out != "x.hlog" || got.Version != "v9" || got.IO != ios {
		t.Errorf("options %+v", got)
	}
}
