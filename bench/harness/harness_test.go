package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/probe"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/traffic"
	"github.com/shirou/gopsutil/v4/cpu"
)

// The scenario the harness writes is one bestbefore accepts, with the rate,
// the duration and no warmup (so every completed request is counted).
func TestScenarioIsValid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "traffic.ndjson"), []byte(`{"path":"/"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Parse([]byte(Scenario("127.0.0.1:9", 5000, 10*time.Second)), "bench.yaml", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Load.Steps) != 1 || s.Load.Steps[0] != 5000 {
		t.Errorf("steps %v, want [5000]", s.Load.Steps)
	}
	if s.Load.StepDuration.D() != 10*time.Second || s.Load.Warmup.D() != 0 {
		t.Errorf("step_duration %v warmup %v, want 10s and 0", s.Load.StepDuration.D(), s.Load.Warmup.D())
	}
	if !s.Monitor.Disabled {
		t.Error("monitoring is on; the benchmark measures the generator alone")
	}
	if s.Monitor.MaxSendLag.D() < time.Minute {
		t.Errorf("max_send_lag %v: a late step would be measured twice", s.Monitor.MaxSendLag.D())
	}
}

// Both tools get the same requests: the i-th traffic line and the i-th
// vegeta target name the same path.
func TestTrafficFilesHoldTheSameRequests(t *testing.T) {
	dir := t.TempDir()
	trafficData, targets := TrafficFiles("127.0.0.1:9")
	path := filepath.Join(dir, "traffic.ndjson")
	if err := os.WriteFile(path, trafficData, 0o644); err != nil {
		t.Fatal(err)
	}
	rd, err := traffic.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	lines := strings.Split(strings.TrimSpace(string(targets)), "\n")
	for i, line := range lines {
		req, err := rd.Next()
		if err != nil {
			t.Fatalf("traffic line %d: %v", i+1, err)
		}
		if want := "GET http://127.0.0.1:9" + req.Path; line != want {
			t.Fatalf("target %d is %q, traffic line says %q", i+1, line, want)
		}
	}
	if _, err := rd.Next(); err == nil {
		t.Errorf("traffic file holds more requests than the %d targets", len(lines))
	}
	if len(lines) < 100 {
		t.Errorf("%d requests: the traffic source would reopen its file every few requests", len(lines))
	}
}

func TestParseVegetaReport(t *testing.T) {
	doc := `{"latencies":{"total":11708517585,"mean":468340,"50th":146469,"90th":687561,"95th":1804985,"99th":7536824,"max":20919708,"min":26760},
"requests":25000,"rate":5000.2242500571665,"throughput":4990.07,"success":0.99,"status_codes":{"200":24750},"errors":[]}`
	v, err := ParseVegetaReport([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if v.Requests != 25000 || v.Success != 0.99 || v.Throughput != 4990.07 || v.Latencies.P50 != 146469 || v.Latencies.P99 != 7536824 {
		t.Errorf("parsed %+v", v)
	}
	if _, err := ParseVegetaReport([]byte(`{"requests":0}`)); err == nil {
		t.Error("a report of no request is accepted")
	}
	if _, err := ParseVegetaReport([]byte(`not json`)); err == nil {
		t.Error("a malformed report is accepted")
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{math.NaN(), 5, 1}, 3},
		{[]float64{7}, 7},
	} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := Median([]float64{math.NaN()}); !math.IsNaN(got) {
		t.Errorf("Median(NaN) = %v, want NaN", got)
	}
}

func fake(tool string, rate float64, rep int, cpu time.Duration, completed int64, lagP99 float64) Run {
	r := Run{Tool: tool, Offered: rate, Rep: rep, User: cpu / 2, Sys: cpu / 2, Completed: completed, Sent: completed,
		AchievedQPS: rate, LagP50MS: math.NaN(), LagP99MS: lagP99, LatP50MS: 1, LatP99MS: 2,
		VolSwitches: 2 * completed, InvolSwitches: completed / 10}
	return r
}

func TestSummarizeTakesMediansPerRateAndTool(t *testing.T) {
	runs := []Run{
		fake(BestBefore, 5000, 1, 3*time.Second, 50000, 0.5), // 60 µs
		fake(Vegeta, 5000, 1, 5*time.Second, 50000, math.NaN()),
		fake(BestBefore, 5000, 2, 2*time.Second, 50000, 0.9), // 40 µs
		fake(Vegeta, 5000, 2, 4*time.Second, 50000, math.NaN()),
		fake(BestBefore, 5000, 3, 1*time.Second, 50000, 3), // 20 µs
		fake(Vegeta, 5000, 3, 6*time.Second, 50000, math.NaN()),
		fake(BestBefore, 1000, 1, 1*time.Second, 10000, 0.1),
		fake(Vegeta, 1000, 1, 2*time.Second, 10000, math.NaN()),
		{Tool: Vegeta, Offered: 1000, Rep: 2, Err: "exit status 1"},
	}
	sums := Summarize(runs)
	if len(sums) != 4 {
		t.Fatalf("%d summaries, want 4: %+v", len(sums), sums)
	}
	if sums[0].Offered != 1000 || sums[2].Offered != 5000 || sums[2].Tool != BestBefore {
		t.Fatalf("not ordered by rate then tool: %+v", sums)
	}
	bb := sums[2]
	if bb.CPU != 40 || bb.CPUMin != 20 || bb.CPUMax != 60 || bb.LagP99 != 0.9 || bb.LagP99Hi != 3 || bb.N != 3 {
		t.Errorf("bestbefore at 5000: %+v, want CPU 40 [20-60], lag p99 0.9 (worst 3)", bb)
	}
	if bb.VolSwitches != 2 || bb.InvolSwitches != 0.1 {
		t.Errorf("bestbefore at 5000: %v + %v context switches a request, want 2 + 0.1", bb.VolSwitches, bb.InvolSwitches)
	}
	if got := Ratio(sums, 5000); math.Abs(got-0.4) > 1e-9 {
		t.Errorf("ratio at 5000 = %v, want 40/100", got)
	}
	if sums[1].Failed != 1 || sums[1].N != 1 {
		t.Errorf("vegeta at 1000: %d measured, %d failed; want 1 and 1", sums[1].N, sums[1].Failed)
	}
}

func TestSustained(t *testing.T) {
	ok := fake(BestBefore, 10000, 1, time.Second, 50000, 0.8)
	if !ok.Sustained(1, 0.99) {
		t.Error("a run on schedule at the full rate is not sustained")
	}
	late := fake(BestBefore, 10000, 1, time.Second, 50000, 1.2)
	if late.Sustained(1, 0.99) {
		t.Error("a run with send lag p99 above 1 ms counts as sustained")
	}
	short := fake(Vegeta, 10000, 1, time.Second, 50000, math.NaN())
	short.AchievedQPS = 9800
	if short.Sustained(1, 0.99) {
		t.Error("a run that completed 98% of the rate counts as sustained")
	}
	failed := fake(Vegeta, 10000, 1, time.Second, 50000, math.NaN())
	failed.Sent = 50010
	if failed.Sustained(1, 0.99) {
		t.Error("a run with failed requests counts as sustained")
	}
	runs := []Run{ok, fake(BestBefore, 20000, 1, time.Second, 50000, 0.9), fake(BestBefore, 30000, 1, time.Second, 50000, 4), short}
	if got := MaxSustained(runs, BestBefore, 1, 0.99); got != 20000 {
		t.Errorf("MaxSustained = %v, want 20000", got)
	}
	if got := MaxSustained(runs, Vegeta, 1, 0.99); got != 0 {
		t.Errorf("MaxSustained(vegeta) = %v, want 0", got)
	}
}

func TestMarkdownStatesTheVerdicts(t *testing.T) {
	slow := fake(Vegeta, 10000, 1, time.Second, 50000, math.NaN())
	slow.AchievedQPS = 9000
	rep := &Report{
		Config: Config{GenCPU: "0", ServerCPU: "1", Reps: 1, Duration: 10 * time.Second, MaxDuration: 5 * time.Second,
			MaxLagMS: 1, MinAchieved: 0.99, MaxRates: []float64{10000, 20000}},
		Env: Env{CPUModel: "Test CPU", CPUs: 2},
		Fixed: []Run{
			fake(BestBefore, 1000, 1, 500*time.Millisecond, 10000, 0.2), // 50 µs
			fake(Vegeta, 1000, 1, time.Second, 10000, math.NaN()),       // 100 µs
			fake(BestBefore, 5000, 1, 4*time.Second, 50000, 2.5),        // 80 µs
			fake(Vegeta, 5000, 1, 5*time.Second, 50000, math.NaN()),     // 100 µs
			fake(BestBefore, 10000, 1, 5*time.Second, 100000, 0.5),
			slow,
		},
		Max: []Run{fake(BestBefore, 10000, 1, time.Second, 50000, 0.5), slow},
	}
	md := rep.Markdown()
	for _, want := range []string{
		"Test CPU, 2 cores",
		"| 1000 | bestbefore | 50.0 | 25.0 | 25.0 | 2.00 + 0.10 | 1000 | – / 0.200 | 1.000 / 2.000 | 0.50 |",
		"- 1000 QPS: CPU ratio 0.50 over the runs that kept the rate (vegeta: 1 of 1; 0.6× goal met); send lag p99 median 0.200 ms",
		"- 5000 QPS: CPU ratio 0.80 over the runs that kept the rate (vegeta: 1 of 1; 0.6× goal NOT met); send lag p99 median 2.500 ms, worst run 2.500 ms (1 ms goal NOT met)",
		"- 10000 QPS: CPU ratio – over the runs that kept the rate (vegeta: 0 of 1; 0.6× goal not measured)",
		"Highest sustained (of the rates tried): bestbefore 10000 QPS, vegeta none.",
		"vegeta completed 9000 QPS of 10000 (median): it fell behind",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestParseRates(t *testing.T) {
	got, err := parseRates("1000, 5000,10000")
	if err != nil || len(got) != 3 || got[2] != 10000 {
		t.Errorf("parseRates = %v, %v", got, err)
	}
	for _, bad := range []string{"", "x", "5000,1000", "-5"} {
		if _, err := parseRates(bad); err == nil {
			t.Errorf("parseRates(%q) accepted", bad)
		}
	}
}

func TestCountTimeWait(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:4E20 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:85A2 0100007F:4E20 06 00000000:00000000 03:00000A1B 00000000     0        0 0 3 0000000000000000
   2: 0100007F:85A4 0100007F:4E20 06 00000000:00000000 03:00000A1B 00000000     0        0 0 3 0000000000000000
   3: 0100007F:85A6 0100007F:4E20 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
`
	if got := CountTimeWait([]byte(table)); got != 2 {
		t.Errorf("CountTimeWait = %d, want 2", got)
	}
}

func TestStatCPU(t *testing.T) {
	stat := "4743 (bench server) S 4742 4742 1 0 -1 4194560 1234 0 0 0 250 31 0 0 20 0 8 0 123 2000000 1500 18446744073709551615"
	if got := StatCPU([]byte(stat)); got != 2810*time.Millisecond {
		t.Errorf("StatCPU = %v, want 2.81s (250 + 31 ticks)", got)
	}
	if got := StatCPU([]byte("garbage")); got != 0 {
		t.Errorf("StatCPU(garbage) = %v, want 0", got)
	}
}

// A vegeta run that fell behind is left out of the ratio: 60 µs against
// the 100 µs of the run that kept the rate, not the 1000 µs of the one
// that collapsed.
func TestKeptRatioLeavesOutRunsThatFellBehind(t *testing.T) {
	collapsed := fake(Vegeta, 5000, 2, 10*time.Second, 10000, math.NaN())
	collapsed.AchievedQPS = 1000
	runs := []Run{
		fake(BestBefore, 5000, 1, 3*time.Second, 50000, 0.5),
		fake(Vegeta, 5000, 1, 5*time.Second, 50000, math.NaN()),
		fake(BestBefore, 5000, 2, 3*time.Second, 50000, 0.5),
		collapsed,
	}
	r, kept, total := KeptRatio(runs, 5000, 0.99)
	if math.Abs(r-0.6) > 1e-9 || kept != 1 || total != 2 {
		t.Errorf("KeptRatio = %v, %d of %d; want 0.6, 1 of 2", r, kept, total)
	}
}

func TestStealShare(t *testing.T) {
	a := probe.TimesOf(cpu.TimesStat{User: 1000, Nice: 10, System: 300, Idle: 8000, Iowait: 50, Softirq: 40, Steal: 100})
	b := probe.TimesOf(cpu.TimesStat{User: 1300, Nice: 10, System: 400, Idle: 8500, Iowait: 50, Softirq: 40, Steal: 200, Guest: 7})
	if a.Total != 9500 || a.Steal != 100 {
		t.Fatalf("TimesOf = %+v, want total 9500 s, steal 100", a)
	}
	// 1000 s passed, 100 of them stolen; guest time (7) is already in user.
	if got := StealShare(a, b); math.Abs(got-0.1) > 1e-9 {
		t.Errorf("StealShare = %v, want 0.1", got)
	}
	if got := StealShare(a, probe.CPUTimes{}); !math.IsNaN(got) {
		t.Errorf("StealShare with a missing reading = %v, want NaN", got)
	}
	if got := StealShare(probe.CPUTimes{}, b); !math.IsNaN(got) {
		t.Errorf("StealShare with a missing first reading = %v, want NaN", got)
	}
	if got := StealShare(a, a); !math.IsNaN(got) {
		t.Errorf("StealShare over no time = %v, want NaN", got)
	}
	if got := machineCPU(); runtime.GOOS == "linux" && !(got.Total > 0) {
		t.Errorf("machineCPU on Linux = %+v, want a reading", got)
	}
}

// A benchmark measured while the hypervisor took CPU says so, for the
// whole report and for each rate where it happened.
func TestMarkdownWarnsOfStealTime(t *testing.T) {
	bb := fake(BestBefore, 5000, 1, 4*time.Second, 50000, 0.5)
	vg := fake(Vegeta, 5000, 1, 5*time.Second, 50000, math.NaN())
	bb.Steal, vg.Steal = 0.12, 0.005
	rep := &Report{
		Config: Config{GenCPU: "0", ServerCPU: "1", Reps: 1, Duration: 10 * time.Second, MaxLagMS: 1, MinAchieved: 0.99},
		Fixed:  []Run{bb, vg},
		Steal:  0.08,
	}
	md := rep.Markdown()
	for _, want := range []string{
		"Steal time (CPU the hypervisor gave to other guests): 8.0% of the machine's CPU time. **Above 2%",
		"During bestbefore's runs the hypervisor took 12.0% of the machine's CPU time (steal).",
		"| 5000 | bestbefore | 1 | 0.00 | 12.0% |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "During vegeta's runs") {
		t.Errorf("report warns of vegeta's 0.5%% steal:\n%s", md)
	}
	rep.Steal = 0.01
	if md := rep.Markdown(); strings.Contains(md, "**Above 2%") {
		t.Errorf("report warns of 1%% steal:\n%s", md)
	}
}
