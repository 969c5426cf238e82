package probe_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/probe"
)

// fakeTarget serves Prometheus metrics whose counters grow at known rates
// with wall time, like a Go service instrumented with client_golang.
func fakeTarget(t *testing.T, cpuShare float64) *httptest.Server {
	t.Helper()
	born := time.Now()
	// Histogram counts are written as floats (as native-histogram-aware
	// exporters may), so the step's p99 is exact: 0.99 of the step's
	// observations lie at or under 0.05.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		s := time.Since(born).Seconds()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total %g
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.048576e+08
# TYPE process_open_fds gauge
process_open_fds 30
# TYPE go_threads gauge
go_threads 12
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 5.24288e+07
# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 0.0001
go_gc_duration_seconds{quantile="0.25"} 0.0002
go_gc_duration_seconds{quantile="0.5"} 0.0003
go_gc_duration_seconds{quantile="0.75"} 0.001
go_gc_duration_seconds{quantile="1"} 0.0042
go_gc_duration_seconds_sum %g
go_gc_duration_seconds_count %d
# TYPE app_requests_total counter
app_requests_total{code="200"} %g
app_requests_total{code="500"} %g
# TYPE app_cache_hits_total counter
app_cache_hits_total %g
# TYPE app_cache_misses_total counter
app_cache_misses_total %g
# TYPE app_queue_depth gauge
app_queue_depth 7
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{le="0.01"} %g
app_latency_seconds_bucket{le="0.05"} %g
app_latency_seconds_bucket{le="0.5"} %g
app_latency_seconds_bucket{le="+Inf"} %g
app_latency_seconds_sum %g
app_latency_seconds_count %g
`, cpuShare*s,
			0.0005*50*s, int64(50*s),
			100*s, 10*s,
			80*s, 20*s,
			900*s, 990*s, 1000*s, 1000*s, 10*s, 1000*s)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func near(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

func TestMonitorScrapesMetrics(t *testing.T) {
	a := fakeTarget(t, 0.25)
	b := fakeTarget(t, 0.40)
	ratio := "ratio:app_cache_hits_total/(app_cache_hits_total+app_cache_misses_total)"
	m := probe.NewMonitor(probe.Config{
		Interval:    200 * time.Millisecond,
		MetricsURLs: []string{a.URL + "/metrics", b.URL + "/metrics"},
		Metrics: []string{
			"app_requests_total",
			`app_requests_total{code="500"}`,
			"app_queue_depth",
			"app_latency_seconds",
			ratio,
			"ratio:app_cache_hits_total/app_cache_misses_total",
			"go_gc_duration_seconds",
		},
	})
	m.Start(context.Background())
	time.Sleep(1200 * time.Millisecond)
	s := m.Stop()
	if len(s.Warnings) > 0 {
		t.Errorf("warnings: %q", s.Warnings)
	}
	tg := s.Target
	if tg == nil {
		t.Fatal("no target")
	}
	t.Logf("target: %+v", *tg)
	checks := []struct {
		name      string
		got, want float64
		rel       float64
	}{
		// Process CPU from process_cpu_seconds_total: 25 % + 40 %.
		{"cpu_percent", tg.CPUPercent, 65, 0.05},
		{"max_node_cpu_percent", tg.MaxCPUPercent, 40, 0.05},
		{"rss_mb", tg.RSSMB, 200, 1e-9},
		{"heap_mb", tg.HeapMB, 100, 1e-9},
		{"threads", float64(tg.Threads), 24, 0},
		{"open_files", float64(tg.OpenFiles), 60, 0},
		// 50 GC cycles/s per node.
		{"gc_cycles_per_s", tg.GCCyclesPerS, 100, 0.1},
		// The summary's quantile 1 (largest recent pause), in ms.
		{"gc_pause_p99_ms", tg.GCPauseP99MS, 4.2, 1e-9},
		// A counter: the rate per second of all its series, both nodes.
		{"app_requests_total", tg.Metrics["app_requests_total"], 220, 0.05},
		{"app_requests_total{code=500}", tg.Metrics[`app_requests_total{code="500"}`], 20, 0.05},
		// A gauge: the last value, summed over nodes.
		{"app_queue_depth", tg.Metrics["app_queue_depth"], 14, 0},
		// A histogram: p99 of the step's observations, their rate
		{"app_latency_seconds.p99", tg.Metrics["app_latency_seconds.p99"], 0.05, 0.05},
		{"app_latency_seconds.rate", tg.Metrics["app_latency_seconds.rate"], 2000, 0.05},
		// and the mean: Δsum / Δcount over both nodes (10 s per 1000).
		{"app_latency_seconds.mean", tg.Metrics["app_latency_seconds.mean"], 0.01, 1e-6},
		{"hit ratio", tg.Metrics[ratio], 0.8, 0.01},
		{"hits per miss", tg.Metrics["ratio:app_cache_hits_total/app_cache_misses_total"], 4, 0.01},
		// A summary named explicitly: the quantile nearest p99, and the rate.
		{"go_gc_duration_seconds.p99", tg.Metrics["go_gc_duration_seconds.p99"], 0.0042, 1e-9},
		{"go_gc_duration_seconds.rate", tg.Metrics["go_gc_duration_seconds.rate"], 100, 0.1},
	}
	for _, c := range checks {
		if !near(c.got, c.want, c.rel) {
			t.Errorf("%s = %g, want %g ± %g%%", c.name, c.got, c.want, 100*c.rel)
		}
	}
	if s.Host == nil {
		t.Error("host not sampled")
	}
}

func TestMonitorBadMetricsAreWarnings(t *testing.T) {
	good := fakeTarget(t, 0.1)
	malformed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "<html><body>metrics moved</body></html>")
	}))
	defer malformed.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL + "/metrics"
	gone.Close() // nothing listens there any more

	m := probe.NewMonitor(probe.Config{
		Interval: 100 * time.Millisecond,
		MetricsURLs: []string{
			good.URL + "/metrics",
			good.URL + "/nothing-here", // 404
			malformed.URL + "/metrics",
			goneURL,
		},
		Metrics: []string{"no_such_metric_total", "bad name{"},
	})
	m.Start(context.Background())
	time.Sleep(300 * time.Millisecond)
	s := m.Stop()
	t.Logf("warnings:\n%s", strings.Join(s.Warnings, "\n"))
	for _, want := range []string{
		good.URL + "/nothing-here: HTTP status 404",
		malformed.URL + "/metrics: malformed metrics",
		goneURL + ": ",
		`metric "no_such_metric_total": not exposed by any target`,
		"metrics[1]: ",
	} {
		if !containsAll(s.Warnings, want) {
			t.Errorf("no warning containing %q", want)
		}
	}
	if s.Target == nil || !near(s.Target.CPUPercent, 10, 0.1) {
		t.Errorf("the good target is still measured: %+v", s.Target)
	}
}

func TestMonitorOnlyBadMetrics(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	m := probe.NewMonitor(probe.Config{Interval: time.Second, MetricsURLs: []string{srv.URL + "/metrics"}})
	m.Start(context.Background())
	s := m.Stop()
	if s.Target != nil {
		t.Errorf("target from a 404: %+v", s.Target)
	}
	if !containsAll(s.Warnings, "scrapes failed", srv.URL+"/metrics: HTTP status 404") {
		t.Errorf("warnings %q", s.Warnings)
	}
}

// TestMonitorSlowMetrics checks that a /metrics slower than the interval
// (an overloaded target) gives a warning and does not stall Stop.
func TestMonitorSlowMetrics(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	m := probe.NewMonitor(probe.Config{Interval: 300 * time.Millisecond, MetricsURLs: []string{srv.URL + "/metrics"}})
	m.Start(context.Background())
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	s := m.Stop()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Stop took %v with a hanging /metrics", took)
	}
	if !containsAll(s.Warnings, "scrapes failed", "deadline exceeded") {
		t.Errorf("warnings %q", s.Warnings)
	}
}
