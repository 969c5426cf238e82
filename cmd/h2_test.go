package cmd_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/internal/testnginx"
)

// A run over HTTP/2 measures and checks as one over HTTP/1.1 does: a
// fixed-rate step against nginx over h2 (TLS, its certificate trusted
// through target.ca_file) and over h2c, every request answered and every
// check kept; a scenario that pairs h2 with an http:// URL is refused
// before anything is sent.
func TestRunOverHTTP2(t *testing.T) {
	ng := testnginx.Start(t)
	for _, tc := range []struct{ name, url, protocol, ca string }{
		{"h2", ng.TLS, "h2", ", ca_file: " + ng.CAFile},
		{"h2c", ng.H2C, "h2c", ""},
	} {
		dir := writeFiles(t, map[string]string{
			"s.yaml": fmt.Sprintf(`name: over-%s
target: {url: %s, protocol: %s%s}
traffic: {file: t.ndjson}
load: {steps: [100], step_duration: 1s, warmup: 200ms}
slo: {error_rate: 0%%}
checks: [{status: 200}, {header: X-Protocol, equals: HTTP/2.0}, {json: protocol}]
monitor: {max_send_lag: 100ms}
`, tc.name, tc.url, tc.protocol, tc.ca),
			"t.ndjson": `{"path":"/v1/predict"}` + "\n" + `{"method":"POST","path":"/v1/predict","body":"{\"q\":1}"}` + "\n",
		})
		out := filepath.Join(dir, "out")
		code, stdout, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", out, "--quiet")
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", tc.name, code, stdout, stderr)
		}
		r := readValid(t, filepath.Join(out, "result.json"))
		st := r.Steps[0]
		if st.Requests < 70 || st.Errors != 0 || !st.SLOPass {
			t.Errorf("%s: %d requests, %d errors (%v), pass %v; want ~80, none, pass", tc.name, st.Requests, st.Errors, st.ErrorsByClass, st.SLOPass)
		}
	}
	// The one-line run takes the same settings as flags.
	one := filepath.Join(t.TempDir(), "one")
	code, stdout, stderr := execute(t, context.Background(), "run", "--url", ng.TLS+"/v1/predict", "--protocol", "h2", "--ca-file", ng.CAFile,
		"--rate", "50", "--duration", "1s", "--out", one, "--quiet")
	if code != 0 {
		t.Fatalf("run --url --protocol h2: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if r := readValid(t, filepath.Join(one, "result.json")); r.Steps[0].Errors != 0 || !strings.Contains(r.Manifest.EffectiveYAML, "protocol: h2") {
		t.Errorf("run --url --protocol h2: %d errors, effective scenario\n%s", r.Steps[0].Errors, r.Manifest.EffectiveYAML)
	}
	dir := writeFiles(t, map[string]string{
		"s.yaml":   "target: {url: " + ng.H2C + ", protocol: h2}\ntraffic: {file: t.ndjson}\nload: {steps: [10]}\n",
		"t.ndjson": `{"path":"/"}` + "\n",
	})
	code, _, stderr = execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", filepath.Join(dir, "out"), "--quiet")
	if code != 2 || !strings.Contains(stderr, "target.protocol") || !strings.Contains(stderr, "https://") {
		t.Errorf("h2 with an http:// URL: exit %d, %s; want 2 naming target.protocol", code, stderr)
	}
}
