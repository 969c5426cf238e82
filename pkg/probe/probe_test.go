package probe_test

import (
	"context"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bestbefore/bestbefore/pkg/probe"
)

func TestLittleGap(t *testing.T) {
	tests := []struct {
		name               string
		inFlight, qps, lat float64
		ratio              float64
		warn               bool
	}{
		{"agree", 10, 1000, 0.010, 1, false},
		{"within 25%", 12, 1000, 0.010, 1.2, false},
		{"in flight too high", 20, 1000, 0.010, 2, true},
		{"in flight too low", 5, 1000, 0.010, 0.5, true},
		{"large relative gap under one request", 0.5, 100, 0.001, 5, false},
		{"idle", 0, 0, 0, 1, false},
		{"stuck requests, nothing completed", 50, 0, 0, 0, true},
		{"negative input", -1, 10, 0.1, 0, false},
		{"NaN input", 1, math.NaN(), 0.1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ratio, warn := probe.LittleGap(tt.inFlight, tt.qps, tt.lat)
			if math.Abs(ratio-tt.ratio) > 1e-9 {
				t.Errorf("ratio %g, want %g", ratio, tt.ratio)
			}
			if (warn != "") != tt.warn {
				t.Errorf("warn %q, want a warning: %v", warn, tt.warn)
			}
		})
	}
	_, warn := probe.LittleGap(20, 1000, 0.010)
	if !strings.Contains(warn, "20.0 requests in flight") || !strings.Contains(warn, "= 10.0") {
		t.Errorf("warning does not give both sides: %q", warn)
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := probe.Histogram{
		Bounds: []float64{0, 1, 2, 4, math.Inf(1)},
		Counts: []float64{50, 40, 9, 1},
	}
	for _, c := range []struct{ q, want float64 }{
		{0.5, 1},    // end of the first bucket
		{0.7, 1.5},  // halfway through [1,2)
		{0.99, 4},   // end of [2,4)
		{0.999, 4},  // in the +Inf bucket: its finite bound
		{0.25, 0.5}, // interpolated in [0,1)
	} {
		if got := h.Quantile(c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("q%g = %g, want %g", c.q, got, c.want)
		}
	}
	if got := (probe.Histogram{}).Quantile(0.99); got != 0 {
		t.Errorf("empty histogram q99 = %g", got)
	}
	later := probe.Histogram{Bounds: h.Bounds, Counts: []float64{50, 40, 9, 3}}
	if d := later.Sub(h); d.Total() != 2 || d.Quantile(0.5) != 4 {
		t.Errorf("delta %+v: want the 2 new observations in the top bucket", d)
	}
	reset := probe.Histogram{Bounds: h.Bounds, Counts: []float64{1, 0, 0, 0}}
	if d := reset.Sub(h); d.Total() != 1 {
		t.Errorf("after a reset the delta is the new histogram, got %+v", d)
	}
}

func TestParseSelector(t *testing.T) {
	good := map[string]string{
		"http_requests_total":                             "http_requests_total",
		` http_requests_total{code="500", method="GET"} `: `http_requests_total{code="500",method="GET"}`,
		`up{job=""}`: `up{job=""}`,
	}
	for in, want := range good {
		sel, err := probe.ParseSelector(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if sel.String() != want {
			t.Errorf("%q parsed as %q, want %q", in, sel.String(), want)
		}
	}
	for _, bad := range []string{"", "{code=\"1\"}", "a b", `x{code="1"`, `x{code=1}`, `x{code="1}`, "a/b"} {
		if _, err := probe.ParseSelector(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestValidateMetrics(t *testing.T) {
	ok := []string{"a_total", `a_total{x="y"}`, "ratio:a_total/b_total", "ratio:a_total/(a_total+b_total)", `ratio:a{x="1/2"}/(a+b)`}
	if err := probe.ValidateMetrics(ok); err != nil {
		t.Errorf("valid names rejected: %v", err)
	}
	for _, bad := range []string{"ratio:a_total", "ratio:a/(b+c", "ratio:/b", "ratio:a/(b+)", "bad name"} {
		err := probe.ValidateMetrics([]string{"fine_total", bad})
		if err == nil || !strings.HasPrefix(err.Error(), "monitor.metrics[1]: ") {
			t.Errorf("%q: error %v, want one naming monitor.metrics[1]", bad, err)
		}
	}
}

// TestScrapeClientGolang reads the /metrics of a real client_golang
// registry with the Go and process collectors, as the bundled target
// exposes them.
func TestScrapeClientGolang(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reqs := prometheus.NewCounter(prometheus.CounterOpts{Name: "demo_requests_total", Help: "requests"})
	reg.MustRegister(reqs)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	m := probe.NewMonitor(probe.Config{Interval: 100 * time.Millisecond, MetricsURLs: []string{srv.URL}, Metrics: []string{"demo_requests_total", "go_goroutines"}})
	m.Start(context.Background())
	deadline := time.Now().Add(400 * time.Millisecond)
	for time.Now().Before(deadline) {
		reqs.Inc()
		_ = make([]byte, 1<<16)
		time.Sleep(time.Millisecond)
	}
	s := m.Stop()
	if len(s.Warnings) > 0 {
		t.Errorf("warnings: %q", s.Warnings)
	}
	tg := s.Target
	if tg == nil {
		t.Fatal("no target")
	}
	t.Logf("target: %+v", *tg)
	if tg.HeapMB <= 0 || tg.RSSMB <= 0 || tg.Threads <= 0 || tg.OpenFiles <= 0 {
		t.Errorf("heap, rss, threads, open files should all be read: %+v", *tg)
	}
	// This process serves the metrics, so its own CPU is the target's.
	if tg.CPUPercent <= 0 {
		t.Errorf("cpu %.1f%%: want the serving process's CPU", tg.CPUPercent)
	}
	// About 1 request per ms, minus sleep overshoot.
	if r := tg.Metrics["demo_requests_total"]; r < 50 || r > 1100 {
		t.Errorf("demo_requests_total rate %.1f/s, want up to 1000/s", r)
	}
	if g := tg.Metrics["go_goroutines"]; g < 2 {
		t.Errorf("go_goroutines %g", g)
	}
}
