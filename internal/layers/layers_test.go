// Package layers holds the test of the project's import rules: which
// package may depend on which.
package layers

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/bestbefore/bestbefore/"

// composes are the commands built of another: demo is run with the
// embedded scenario, traffic synth a verb of traffic.
var composes = map[string]string{"cmd/demo": "cmd/run", "cmd/traffic": "cmd/trafficsynth"}

// The arrows point down: the bundled service knows nothing of the tool,
// pkg/ nothing of the commands, the capacity model does no I/O, and the
// result document depends on the statistics alone.
func TestImportsPointDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	rules := []struct {
		pkg, why string
		refuse   func(pkg, imp string) bool
	}{
		{"target", "the bundled service is a service: it cannot depend on the tool's packages", func(_, i string) bool {
			return strings.HasPrefix(i, mod) && !strings.HasPrefix(i, mod+"target")
		}},
		{"pkg/", "pkg/ is what the commands call: it cannot import them", func(_, i string) bool { return strings.HasPrefix(i, mod+"cmd") }},
		{"pkg/capacity", "the capacity model is pure: network I/O belongs to pkg/peakload", func(_, i string) bool {
			return i == "net/http" || i == "net" || i == "os/exec"
		}},
		{"pkg/result", "the result document depends on the statistics alone", func(_, i string) bool {
			return strings.HasPrefix(i, mod) && i != mod+"pkg/stats"
		}},
		{"cmd/", "a command calls pkg/, never another command's package", func(p, i string) bool {
			return strings.HasPrefix(i, mod+"cmd/") && i != mod+"cmd/cmdutil" && composes[p] != strings.TrimPrefix(i, mod)
		}},
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		path := strings.TrimPrefix(fields[0], mod)
		for _, r := range rules {
			if path != r.pkg && !(strings.HasSuffix(r.pkg, "/") && strings.HasPrefix(path, r.pkg)) && !strings.HasPrefix(path, r.pkg+"/") {
				continue
			}
			seen++
			for _, imp := range fields[1:] {
				if r.refuse(path, imp) && !(r.pkg == "cmd/" && strings.HasPrefix(imp, mod+path)) {
					t.Errorf("%s imports %s: %s", path, strings.TrimPrefix(imp, mod), r.why)
				}
			}
		}
	}
	if seen < 10 {
		t.Fatalf("the rules matched %d packages: go list printed\n%s", seen, out)
	}
}
