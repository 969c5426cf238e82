package traffic_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdTraffic "github.com/bestbefore/bestbefore/cmd/traffic"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	c := cmdTraffic.NewCmdTraffic(&cmdutil.Factory{IOStreams: ios})
	c.SetArgs(args)
	c.SilenceErrors, c.SilenceUsage = true, true
	err := c.Execute()
	return out.String(), errOut.String(), err
}

func TestImportThenInspect(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "v.ndjson.gz")
	_, stderr, err := run(t, "import", "--from", "vegeta", "../../pkg/importer/testdata/vegeta.jsonl", "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "imported 3 of 3 entries") || !strings.Contains(stderr, "1 with secrets redacted") {
		t.Errorf("stderr: %s", stderr)
	}
	stdout, _, err := run(t, "inspect", "--json", out)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Requests int `json:"requests"`
		Methods  []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || s.Requests != 3 || len(s.Methods) != 3 {
		t.Fatalf("inspect --json: %v %s", err, stdout)
	}
	stdout, _, err = run(t, "inspect", out)
	if err != nil || !strings.Contains(stdout, "3 requests") || !strings.Contains(stdout, "/v1/predict") {
		t.Fatalf("inspect: %v %s", err, stdout)
	}
}

func TestBadInputExitsTwoNamingTheLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(bad, []byte("{\"path\":\"/a\"}\n{\"path\":\"/b\",\"header\":{\"X\":[\"a\\nb\"]}}\n"), 0o644)
	cases := [][]string{
		{"inspect", bad},
		{"inspect", filepath.Join(dir, "missing.ndjson")},
		{"import", "--from", "har", "../../pkg/importer/testdata/bad_url.har", "--out", filepath.Join(dir, "o.ndjson")},
		{"import", "--from", "nope", "x", "--out", "y"},
		{"import", "x"},
	}
	wants := []string{"bad.ndjson:2: header.X:", "missing.ndjson", "bad_url.har:3: request.url:", "unknown format", "required"}
	for i, args := range cases {
		_, _, err := run(t, args...)
		if cmdutil.CodeOf(err) != cmdutil.ExitBadInput || !strings.Contains(err.Error(), wants[i]) {
			t.Errorf("%v: exit %d, %v; want 2 and %q", args, cmdutil.CodeOf(err), err, wants[i])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o.ndjson")); err == nil {
		t.Error("a failed import left its output behind")
	}
}
