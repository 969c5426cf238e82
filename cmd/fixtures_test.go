package cmd_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// fixtures are the real third-party files in pkg/importer/testdata/real
// (their sources and licences are in its README), with the import that
// reads each.
var fixtures = []struct{ file, from string }{
	{"charles.har", "har"},
	{"chrome.har", "har"},
	{"firefox.har", "har"},
	{"insomnia.har", "har"},
	{"postdata.har", "har"},
	{"with-bom.har", "har"},
	{"mitmproxy.har", "har"},
	{"nginx-beats-access.log", "nginx"},
	{"nginx-beats-test.log", "nginx"},
	{"apache-beats-darwin-2.4.23.log", "apache"},
	{"apache-beats-test.log", "apache"},
	{"nginx-combined.log", "nginx"},
	{"nginx-json.log", "nginx"},
	{"vegeta-targets.http", "vegeta"},
	{"vegeta-targets.jsonl", "vegeta"},
}

const fixtureDir = "../pkg/importer/testdata/real"

// seen is what a loopback server received: one line per request.
type seen struct {
	mu   sync.Mutex
	reqs []string
}

func (s *seen) add(line string) {
	s.mu.Lock()
	s.reqs = append(s.reqs, line)
	s.mu.Unlock()
}

// Every real fixture imports, and replays: each imported request reaches
// a loopback server, and with "status: recorded" a server that answers
// each request with the status it was recorded with (404s included) makes
// no error, where a check of 200 would fail the replay of every log that
// holds one.
func TestRealFixturesImportAndReplay(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			imported := filepath.Join(dir, "t.ndjson")
			code, _, stderr := execute(t, context.Background(), "traffic", "import", "--from", fx.from, filepath.Join(fixtureDir, fx.file), "--out", imported)
			if code != 0 {
				t.Fatalf("import: exit %d: %s", code, stderr)
			}
			lines := readTraffic(t, imported)
			status := map[string]int{}
			var want []string
			hasError := false
			for _, r := range lines {
				key := r.MethodOrGet() + " " + r.Path
				want = append(want, key)
				if status[key] == 0 {
					status[key] = r.Status // a request recorded twice answers as first
				}
				hasError = hasError || r.Status >= 400
			}
			var got seen
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				key := r.Method + " " + r.RequestURI
				got.add(key)
				code := status[key]
				if code < 200 {
					code = 200
				}
				w.WriteHeader(code)
			}))
			defer srv.Close()
			rate := max(10, 2*len(lines))
			run := func(check string) *result.Result {
				scen := filepath.Join(dir, "s.yaml")
				os.WriteFile(scen, fmt.Appendf(nil, `name: fixture
target: {url: %s}
traffic: {file: t.ndjson}
load: {steps: [%d], step_duration: 1s, warmup: 0s}
slo: {latency: {p99: 1s}, error_rate: 0%%}
checks: [{status: %s}]
monitor: {max_send_lag: 100ms}
`, srv.URL, rate, check), 0o644)
				out := filepath.Join(dir, "out-"+check)
				code, stdout, stderr := execute(t, context.Background(), "run", scen, "--out", out, "--quiet")
				if code != 0 && code != 1 {
					t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
				}
				return readResult(t, out)
			}
			res := run("recorded")
			st := res.Steps[0]
			if st.Requests < int64(len(lines)) || st.Errors != 0 {
				t.Errorf("replay with status: recorded: %d requests, %d errors (%v), want at least %d and none", st.Requests, st.Errors, st.ErrorsByClass, len(lines))
			}
			got.mu.Lock()
			received := map[string]bool{}
			for _, k := range got.reqs {
				received[k] = true
			}
			got.mu.Unlock()
			for _, k := range want {
				if !received[k] {
					t.Errorf("imported %q never reached the server (it saw %d requests)", k, len(got.reqs))
				}
			}
			if hasError {
				// The same replay held to 200 counts the recorded errors.
				if st := run("200").Steps[0]; st.Errors == 0 {
					t.Errorf("a replay checked for 200 saw no error, though the file holds recorded errors")
				}
			}
		})
	}
}

func readTraffic(t *testing.T, name string) []*traffic.Request {
	t.Helper()
	out, err := traffic.ReadAll(name)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// vegeta itself and bestbefore's replay of the imported targets send the
// same requests: method, target, Host, Authorization, Content-Type, the
// other headers given and the body. Under CI vegeta must be there
// (.ci/run installs it); elsewhere the check is skipped without it.
func TestVegetaTargetsSentAsVegetaSendsThem(t *testing.T) {
	vegeta, err := exec.LookPath("vegeta")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("vegeta is not installed: .ci/run installs it (go install github.com/tsenart/vegeta/v12)")
		}
		t.Skip("vegeta not installed")
	}
	for _, fx := range []struct{ file, format string }{{"vegeta-targets.http", "http"}, {"vegeta-targets.jsonl", "json"}} {
		t.Run(fx.file, func(t *testing.T) {
			var mu sync.Mutex
			sent := map[string]map[string]bool{} // by sender, the requests seen
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				sender := "vegeta"
				if r.Header.Get("X-Vegeta-Seq") == "" {
					sender = "bestbefore"
				}
				var hs []string
				for k, vs := range r.Header {
					switch k {
					case "User-Agent", "Accept-Encoding", "X-Vegeta-Seq", "Content-Length":
						continue
					}
					hs = append(hs, k+"="+strings.Join(vs, ","))
				}
				sort.Strings(hs)
				host := r.Host
				if host == strings.TrimPrefix(srvURL(r), "http://") {
					host = "(target)"
				}
				key := fmt.Sprintf("%s %s host=%s %s body=%q", r.Method, r.RequestURI, host, strings.Join(hs, " "), body)
				mu.Lock()
				if sent[sender] == nil {
					sent[sender] = map[string]bool{}
				}
				sent[sender][key] = true
				mu.Unlock()
			}))
			defer srv.Close()
			dir := t.TempDir()
			// vegeta sends to the URLs in the file: point them at the server.
			src, _ := os.ReadFile(filepath.Join(fixtureDir, fx.file))
			targets := filepath.Join(dir, fx.file)
			os.WriteFile(targets, []byte(strings.ReplaceAll(string(src), "127.0.0.1:8080", strings.TrimPrefix(srv.URL, "http://"))), 0o644)
			body, _ := os.ReadFile(filepath.Join(fixtureDir, "vegeta-predict-body.json"))
			os.WriteFile(filepath.Join(dir, "vegeta-predict-body.json"), body, 0o644)
			cmd := exec.Command(vegeta, "attack", "-format", fx.format, "-targets", targets, "-rate", "20", "-duration", "1s", "-output", os.DevNull)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("vegeta: %v\n%s", err, out)
			}
			imported := filepath.Join(dir, "t.ndjson")
			if code, _, stderr := execute(t, context.Background(), "traffic", "import", "--from", "vegeta", "--no-redact", filepath.Join(fixtureDir, fx.file), "--out", imported); code != 0 {
				t.Fatalf("import: %s", stderr)
			}
			os.WriteFile(filepath.Join(dir, "s.yaml"), fmt.Appendf(nil, "name: v\ntarget: {url: %s}\ntraffic: {file: t.ndjson}\nload: {steps: [20], step_duration: 1s, warmup: 0s}\nmonitor: {max_send_lag: 100ms}\n", srv.URL), 0o644)
			if code, _, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", filepath.Join(dir, "out"), "--quiet"); code != 0 && code != 1 {
				t.Fatalf("run: exit %d: %s", code, stderr)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(sent["vegeta"]) != 4 {
				t.Fatalf("vegeta sent %d distinct requests, want the file's 4: %v", len(sent["vegeta"]), sent["vegeta"])
			}
			for k := range sent["vegeta"] {
				if !sent["bestbefore"][k] {
					t.Errorf("vegeta sent %s; bestbefore never did", k)
				}
			}
			for k := range sent["bestbefore"] {
				if !sent["vegeta"][k] {
					t.Errorf("bestbefore sent %s; vegeta never did", k)
				}
			}
		})
	}
}

// srvURL is the address a request was sent to, as a URL.
func srvURL(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(interface{ String() string }); ok {
		return "http://" + a.String()
	}
	return ""
}
