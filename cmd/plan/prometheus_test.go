package plan_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
)

// prometheusTools finds Debian's prometheus and promtool; .ci/run installs
// them, so under CI this test never skips.
func prometheusTools(t *testing.T) (server, promtool string) {
	t.Helper()
	for _, name := range []string{"prometheus", "promtool"} {
		p, err := exec.LookPath(name)
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found and CI is set: apt-get install prometheus", name)
			}
			t.Skipf("%s not found: apt-get install prometheus", name)
		}
		if name == "prometheus" {
			server = p
		} else {
			promtool = p
		}
	}
	return server, promtool
}

// A real Prometheus holding a known series: 90 days of load sampled every
// 30 minutes, a daily cycle peaking at 06:00, the peak doubling every 60
// days from 200 QPS, each day ±5% noise. plan --prometheus must find the
// doubling time and the best-before date the series was made with.
func TestPlanFromPrometheus(t *testing.T) {
	server, promtool := prometheusTools(t)
	// promtool and Prometheus take the machine for a few seconds: not
	// while a load test measures capacity in another package.
	testserver.Serialize(t)
	dir := t.TempDir()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	start := today.Add(-90 * 24 * time.Hour)
	rng := rand.New(rand.NewPCG(60, 90))
	var om bytes.Buffer
	om.WriteString("# HELP bb_test_requests_per_second Load on the service.\n# TYPE bb_test_requests_per_second gauge\n")
	for day := 0; day < 90; day++ {
		noise := 1 + 0.05*(2*rng.Float64()-1)
		for half := 0; half < 48; half++ {
			at := start.Add(time.Duration(day*48+half) * 30 * time.Minute)
			d := at.Sub(start).Hours() / 24
			cycle := 0.6 + 0.4*math.Sin(2*math.Pi*float64(half)/48)
			fmt.Fprintf(&om, "bb_test_requests_per_second %.3f %d\n", 200*math.Exp2(d/60)*cycle*noise, at.Unix())
		}
	}
	om.WriteString("# EOF\n")
	omFile, data := filepath.Join(dir, "load.om"), filepath.Join(dir, "data")
	if err := os.WriteFile(omFile, om.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", omFile, data).CombinedOutput(); err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prom := exec.CommandContext(ctx, server, "--config.file="+cfg, "--storage.tsdb.path="+data, "--storage.tsdb.retention.time=10y",
		"--web.listen-address="+addr, "--log.level=warn")
	var logs bytes.Buffer
	prom.Stdout, prom.Stderr = &logs, &logs
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); prom.Wait() }()
	base := "http://" + addr
	ready := false
	for i := 0; i < 60 && !ready; i++ {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			ready = resp.StatusCode == 200
			resp.Body.Close()
		}
		if !ready {
			time.Sleep(500 * time.Millisecond)
		}
	}
	if !ready {
		t.Fatalf("prometheus did not become ready on %s:\n%s", addr, logs.String())
	}

	// testdata/result.json: 1500 QPS on 3 nodes, margin 0.8: N-1 800 QPS.
	// Today's peak is 200 × 2^(90/60) ≈ 566 QPS, so 800 is reached in
	// 60 × log2(800/566) = 30 days.
	p := runJSON(t, "testdata/result.json --prometheus "+base+" --query bb_test_requests_per_second --lookback 90d --horizon 1y")
	if p.History == nil || p.History.Samples < 85 || p.History.Samples > 90 {
		t.Fatalf("fitted to %+v, want about 89 whole days", p.History)
	}
	if d := p.Growth.DoublingDays; d == nil || math.Abs(*d-60) > 3 {
		t.Errorf("doubling every %v days, want 60 ± 3", deref(d))
	}
	truth := today.Add(30 * 24 * time.Hour)
	if p.BestBeforeDate == nil {
		t.Fatalf("no best-before date, want about %s", truth.Format(time.DateOnly))
	}
	got, _ := time.Parse(time.DateOnly, *p.BestBeforeDate)
	if diff := got.Sub(truth).Hours() / 24; math.Abs(diff) > 3 {
		t.Errorf("best-before %s, want %s ± 3 days (the generated truth)", *p.BestBeforeDate, truth.Format(time.DateOnly))
	}
	if p.Range == nil || p.Range.Earliest == nil || p.Range.Latest == nil || *p.Range.Earliest > *p.BestBeforeDate || *p.Range.Latest < *p.BestBeforeDate {
		t.Errorf("confidence range %+v around %s", p.Range, *p.BestBeforeDate)
	}
	t.Logf("doubling %.1f days, best-before %s (truth %s), %d days fitted", deref(p.Growth.DoublingDays), *p.BestBeforeDate, truth.Format(time.DateOnly), p.History.Samples)

	// A query with no data is refused with what it asked.
	_, errOut, code := run(t, "testdata/result.json --prometheus "+base+" --query no_such_metric --lookback 30d")
	if code == 0 || !strings.Contains(errOut, "no data") {
		t.Errorf("a query without data: exit %d, %s", code, errOut)
	}
	// A public server is refused before any connection.
	_, errOut, code = run(t, "testdata/result.json --prometheus http://192.0.2.7:9090 --query up")
	if code != 2 || !strings.Contains(errOut, "public address") {
		t.Errorf("a public server: exit %d, %s", code, errOut)
	}
}

func deref(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}
