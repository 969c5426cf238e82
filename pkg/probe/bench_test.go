package probe_test

import (
	"context"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bestbefore/bestbefore/pkg/probe"
)

// benchSamplers runs one sampling round of the given samplers per
// iteration and reports the CPU it costs as a share of one core when run
// once a second (the default monitor.interval): "%core@1s" must stay
// under 1.
func benchSamplers(b *testing.B, ss ...probe.Sampler) {
	ctx := context.Background()
	for _, s := range ss { // warm caches and handles
		if _, err := s.Sample(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuSeconds()
	for b.Loop() {
		for _, s := range ss {
			if _, err := s.Sample(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	perRound := (cpuSeconds() - c0) / float64(b.N)
	b.ReportMetric(100*perRound, "%core@1s")
}

func BenchmarkSampleHost(b *testing.B) { benchSamplers(b, probe.NewHostSampler()) }

func BenchmarkSampleSelf(b *testing.B) { benchSamplers(b, probe.NewSelfSampler()) }

func BenchmarkSampleProcess(b *testing.B) {
	benchSamplers(b, probe.NewProcessSampler([]int32{int32(os.Getppid())}, ""))
}

// BenchmarkSampleScrape includes the cost of serving the metrics, since
// the server runs in this process: an upper bound of the scrape's cost.
func BenchmarkSampleScrape(b *testing.B) {
	benchSamplers(b, probe.NewScraper(clientGolangServer(b).URL, nil))
}

// BenchmarkSampleRound is one full round of a monitor watching one target
// process and its /metrics: host, target process, generator, scrape.
func BenchmarkSampleRound(b *testing.B) {
	benchSamplers(b,
		probe.NewHostSampler(),
		probe.NewProcessSampler([]int32{int32(os.Getppid())}, ""),
		probe.NewSelfSampler(),
		probe.NewScraper(clientGolangServer(b).URL, nil),
	)
}

func clientGolangServer(b *testing.B) *httptest.Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	b.Cleanup(srv.Close)
	return srv
}

// TestSamplingCostUnderOnePercent checks the acceptance bound behind the
// benchmarks: one full sampling round must cost less than 10 ms of CPU, so
// at the default 1 s interval the monitor takes under 1 % of one core.
func TestSamplingCostUnderOnePercent(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector multiplies CPU cost several times")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	ss := []probe.Sampler{
		probe.NewHostSampler(),
		probe.NewProcessSampler([]int32{int32(os.Getppid())}, ""),
		probe.NewSelfSampler(),
		probe.NewScraper(srv.URL, nil),
	}
	ctx := context.Background()
	const rounds = 20
	c0 := cpuSeconds()
	for range rounds {
		for _, s := range ss {
			if _, err := s.Sample(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	perRound := (cpuSeconds() - c0) / rounds
	t.Logf("one round: %.2f ms of CPU = %.3f%% of a core at 1 s", 1000*perRound, 100*perRound)
	if perRound >= 0.010 {
		t.Errorf("one sampling round costs %.2f ms of CPU: over 1%% of a core at 1 s", 1000*perRound)
	}
}
