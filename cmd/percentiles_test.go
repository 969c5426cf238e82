package cmd_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/hdrref"
	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Every percentile in a real result.json is the one HdrHistogram's
// reference Java library reads from the step's own encoded histogram:
// p50, p90, p99, p99.9 and max of each step, for latency and service time.
func TestResultPercentilesMatchHdrHistogramJava(t *testing.T) {
	hdrref.Available(t)
	var n atomic.Int64
	ts := testserver.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// A spread of service times with a tail: most 1-4 ms, one in 50 at 15-30 ms.
		i := n.Add(1)
		d := time.Duration(1000+(i*7919)%3000) * time.Microsecond
		if i%50 == 0 {
			d = time.Duration(15+i%16) * time.Millisecond
		}
		time.Sleep(d)
		io.WriteString(w, "ok")
	}))
	dir := writeFiles(t, map[string]string{
		"s.yaml": fmt.Sprintf(`name: percentiles
target: {url: %s}
traffic: {file: t.ndjson}
load: {start_qps: 150, step_qps: 150, max_qps: 600, step_duration: 1500ms, warmup: 250ms, refine: 0}
slo: {latency: {p99: 2s}}
monitor: {max_send_lag: 100ms}
`, ts.URL),
		"t.ndjson": `{"path":"/a"}` + "\n",
	})
	out := filepath.Join(dir, "out")
	if code, stdout, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", out, "--quiet"); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	r, err := result.Read(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hists, names []string
	var sums []result.Latency
	for _, s := range r.Steps {
		hists = append(hists, s.Histogram, s.ServiceHistogram)
		sums = append(sums, s.LatencyMS, s.ServiceTimeMS)
		names = append(names, fmt.Sprintf("step %d latency", s.Index), fmt.Sprintf("step %d service time", s.Index))
	}
	if len(r.Steps) < 4 {
		t.Fatalf("%d steps, want 4", len(r.Steps))
	}
	compared, differ := hdrref.MatchSummaries(t, hists, sums, func(i int) string { return names[i] })
	t.Logf("%d percentiles of %d histograms compared with HdrHistogram Java, %d differ", compared, len(hists), differ)
}
