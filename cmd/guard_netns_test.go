package cmd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/sandbox"
	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// countingServer listens on addr:80 inside the sandbox and counts every
// request, whatever its path; /metrics answers Prometheus text.
func countingServer(t *testing.T, addr string) *atomic.Int64 {
	t.Helper()
	sandbox.Alias(t, addr)
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "80"))
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/metrics" {
			io.WriteString(w, "# TYPE up gauge\nup 1\n")
			return
		}
		io.WriteString(w, `{"items":[]}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &n
}

// The address guard, tested where a failure cannot reach anything: an
// empty network namespace whose loopback carries 8.8.8.8 (a public
// address) and 169.254.169.254 (the cloud metadata address). Without
// --allow-public nothing is sent to either, by the load, by a metrics
// scrape, through a redirect or by the recorder's upstream; with it, each
// works, so the refusals are the guard's and not a broken setup.
func TestGuardInNetworkNamespace(t *testing.T) {
	if !sandbox.Enter(t) {
		return
	}
	public := countingServer(t, "8.8.8.8")
	metadata := countingServer(t, "169.254.169.254")
	local := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://169.254.169.254/metrics", http.StatusFound)
			return
		}
		io.WriteString(w, "# TYPE up gauge\nup 1\n")
	}))
	reset := func() { public.Store(0); metadata.Store(0) }
	scenario := func(url, monitor string) string {
		return writeFiles(t, map[string]string{
			"s.yaml":   fmt.Sprintf("name: guard\ntarget: {url: %s}\ntraffic: {file: t.ndjson}\nload: {start_qps: 5, max_qps: 5, step_duration: 1s, warmup: 0s}\nmonitor: {max_send_lag: 200ms%s}\n", url, monitor),
			"t.ndjson": `{"path":"/p"}` + "\n",
		})
	}
	run := func(dir string, extra ...string) (int, *result.Result, string) {
		out := filepath.Join(dir, fmt.Sprintf("out-%d", time.Now().UnixNano()))
		code, _, stderr := execute(t, context.Background(), append([]string{"run", filepath.Join(dir, "s.yaml"), "--out", out, "--quiet"}, extra...)...)
		var r result.Result
		if b, err := os.ReadFile(filepath.Join(out, "result.json")); err == nil {
			json.Unmarshal(b, &r)
		}
		return code, &r, stderr
	}

	for _, tt := range []struct {
		addr string
		hits *atomic.Int64
	}{{"8.8.8.8", public}, {"169.254.169.254", metadata}} {
		t.Run("load to "+tt.addr, func(t *testing.T) {
			reset()
			dir := scenario("http://"+tt.addr+":80", "")
			if code, _, stderr := run(dir); code != 2 || !strings.Contains(stderr, "--allow-public") {
				t.Errorf("without --allow-public: exit %d (want 2), stderr %q", code, stderr)
			}
			if n := tt.hits.Load(); n != 0 {
				t.Fatalf("the guard let %d requests through to %s", n, tt.addr)
			}
			if code, r, stderr := run(dir, "--allow-public"); code != 0 || tt.hits.Load() == 0 || len(r.Steps) != 1 {
				t.Errorf("with --allow-public: exit %d, %d requests arrived, %d steps; stderr %s", code, tt.hits.Load(), len(r.Steps), stderr)
			}
		})
	}

	t.Run("metrics scrape", func(t *testing.T) {
		reset()
		dir := scenario(local.URL, ", metrics_url: http://8.8.8.8:80/metrics")
		code, r, stderr := run(dir)
		if public.Load() != 0 {
			t.Fatalf("the scrape reached 8.8.8.8 without --allow-public (%d requests)", public.Load())
		}
		var warnings []string
		for _, st := range r.Steps {
			warnings = append(warnings, st.Warnings...)
		}
		if w := strings.Join(warnings, "\n"); code != 0 || !strings.Contains(w, "8.8.8.8") || !strings.Contains(w, "--allow-public") {
			t.Errorf("exit %d; the refused scrape is not reported: step warnings %q, stderr %q", code, warnings, stderr)
		}
		if code, _, stderr := run(dir, "--allow-public"); code != 0 || public.Load() == 0 {
			t.Errorf("with --allow-public: exit %d, %d scrapes arrived; stderr %s", code, public.Load(), stderr)
		}
	})

	t.Run("metrics redirect", func(t *testing.T) {
		reset()
		dir := scenario(local.URL, ", metrics_url: "+local.URL+"/redirect")
		for _, extra := range [][]string{nil, {"--allow-public"}} {
			if code, _, stderr := run(dir, extra...); code != 0 {
				t.Errorf("%v: exit %d: %s", extra, code, stderr)
			}
		}
		if n := metadata.Load(); n != 0 {
			t.Fatalf("a redirect was followed to 169.254.169.254 (%d requests)", n)
		}
	})

	t.Run("record upstream", func(t *testing.T) {
		reset()
		dir := t.TempDir()
		code, _, stderr := execute(t, context.Background(), "record", "--upstream", "http://169.254.169.254:80", "--out", filepath.Join(dir, "a.ndjson"), "--duration", "1s")
		if code != 2 || !strings.Contains(stderr, "--allow-public") {
			t.Errorf("exit %d (want 2), stderr %q", code, stderr)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		done := make(chan int, 1)
		go func() {
			code, _, _ := execute(t, context.Background(), "record", "--upstream", "http://169.254.169.254:80", "--out", filepath.Join(dir, "b.ndjson"),
				"--listen", addr, "--duration", "3s", "--allow-public", "--progress", "0")
			done <- code
		}()
		deadline := time.Now().Add(10 * time.Second)
		for metadata.Load() == 0 && time.Now().Before(deadline) {
			if resp, err := http.Get("http://" + addr + "/p"); err == nil {
				resp.Body.Close()
			}
			time.Sleep(50 * time.Millisecond)
		}
		if code := <-done; code != 0 || metadata.Load() == 0 {
			t.Errorf("with --allow-public: exit %d, %d requests reached the upstream", code, metadata.Load())
		}
	})
}
