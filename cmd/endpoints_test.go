package cmd_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// A traffic file of known templates, replayed against a loopback server
// where one endpoint is slow and one answers 503 to every tenth call:
// the result breaks the step down by those templates with the file's
// shares, calls the slow one out, and the error table names the 503.
func TestEndpointsAndErrors(t *testing.T) {
	var items, fails atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1/search"):
			time.Sleep(40 * time.Millisecond)
		case strings.HasPrefix(r.URL.Path, "/v1/orders/"):
			if fails.Add(1)%10 == 0 {
				http.Error(w, "shedding", http.StatusServiceUnavailable)
				return
			}
		case strings.HasPrefix(r.URL.Path, "/v1/items/"):
			items.Add(1)
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()

	// 20 lines: 12 item lookups (ids vary), 4 orders (UUIDs), 2 searches
	// (query values vary), 2 predictions.
	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, fmt.Sprintf(`{"method":"GET","path":"/v1/items/%d"}`, 1000+i*37))
	}
	for i := 0; i < 4; i++ {
		lines = append(lines, fmt.Sprintf(`{"method":"GET","path":"/v1/orders/3f2504e0-4f89-11d3-9a0c-0305e82c330%d"}`, i))
	}
	lines = append(lines, `{"method":"GET","path":"/v1/search?q=shoes"}`, `{"method":"GET","path":"/v1/search?q=hats"}`)
	lines = append(lines, `{"method":"POST","path":"/v1/predict","body":"{}"}`, `{"method":"POST","path":"/v1/predict","body":"{}"}`)
	// Interleave, so that every second holds each endpoint.
	var mixed []string
	for i := 0; i < 20; i++ {
		mixed = append(mixed, lines[(i*7)%20])
	}
	dir := t.TempDir()
	tf := filepath.Join(dir, "traffic.ndjson")
	if err := os.WriteFile(tf, []byte(strings.Join(mixed, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	code, stdout, stderr := execute(t, context.Background(), "run", "--url", srv.URL, "--traffic", tf, "--rate", "100", "--duration", "3s",
		"--set", "load.warmup=0s", "--set", "monitor.max_send_lag=200ms", "--slo", "p99=1s,errors=50%", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	r := readResult(t, out)
	if len(r.Steps) != 1 {
		t.Fatalf("%d steps, want 1", len(r.Steps))
	}
	s := r.Steps[0]
	if !r.BestBefore.Found {
		t.Fatalf("no best-before (%+v): the step failed %v", r.BestBefore, s.Failed)
	}
	want := map[string]float64{
		"GET /v1/items/{id}":  0.60,
		"GET /v1/orders/{id}": 0.20,
		"GET /v1/search?q={}": 0.10,
		"POST /v1/predict":    0.10,
	}
	got := map[string]result.Endpoint{}
	for _, e := range s.Endpoints {
		got[e.Name] = e
	}
	if len(got) != len(want) {
		t.Fatalf("endpoints %+v, want the four templates %v", s.Endpoints, want)
	}
	for name, sh := range want {
		e, ok := got[name]
		if !ok {
			t.Errorf("no endpoint %q in %+v", name, s.Endpoints)
			continue
		}
		if f := float64(e.Requests) / float64(s.Requests); f < sh-0.03 || f > sh+0.03 {
			t.Errorf("%s: share %.3f, want %.2f (%d of %d requests)", name, f, sh, e.Requests, s.Requests)
		}
	}
	if e := got["GET /v1/search?q={}"]; e.P50MS < 40 || e.P50MS <= 4*got["GET /v1/items/{id}"].P50MS {
		t.Errorf("search p50 %.2f ms, items p50 %.2f ms: the slow endpoint is not measured slow", e.P50MS, got["GET /v1/items/{id}"].P50MS)
	}
	if o := got["GET /v1/orders/{id}"]; o.Errors < o.Requests/10-2 || o.Errors > o.Requests/10+2 || o.Errors != s.Errors {
		t.Errorf("orders: %d errors of %d (step: %d), want a tenth and all of the step's", o.Errors, o.Requests, s.Errors)
	}
	if len(r.Errors) != 1 || r.Errors[0].Class != result.ClassHTTP5xx || r.Errors[0].Status != 503 || r.Errors[0].Sample != "HTTP 503 Service Unavailable" || r.Errors[0].Count != s.Errors {
		t.Errorf("error table %+v, want one row: http_5xx 503 with %d errors", r.Errors, s.Errors)
	}
	// Both reports show the breakdown, the call-out and the error table.
	for _, f := range []string{"report.md", "report.html"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"GET /v1/search?q={} is much slower than the other endpoints at the best-before", "GET /v1/orders/{id}", "HTTP 503 Service Unavailable"} {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q", f, w)
			}
		}
	}
}
