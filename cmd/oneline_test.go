package cmd_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/scenario"
)

// counter is a loopback server that counts what it receives.
type counter struct {
	mu   sync.Mutex
	seen map[string]int // "METHOD target header body"
	srv  *httptest.Server
}

func newCounter(t *testing.T) *counter {
	c := &counter{seen: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.seen[r.Method+" "+r.RequestURI+" "+r.Header.Get("Content-Type")+" "+string(b)]++
		c.mu.Unlock()
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.seen {
		n += v
	}
	return n
}

func readResult(t *testing.T, dir string) *result.Result {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r result.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// A vegeta or hey user points the tool at a URL: no scenario, no traffic
// file; the requests the server counts are the ones asked for. (A send
// lag allowance of 100 ms keeps a busy test machine from marking the
// generator saturated, which would measure a step twice.)
func TestOneLineRuns(t *testing.T) {
	c := newCounter(t)
	dir := t.TempDir()
	t.Run("fixed rate", func(t *testing.T) {
		out := filepath.Join(dir, "rate")
		code, stdout, stderr := execute(t, context.Background(), "run", "--url", c.srv.URL+"/v1/items?q=mouse", "--rate", "40", "--duration", "1s", "--set", "load.warmup=0s", "--set", "monitor.max_send_lag=100ms", "--out", out, "--quiet")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		r := readResult(t, out)
		if len(r.Steps) != 1 || r.Steps[0].OfferedQPS != 40 {
			t.Fatalf("steps %+v, want one at 40 QPS", r.Steps)
		}
		if n := c.seen["GET /v1/items?q=mouse  "]; n < 38 || n > 42 {
			t.Errorf("the server counted %d GET /v1/items?q=mouse, want 40 (all: %v)", n, c.seen)
		}
	})
	t.Run("one request shape", func(t *testing.T) {
		out := filepath.Join(dir, "post")
		code, _, stderr := execute(t, context.Background(), "run", "--url", c.srv.URL+"/v1/predict", "--header", "Content-Type: application/json",
			"--body", `{"query":"usb hub"}`, "--rate", "20", "--duration", "1s", "--set", "load.warmup=0s", "--set", "monitor.max_send_lag=100ms", "--out", out, "--quiet")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if n := c.seen[`POST /v1/predict application/json {"query":"usb hub"}`]; n < 19 || n > 21 {
			t.Errorf("the server counted %d such POSTs, want 20 (all: %v)", n, c.seen)
		}
	})
	t.Run("ramp with objectives", func(t *testing.T) {
		out := filepath.Join(dir, "ramp")
		code, _, stderr := execute(t, context.Background(), "run", "--url", c.srv.URL+"/r", "--max-qps", "50", "--slo", "p99=500ms,errors=1%",
			"--set", "load.step_duration=500ms", "--set", "load.warmup=0s", "--set", "monitor.max_send_lag=100ms", "--out", out, "--quiet")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		r := readResult(t, out)
		// A step that broke a queue objective marginally is measured
		// again (ADR 30): count the rates, not the steps.
		var rates []float64
		for _, st := range r.Steps {
			if !st.Remeasured {
				rates = append(rates, st.OfferedQPS)
			}
		}
		if len(rates) != 10 || rates[0] != 5 || rates[9] != 50 || !r.BestBefore.Found || r.BestBefore.QPS != 50 {
			t.Fatalf("rates %v, best-before %+v: want a ramp 5..50 QPS in ten steps passing at 50", rates, r.BestBefore)
		}
	})
	t.Run("a traffic file without a scenario", func(t *testing.T) {
		tf := filepath.Join(dir, "t.ndjson")
		os.WriteFile(tf, []byte(`{"path":"/from-file?a=1"}`+"\n"+`{"path":"/from-file?a=2"}`+"\n"), 0o644)
		out := filepath.Join(dir, "traffic")
		code, _, stderr := execute(t, context.Background(), "run", "--url", c.srv.URL, "--traffic", tf, "--rate", "10", "--duration", "1s", "--set", "load.warmup=0s", "--set", "monitor.max_send_lag=100ms", "--out", out, "--quiet")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if c.seen["GET /from-file?a=1  "] < 4 || c.seen["GET /from-file?a=2  "] < 4 {
			t.Errorf("the traffic file's requests were not sent: %v", c.seen)
		}
	})
	t.Run("print-scenario grows into a file", func(t *testing.T) {
		before := c.total()
		// Printed where the user saves it: the request file it refers to
		// is written beside it.
		sdir := t.TempDir()
		t.Chdir(sdir)
		code, yamlText, stderr := execute(t, context.Background(), "run", "--url", c.srv.URL+"/grown", "--rate", "10", "--duration", "1s", "--print-scenario")
		if code != 0 || c.total() != before {
			t.Fatalf("exit %d (%s), %d requests sent: --print-scenario sends nothing", code, stderr, c.total()-before)
		}
		var line string
		for _, l := range strings.Split(yamlText, "\n") {
			if t := strings.TrimSpace(strings.TrimPrefix(l, "#")); strings.HasPrefix(t, "{") {
				line = t
			}
		}
		os.WriteFile(filepath.Join(sdir, "s.yaml"), []byte(yamlText), 0o644)
		if b, err := os.ReadFile(filepath.Join(sdir, "request.ndjson")); err != nil || strings.TrimSpace(string(b)) != line {
			t.Fatalf("--print-scenario did not write the request file it refers to: %q (%v), want %q", b, err, line)
		}
		code, _, stderr = execute(t, context.Background(), "run", filepath.Join(sdir, "s.yaml"), "--set", "load.warmup=0s", "--set", "monitor.max_send_lag=100ms", "--out", filepath.Join(sdir, "out"), "--quiet")
		if code != 0 {
			t.Fatalf("the printed scenario does not run: exit %d: %s\n%s", code, stderr, yamlText)
		}
		if n := c.seen["GET /grown  "]; n < 9 || n > 11 {
			t.Errorf("the printed scenario sent %d GET /grown, want 10", n)
		}
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", c.srv.URL, "--slo", "p99=100"}, "--slo p99=100: 100 has no unit"},
		{[]string{"--url", c.srv.URL, "--slo", "p98=1s,latency=2"}, "unknown objective"},
		{[]string{"--url", "ftp://x"}, "want an http://, https:// or grpc:// URL"},
		{[]string{"--url", c.srv.URL, "--rate", "5", "--max-qps", "9"}, "give one"},
		{[]string{"--url", c.srv.URL, "--header", "nocolon"}, `--header "nocolon"`},
		{[]string{"--rate", "5"}, "run needs a scenario file, or --url"},
		{[]string{"--url", c.srv.URL, "--set", "load.max_qsp=3"}, "max_qsp"},
	} {
		code, _, stderr := execute(t, context.Background(), append([]string{"run"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("run %v: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// The demo's "Next:" leads somewhere: demo --print-scenario DIR writes the
// scenario and the traffic it replays, which run reads as they are, and
// never replaces a file.
func TestDemoPrintScenario(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mine")
	code, stdout, stderr := execute(t, context.Background(), "demo", "--print-scenario", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, f := range []string{"demo.yaml", filepath.Join("traffic", "demo.ndjson.gz")} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil || !strings.Contains(stdout, f) {
			t.Errorf("%s: not written or not named (%v):\n%s", f, err, stdout)
		}
	}
	if _, err := scenario.Load(filepath.Join(dir, "demo.yaml"), nil); err != nil {
		t.Errorf("the written scenario does not load: %v", err)
	}
	if code, _, stderr := execute(t, context.Background(), "demo", "--print-scenario", dir); code != 2 || !strings.Contains(stderr, "exists already") {
		t.Errorf("a second write: exit %d, %s; want 2, nothing replaced", code, stderr)
	}
}
