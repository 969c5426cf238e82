package report_test

import (
	"bytes"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

var update = flag.Bool("update", false, "rewrite testdata/result.json and the golden files")

const fixturePath = "testdata/result.json"

// Model of the fixture's service: three nodes with a combined capacity of
// about capacityQPS, a log-normal service time and a queueing wait that
// grows steeply near saturation. The numbers are chosen so that the ramp
// passes, bends at a knee, then fails on latency and, above it, on errors.
const (
	capacityQPS   = 720.0
	serviceMedian = 4.0 // ms
	timeoutMS     = 2000.0
)

var fixtureStart = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

type fixtureModel struct {
	rng   *rand.Rand
	start time.Time
	index int
	// durS is the measured window of the next steps; 5 s when zero.
	durS float64
}

// step measures one simulated constant-rate step.
func (m *fixtureModel) step(qps float64, phase string, capacity float64) result.Step {
	const warmS = 1.0
	durS := m.durS
	if durS == 0 {
		durS = 5
	}
	u := qps / capacity
	rec := stats.NewRecorder()
	svc := stats.NewRecorder()
	n := int64(qps * durS)
	byClass := map[string]int64{}
	var errs int64
	ivRec := make([]*stats.Recorder, int(durS))
	ivReq := make([]int64, len(ivRec))
	ivErr := make([]int64, len(ivRec))
	ivLat := make([]float64, len(ivRec))
	for k := range ivRec {
		ivRec[k] = stats.NewRecorder()
	}
	// Three endpoints: predictions, model lookups and, one request in
	// fifty, a search three times slower than the rest.
	epNames := []string{"POST /v1/predict", "GET /v1/models/{id}", "GET /v1/search?q={}"}
	epRec := []*stats.Recorder{stats.NewRecorder(), stats.NewRecorder(), stats.NewRecorder()}
	epReq, epErr := make([]int64, 3), make([]int64, 3)
	for i := int64(0); i < n; i++ {
		ep := 0
		switch {
		case i%50 == 49:
			ep = 2
		case i%5 == 4:
			ep = 1
		}
		elapsed := float64(i) / qps
		service := serviceMedian * math.Exp(0.45*m.rng.NormFloat64())
		wait := 0.0
		if u < 1 {
			wait = m.rng.ExpFloat64() * serviceMedian * math.Pow(u, 10) / (1 - u)
		} else {
			wait = (u-1)/u*elapsed*1000 + m.rng.ExpFloat64()*serviceMedian*8
		}
		lat := service + wait
		if ep == 2 {
			lat *= 3
		}
		epReq[ep]++
		switch {
		case lat >= timeoutMS:
			lat = timeoutMS
			byClass[result.ClassTimeout]++
			errs++
			ivErr[int(elapsed)]++
			epErr[ep]++
		case m.rng.Float64() < math.Max(0, u-0.92)*0.05:
			byClass[result.ClassHTTP5xx]++
			errs++
			ivErr[int(elapsed)]++
			epErr[ep]++
		}
		epRec[ep].Record(time.Duration(lat * float64(time.Millisecond)))
		k := int(elapsed)
		ivReq[k]++
		ivLat[k] += lat
		ivRec[k].Record(time.Duration(lat * float64(time.Millisecond)))
		rec.Record(time.Duration(lat * float64(time.Millisecond)))
		svc.Record(time.Duration(service * float64(time.Millisecond)))
	}
	h, err := stats.Encode(rec.H)
	if err != nil {
		panic(err)
	}
	sh, err := stats.Encode(svc.H)
	if err != nil {
		panic(err)
	}
	lat := result.Summarize(rec.H)
	achieved := float64(n-errs) / durS
	if u > 1 {
		achieved = capacity * (1 - float64(errs)/float64(n)) * 0.98
	}
	cpu := math.Min(99, 8+88*u)
	s := result.Step{
		Index:             m.index,
		Phase:             phase,
		OfferedQPS:        qps,
		StartedAt:         m.start,
		DurationS:         durS,
		WarmupS:           warmS,
		AchievedQPS:       math.Round(achieved*10) / 10,
		Requests:          n,
		Successes:         n - errs,
		Errors:            errs,
		ErrorRate:         float64(errs) / float64(n),
		ErrorsByClass:     byClass,
		LatencyMS:         lat,
		ServiceTimeMS:     result.Summarize(svc.H),
		InFlightMean:      math.Round(achieved*lat.Mean/1000*10) / 10,
		InFlightMax:       int64(achieved*lat.Max/1000) + 1,
		LittleConcurrency: math.Round(achieved*lat.Mean/1000*100) / 100,
		Generator: result.Generator{
			CPUPercent:   math.Round((3+qps*0.012)*10) / 10,
			RSSMB:        38 + qps*0.01,
			Goroutines:   20 + int(qps/10),
			SendLagP50MS: 0.02,
			SendLagP99MS: math.Round((0.08+qps*0.0002)*1000) / 1000,
			SendLagMaxMS: math.Round((0.4+qps*0.001)*1000) / 1000,
			LateSends:    int64(qps / 200),
		},
		Target: &result.TargetResources{
			CPUPercent:    math.Round(cpu*10) / 10,
			MaxCPUPercent: math.Round(math.Min(100, cpu*1.06)*10) / 10,
			RSSMB:         math.Round((96+qps*0.06)*10) / 10,
			HeapMB:        math.Round((31+qps*0.04)*10) / 10,
			GCCyclesPerS:  math.Round(qps/60*10) / 10,
			GCPauseP99MS:  math.Round((0.15+math.Pow(u, 3)*0.9)*100) / 100,
			Threads:       14,
			OpenFiles:     40 + int32(qps/20),
		},
		Host:             &result.Host{CPUPercent: math.Round(math.Min(100, 12+cpu*0.8)*10) / 10, MemUsedMB: 2100, Load1: math.Round(u*1.9*100) / 100},
		Histogram:        h,
		ServiceHistogram: sh,
	}
	var failed []string
	if lat.P99 > 100 {
		failed = append(failed, "latency.p99")
	}
	if lat.P999 > 250 {
		failed = append(failed, "latency.p999")
	}
	if s.ErrorRate > 0.001 {
		failed = append(failed, "error_rate")
	}
	if s.Target.MaxCPUPercent > 95 {
		failed = append(failed, "target_cpu")
	}
	s.Failed = failed
	s.SLOPass = len(failed) == 0
	if n := byClass[result.ClassHTTP5xx]; n > 0 {
		s.ErrorKinds = append(s.ErrorKinds, result.ErrorKind{Class: result.ClassHTTP5xx, Status: 503, Count: n, Sample: "HTTP 503 Service Unavailable"})
	}
	if n := byClass[result.ClassTimeout]; n > 0 {
		s.ErrorKinds = append(s.ErrorKinds, result.ErrorKind{Class: result.ClassTimeout, Count: n, Sample: "attack: request timed out"})
	}
	for k, r := range epRec {
		eh, err := stats.Encode(r.H)
		if err != nil {
			panic(err)
		}
		s.Endpoints = append(s.Endpoints, result.Endpoint{Name: epNames[k], Requests: epReq[k], Errors: epErr[k],
			P50MS: stats.QuantileMS(r.H, 50), P99MS: stats.QuantileMS(r.H, 99), Histogram: eh})
	}
	for k, r := range ivRec {
		ih, err := stats.Encode(r.H)
		if err != nil {
			panic(err)
		}
		iv := result.Interval{OffsetS: float64(k), Requests: ivReq[k], Errors: ivErr[k], Histogram: ih,
			SendLagMaxMS: math.Round((0.3+qps*0.001+m.rng.ExpFloat64()*0.2)*1000) / 1000}
		if ivReq[k] > 0 {
			iv.InFlightMean = math.Round(float64(ivReq[k])*ivLat[k]/float64(ivReq[k])/1000*10) / 10
		}
		s.Intervals = append(s.Intervals, iv)
	}
	if s.Target.MaxCPUPercent > 90 {
		s.Warnings = append(s.Warnings, "busiest target node above 90% CPU")
	}
	m.index++
	m.start = m.start.Add(time.Duration((durS + warmS) * float64(time.Second)))
	return s
}

// buildFixture simulates a run of rampSteps ramp steps from maxQPS/rampSteps
// up to maxQPS, two refinement steps, and a node-loss hold at the N-1 rate.
func buildFixture(rampSteps int, maxQPS float64) *result.Result {
	m := &fixtureModel{rng: rand.New(rand.NewPCG(42, 7)), start: fixtureStart}
	eb, cpuBound := 0.001, 95.0
	r := &result.Result{
		Schema:    result.SchemaV1,
		Name:      "demo",
		Status:    result.StatusCompleted,
		StartedAt: fixtureStart,
		Manifest: result.Manifest{
			Tool: "bestbefore", Version: "v0.3.0", GoVersion: "go1.26.8", OS: "linux", Arch: "amd64",
			CPUModel: "AMD EPYC 7B13", CPUs: 2, Hostname: "ci-runner-7", Seed: 42,
			Scenario: "scenarios/demo.yaml", ScenarioSHA: "9f2c4e0d1b7a8c3e5f60718293a4b5c6d7e8f90112233445566778899aabbccd",
			Traffic: "scenarios/traffic/demo.ndjson.gz", TrafficSHA: "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
			Overrides:     []string{"load.max_qps=800"},
			Targets:       []string{"http://127.0.0.1:18081", "http://127.0.0.1:18082", "http://127.0.0.1:18083"},
			EffectiveYAML: "name: demo\ntarget:\n  bundled: {nodes: 3}\nload:\n  start_qps: 100\n  step_qps: 100\n  max_qps: 800\nslo:\n  latency: {p99: 100ms, p999: 250ms}\n  error_rate: 0.1%\n",
		},
		Objectives: result.Objectives{"latency.p99": 100, "latency.p999": 250, "error_rate": eb, "target_cpu": cpuBound},
	}
	var lastPass, firstFail float64
	for i := 1; i <= rampSteps; i++ {
		q := math.Round(maxQPS * float64(i) / float64(rampSteps))
		s := m.step(q, result.PhaseRamp, capacityQPS)
		r.Steps = append(r.Steps, s)
		if s.SLOPass && firstFail == 0 {
			lastPass = q
		}
		if !s.SLOPass && firstFail == 0 {
			firstFail = q
		}
	}
	lo, hi := lastPass, firstFail
	for i := 0; i < 2 && hi > 0; i++ {
		mid := math.Round((lo + hi) / 2)
		s := m.step(mid, result.PhaseRefine, capacityQPS)
		r.Steps = append(r.Steps, s)
		if s.SLOPass {
			lo = mid
		} else {
			hi = mid
		}
	}
	bb := result.BestBefore{Found: lo > 0, QPS: lo, Nodes: 3, SafetyMargin: 0.8, Step: -1, FirstFailQPS: hi}
	for _, s := range r.Steps {
		if s.OfferedQPS == lo && s.SLOPass {
			bb.Step = s.Index
		}
		if s.OfferedQPS == hi {
			bb.LimitedBy = s.Failed[0]
		}
	}
	bb.NMinus1QPS = math.Floor(lo * 2 / 3 * 0.8)
	r.BestBefore = bb

	// Node loss: hold at the N-1 rate on three nodes, stop one after 5 s.
	m.durS = 10
	hold := m.step(bb.NMinus1QPS, result.PhaseHold, capacityQPS*2/3)
	r.Steps = append(r.Steps, hold)
	recover := 2.5
	nl := &result.NodeLoss{QPS: bb.NMinus1QPS, Node: "http://127.0.0.1:18082", LostAtS: 5, Held: true, TransitionErrs: 7, RecoverS: &recover, Step: hold.Index, Restored: true,
		Notes: []string{"p99 back under 100 ms 2.5 s after the node stopped"}}
	for i := 0; i < 20; i++ {
		off := float64(i) * 0.5
		p99 := 9 + m.rng.Float64()*3
		var e int64
		if off >= 5 && off < 7.5 {
			p99 = 180 * math.Exp(-(off-5)*1.1)
			if off < 6 {
				e = 4 - int64(off-5)*1
			}
		}
		if off >= 7.5 {
			p99 = 14 + m.rng.Float64()*4
		}
		nl.Timeline = append(nl.Timeline, result.TimelinePoint{OffsetS: off, P99MS: math.Round(p99*100) / 100, Requests: int64(bb.NMinus1QPS / 2), Errors: e})
	}
	r.NodeLoss = nl

	r.Capacity = &result.CapacityModel{
		USL:  &result.USL{Sigma: 0.12, Kappa: 0.012, Lambda: 215, R2: 0.97, PeakConcurrency: math.Sqrt(0.88 / 0.012)},
		Knee: &result.Knee{},
	}
	u := r.Capacity.USL
	n := u.PeakConcurrency
	u.PeakQPS = math.Round(u.Lambda * n / (1 + u.Sigma*(n-1) + u.Kappa*n*(n-1)))
	u.PeakConcurrency = math.Round(n*100) / 100
	// Knee: the first ramp step whose p99 is more than twice the lowest one.
	for _, s := range r.Steps {
		if s.Phase == result.PhaseRamp && s.LatencyMS.P99 > 2*r.Steps[0].LatencyMS.P99 {
			r.Capacity.Knee = &result.Knee{QPS: s.OfferedQPS, P99MS: s.LatencyMS.P99, Step: s.Index}
			break
		}
	}
	r.Warnings = []string{
		"target CPU above 90% from 700 QPS: the busiest node, not the network, is the bottleneck",
		"load generator and target share this machine (2 CPUs); generator used up to 13% CPU",
	}
	r.FinishedAt = m.start
	r.Errors = result.TabulateErrors(r.Steps)
	return r
}

func TestFixtureUpToDate(t *testing.T) {
	r := buildFixture(8, 800)
	var buf bytes.Buffer
	if err := report.JSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fixturePath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/report -update)", err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		t.Fatalf("%s is out of date with buildFixture; run go test ./pkg/report -update", fixturePath)
	}
	// The fixture must tell the story the reports are tested on.
	if !r.BestBefore.Found || r.BestBefore.FirstFailQPS == 0 || r.BestBefore.LimitedBy == "" {
		t.Fatalf("fixture best-before = %+v, want a found best-before and a failing rate above it", r.BestBefore)
	}
	var sawErrors bool
	for _, s := range r.Steps {
		if s.OfferedQPS > r.BestBefore.FirstFailQPS && s.Errors > 0 {
			sawErrors = true
		}
	}
	if !sawErrors {
		t.Fatal("fixture has no errors above the knee")
	}
}
