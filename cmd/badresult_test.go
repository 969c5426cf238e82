package cmd_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command that reads result.json checks it as the schema and the
// result invariants say, and refuses a bad file with exit 2 naming the
// file and the field, before doing anything with it.
func TestReadersRefuseBadResults(t *testing.T) {
	b, err := os.ReadFile("../pkg/report/testdata/result.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["status"] = "passed"
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	doc, _ := json.Marshal(m)
	if err := os.WriteFile(bad, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	good := "../pkg/report/testdata/result.json"
	for _, args := range [][]string{
		{"report", bad, "--format", "md"},
		{"plan", bad, "--current-qps", "10", "--doubling", "60d"},
		{"compare", good, bad},
		{"merge", bad, bad + "2", "--out", filepath.Join(dir, "merged")},
	} {
		if args[0] == "merge" {
			os.WriteFile(bad+"2", doc, 0o644)
		}
		code, _, stderr := execute(t, context.Background(), args...)
		if code != 2 || !strings.Contains(stderr, "bad.json") || !strings.Contains(stderr, "/status") {
			t.Errorf("%s: exit %d, stderr %q; want 2 naming bad.json and /status", args[0], code, stderr)
		}
	}
}
