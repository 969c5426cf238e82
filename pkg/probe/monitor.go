package probe

import (
	"github.com/bestbefore/bestbefore/pkg/h1"

	"context"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// Config says what a Monitor samples.
type Config struct {
	// Interval between samples within a step; default 1 s.
	Interval time.Duration
	// PIDs are target processes (the bundled nodes' PIDs, monitor.pids).
	PIDs []int32
	// ProcessName finds target processes by exact name, looked up at the
	// start of every step.
	ProcessName string
	// MetricsURLs are the targets' Prometheus /metrics addresses.
	MetricsURLs []string
	// Metrics are extra metrics to report (see the package's metric
	// naming: name, name{label="v"}, ratio:A/B, ratio:A/(A+B)).
	Metrics []string
	// Disabled turns off host, target and metrics sampling. The
	// generator's own CPU and memory are still measured, from one reading
	// at Start and one at Stop, because a step limited by the generator
	// must never pass as the target's limit.
	Disabled bool
	// HTTPClient scrapes the metrics; nil: a client through Guard that
	// follows no redirect.
	HTTPClient *http.Client
	// Guard checks every address a scrape dials (zero value: loopback
	// and private addresses only).
	Guard h1.Guard
}

// StepSample is what the Monitor measured over one step.
type StepSample struct {
	// Target is nil when neither target processes nor metrics were
	// sampled successfully.
	Target *result.TargetResources
	// Host is nil when sampling is disabled or the host could not be read.
	Host      *result.Host
	Generator GeneratorSample
	Warnings  []string
	// Samples is the number of sampling rounds in the step.
	Samples int
	// Duration is the time between the first and last rounds.
	Duration time.Duration
}

// GeneratorSample is the load generator's own resource use over a step.
type GeneratorSample struct {
	// CPUPercent is the process's CPU in percent of one core (200 = two
	// cores fully busy).
	CPUPercent float64
	// CPUShare is CPUPercent as a share (0..1) of the GOMAXPROCS cores the
	// generator may use; near 1 the generator itself is the bottleneck.
	CPUShare float64
	// RSSMB is the peak resident memory seen, MiB.
	RSSMB float64
	// Goroutines is the peak goroutine count seen.
	Goroutines int
	// GCPauseP99MS is the p99 of the stop-the-world GC pauses during the
	// step, ms (0 when no GC ran).
	GCPauseP99MS float64
	// GOMAXPROCS is the core budget CPUShare is relative to.
	GOMAXPROCS int
}

// Apply copies the step's measurements into a result step: Target, Host,
// the generator's CPU, RSS, goroutines and GC pause, and the warnings. It
// leaves the engine's own generator fields (send lag, saturation) alone.
func (s StepSample) Apply(step *result.Step) {
	step.Target = s.Target
	step.Host = s.Host
	step.Generator.CPUPercent = s.Generator.CPUPercent
	step.Generator.RSSMB = s.Generator.RSSMB
	step.Generator.Goroutines = s.Generator.Goroutines
	step.Generator.GCPauseP99MS = s.Generator.GCPauseP99MS
	step.Warnings = append(step.Warnings, s.Warnings...)
}

// Monitor samples the host, the target and the generator during a step.
// Start and Stop may be called repeatedly, once per step, from one
// goroutine.
type Monitor struct {
	cfg      Config
	host     *HostSampler
	procs    *ProcessSampler
	self     *SelfSampler
	scrapers []*Scraper
	specs    []metricSpec
	specErrs []string

	mu      sync.Mutex
	st      *stepState
	cancel  context.CancelFunc
	done    chan struct{}
	started bool
}

// NewMonitor prepares a monitor; nothing is read until Start.
func NewMonitor(cfg Config) *Monitor {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	m := &Monitor{cfg: cfg, host: NewHostSampler(), self: NewSelfSampler()}
	if len(cfg.PIDs) > 0 || cfg.ProcessName != "" {
		m.procs = NewProcessSampler(cfg.PIDs, cfg.ProcessName)
	}
	client := cfg.HTTPClient
	if client == nil && len(cfg.MetricsURLs) > 0 {
		// Metrics are read directly, never through a proxy, and a
		// redirect is an error: the guard checks where the tool goes.
		client = cfg.Guard.Client(0)
		tr := client.Transport.(*http.Transport)
		tr.MaxIdleConnsPerHost = 1
		tr.IdleConnTimeout = max(3*cfg.Interval, 10*time.Second)
	}
	for _, u := range cfg.MetricsURLs {
		m.scrapers = append(m.scrapers, NewScraper(u, client))
	}
	for i, name := range cfg.Metrics {
		sp, err := parseMetricSpec(name)
		if err != nil {
			m.specErrs = append(m.specErrs, fmt.Sprintf("monitor: metrics[%d]: %v", i, err))
			continue
		}
		m.specs = append(m.specs, sp)
	}
	return m
}

// scrapeTimeout bounds one scrape: a target too loaded to answer its
// /metrics within it gives a warning rather than stalling the step.
func (m *Monitor) scrapeTimeout() time.Duration {
	return max(250*time.Millisecond, min(m.cfg.Interval, 2*time.Second))
}

// Start begins a step: it takes the first readings of the host, target
// processes and generator at once, then samples every Interval (scraping
// metrics first thing) in a goroutine until Stop or ctx ends. Calling
// Start while a step is running discards that step.
func (m *Monitor) Start(ctx context.Context) {
	if m.started {
		m.Stop()
	}
	m.started = true
	st := newStepState(len(m.scrapers))
	m.mu.Lock()
	m.st = st
	m.mu.Unlock()

	if m.cfg.Disabled {
		m.sampleLocal(ctx, false)
		return
	}
	if m.procs != nil && m.cfg.ProcessName != "" {
		pids, err := m.procs.Discover(ctx)
		switch {
		case err != nil:
			st.warn(fmt.Sprintf("monitor: process_name %q: %v", m.cfg.ProcessName, err))
		case len(pids) == 0:
			st.warn(fmt.Sprintf("monitor: process_name %q: no such process", m.cfg.ProcessName))
		}
	}
	m.sampleLocal(ctx, true)

	lctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	m.done = make(chan struct{})
	go m.loop(lctx, m.done)
}

func (m *Monitor) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	m.scrapeAll(ctx)
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.sampleLocal(ctx, true)
			m.scrapeAll(ctx)
		}
	}
}

// Stop ends the step: it stops the sampling goroutine, takes a last reading
// of everything and returns the step's aggregates. Stop without Start
// returns a zero StepSample.
func (m *Monitor) Stop() StepSample {
	if !m.started {
		return StepSample{}
	}
	m.started = false
	if m.cancel != nil {
		m.cancel()
		<-m.done
		m.cancel, m.done = nil, nil
	}
	ctx := context.Background()
	if m.cfg.Disabled {
		m.sampleLocal(ctx, false)
	} else {
		m.sampleLocal(ctx, true)
		m.scrapeAll(ctx)
	}
	m.mu.Lock()
	st := m.st
	m.st = nil
	m.mu.Unlock()
	return m.aggregate(st)
}

// sampleLocal reads the generator and, when all is set, the host and the
// target processes.
func (m *Monitor) sampleLocal(ctx context.Context, all bool) {
	self, selfErr := m.self.Sample(ctx)
	var host, procs Sample
	var hostErr, procErr error
	if all {
		host, hostErr = m.host.Sample(ctx)
		if m.procs != nil && len(m.procs.PIDs()) > 0 {
			procs, procErr = m.procs.Sample(ctx)
		}
	}
	if ctx.Err() != nil {
		return // Stop interrupted this round; its own final round follows
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.st
	if st == nil {
		return
	}
	st.rounds++
	if selfErr != nil {
		st.warn(monitorWarning(selfErr.Error()))
	} else {
		st.self.add(self.Time, self)
		st.selfPeakRSS = max(st.selfPeakRSS, self.Self.RSSBytes)
		st.selfPeakG = max(st.selfPeakG, self.Self.Goroutines)
	}
	if !all {
		return
	}
	if hostErr != nil {
		st.warn(monitorWarning(hostErr.Error()))
	} else {
		st.host.add(host.Time, host)
		st.hostPeakMem = max(st.hostPeakMem, host.Host.MemUsedBytes)
	}
	for _, w := range procs.Warnings {
		st.warn(monitorWarning(w))
	}
	if procErr != nil && len(procs.Warnings) == 0 {
		st.warn(monitorWarning(procErr.Error()))
	}
	var rss uint64
	var threads, fds int32
	for _, p := range procs.Processes {
		tr := st.procs[p.PID]
		if tr == nil {
			tr = &track{}
			st.procs[p.PID] = tr
		}
		tr.add(procs.Time, Sample{Time: procs.Time, Processes: []ProcessSample{p}})
		rss += p.RSSBytes
		threads += p.Threads
		fds += p.OpenFiles
	}
	st.procPeakRSS = max(st.procPeakRSS, rss)
	st.procPeakThreads = max(st.procPeakThreads, threads)
	st.procPeakFDs = max(st.procPeakFDs, fds)
}

// scrapeAll reads every metrics URL in parallel.
func (m *Monitor) scrapeAll(ctx context.Context) {
	if len(m.scrapers) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, m.scrapeTimeout())
	defer cancel()
	type res struct {
		s   Sample
		err error
	}
	out := make([]res, len(m.scrapers))
	var wg sync.WaitGroup
	for i, sc := range m.scrapers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sc.Sample(ctx)
			out[i] = res{s, err}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil && context.Cause(ctx) == context.Canceled {
		return // Stop interrupted this round; its own final round follows
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.st
	if st == nil {
		return
	}
	for i, r := range out {
		tr := &st.scrapes[i]
		tr.tries++
		if r.err != nil {
			tr.fails++
			tr.lastErr = r.err
			continue
		}
		tr.add(r.s.Time, r.s)
	}
}

// track keeps the first and last readings of one stream in a step.
type track struct {
	first, last Sample
	n           int
	// for scrapes
	tries, fails int
	lastErr      error
}

func (t *track) add(at time.Time, s Sample) {
	s.Time = at
	if t.n == 0 {
		t.first = s
	}
	t.last = s
	t.n++
}

func (t *track) seconds() float64 {
	if t.n < 2 {
		return 0
	}
	return t.last.Time.Sub(t.first.Time).Seconds()
}

type stepState struct {
	rounds      int
	self, host  track
	procs       map[int32]*track
	scrapes     []track
	selfPeakRSS uint64
	selfPeakG   int
	hostPeakMem uint64

	procPeakRSS     uint64
	procPeakThreads int32
	procPeakFDs     int32

	warnings []string
	seen     map[string]bool
}

func newStepState(scrapers int) *stepState {
	return &stepState{procs: map[int32]*track{}, scrapes: make([]track, scrapers), seen: map[string]bool{}}
}

// monitorWarning words a sampler's error as a step warning.
func monitorWarning(msg string) string {
	return "monitor: " + strings.TrimPrefix(msg, "probe: ")
}

func (st *stepState) warn(w string) {
	if !st.seen[w] {
		st.seen[w] = true
		st.warnings = append(st.warnings, w)
	}
}

func (m *Monitor) aggregate(st *stepState) StepSample {
	if st == nil {
		return StepSample{}
	}
	out := StepSample{Samples: st.rounds}
	for _, w := range m.specErrs {
		st.warn(w)
	}

	// The generator.
	procs := runtime.GOMAXPROCS(0)
	out.Generator.GOMAXPROCS = procs
	if st.self.n > 0 {
		first, last := st.self.first.Self, st.self.last.Self
		if dt := st.self.seconds(); dt > 0 {
			out.Generator.CPUPercent = max(0, 100*(last.CPUSeconds-first.CPUSeconds)/dt)
			out.Generator.CPUShare = out.Generator.CPUPercent / 100 / float64(procs)
		}
		out.Generator.RSSMB = float64(st.selfPeakRSS) / mb
		out.Generator.Goroutines = st.selfPeakG
		out.Generator.GCPauseP99MS = 1000 * last.GCPauses.Sub(first.GCPauses).Quantile(0.99)
		out.Duration = st.self.last.Time.Sub(st.self.first.Time)
	}

	// The host.
	if st.host.n >= 2 {
		cpuPct, perCore, memMB, load1 := hostStep(st.host.first.Host, st.host.last.Host, st.hostPeakMem)
		out.Host = &result.Host{CPUPercent: cpuPct, CPUPerCorePercent: perCore, MemUsedMB: memMB, Load1: load1}
	}

	// The target: processes first, then what /metrics adds.
	var tgt result.TargetResources
	haveTarget := false
	if len(st.procs) > 0 {
		pids := make([]int32, 0, len(st.procs))
		for pid := range st.procs {
			pids = append(pids, pid)
		}
		sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
		for _, pid := range pids {
			tr := st.procs[pid]
			dt := tr.seconds()
			if dt <= 0 {
				st.warn(fmt.Sprintf("monitor: pid %d: read only once in the step, CPU not measured", pid))
				continue
			}
			pct := max(0, 100*(tr.last.Processes[0].CPUSeconds-tr.first.Processes[0].CPUSeconds)/dt)
			tgt.CPUPercent += pct
			tgt.MaxCPUPercent = max(tgt.MaxCPUPercent, pct)
			haveTarget = true
		}
		tgt.RSSMB = float64(st.procPeakRSS) / mb
		tgt.Threads = st.procPeakThreads
		tgt.OpenFiles = st.procPeakFDs
		haveTarget = haveTarget || st.procPeakRSS > 0
	}
	var wins []window
	for i := range st.scrapes {
		tr := &st.scrapes[i]
		url := m.scrapers[i].URL()
		if tr.fails > 0 {
			st.warn(fmt.Sprintf("monitor: %d of %d scrapes failed: %v", tr.fails, tr.tries, tr.lastErr))
		}
		if tr.n == 0 {
			continue
		}
		if tr.n < 2 {
			st.warn(fmt.Sprintf("monitor: metrics %s: scraped once in the step, rates not computed", url))
		}
		wins = append(wins, window{first: tr.first.Scrape, last: tr.last.Scrape, dt: tr.seconds()})
	}
	if len(wins) > 0 {
		haveTarget = true
		m.targetFromMetrics(&tgt, wins, len(st.procs) > 0, st)
	}
	if len(m.specs) > 0 && len(m.scrapers) == 0 {
		st.warn("monitor: metrics are named but no metrics_url is set")
	}
	if haveTarget {
		out.Target = &tgt
	}
	out.Warnings = st.warnings
	return out
}

// Well-known metrics of Go services instrumented with client_golang.
var (
	selProcCPU     = Selector{Name: "process_cpu_seconds_total"}
	selProcRSS     = Selector{Name: "process_resident_memory_bytes"}
	selProcFDs     = Selector{Name: "process_open_fds"}
	selGoThreads   = Selector{Name: "go_threads"}
	selHeapInuse   = Selector{Name: "go_memstats_heap_inuse_bytes"}
	selGCDuration  = Selector{Name: "go_gc_duration_seconds"}
	selGCPauseHist = Selector{Name: "go_sched_pauses_total_gc_seconds"}
)

// targetFromMetrics fills what the targets' /metrics tell: heap, GC rate
// and pause, the extra metrics, and — when no process was sampled — CPU,
// RSS, threads and open files.
func (m *Monitor) targetFromMetrics(tgt *result.TargetResources, wins []window, haveProcs bool, st *stepState) {
	var heap, gcRate, pauseP99 float64
	var pauses []Histogram
	for _, w := range wins {
		if v, ok := w.gauge(selHeapInuse); ok {
			heap += v
		}
		if v, ok := w.rate(selGCDuration); ok {
			gcRate += v
		}
		if h, ok := w.histDelta(selGCPauseHist); ok {
			pauses = append(pauses, h)
		} else if v, _, ok := w.summaryQuantile(selGCDuration, 0.99); ok {
			// go_gc_duration_seconds is a summary over the target's recent
			// pauses, with quantiles 0, .25, .5, .75 and 1: quantile 1 (the
			// largest recent pause) is the closest to p99 and bounds it.
			pauseP99 = max(pauseP99, v)
		}
		if !haveProcs {
			if v, ok := w.rate(selProcCPU); ok {
				pct := 100 * v
				tgt.CPUPercent += pct
				tgt.MaxCPUPercent = max(tgt.MaxCPUPercent, pct)
			}
			if v, ok := w.gauge(selProcRSS); ok {
				tgt.RSSMB += v / mb
			}
			if v, ok := w.gauge(selGoThreads); ok {
				tgt.Threads += int32(v)
			}
			if v, ok := w.gauge(selProcFDs); ok {
				tgt.OpenFiles += int32(v)
			}
		}
	}
	if len(pauses) > 0 {
		pauseP99 = max(pauseP99, mergeHistograms(pauses).Quantile(0.99))
	}
	tgt.HeapMB = heap / mb
	tgt.GCCyclesPerS = gcRate
	tgt.GCPauseP99MS = 1000 * pauseP99

	for _, sp := range m.specs {
		vals, found := specValues(sp, wins)
		if !found {
			st.warn(fmt.Sprintf("monitor: metric %q: not exposed by any target", sp.key))
			continue
		}
		if tgt.Metrics == nil && len(vals) > 0 {
			tgt.Metrics = map[string]float64{}
		}
		for k, v := range vals {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				tgt.Metrics[k] = v
			}
		}
	}
}

// specValues computes one monitor.metrics entry over all targets. found is
// false when no target exposes the metric (or, for a ratio, one of its
// operands).
func specValues(sp metricSpec, wins []window) (map[string]float64, bool) {
	if sp.num != nil {
		num, ok := amount(*sp.num, wins)
		if !ok {
			return nil, false
		}
		var den float64
		for _, d := range sp.den {
			v, ok := amount(d, wins)
			if !ok {
				return nil, false
			}
			den += v
		}
		if den == 0 {
			return map[string]float64{}, true // no events: the ratio is undefined
		}
		return map[string]float64{sp.key: num / den}, true
	}
	typ, found := familyType(sp.sel, wins)
	if !found {
		return nil, false
	}
	out := map[string]float64{}
	switch typ {
	case dto.MetricType_COUNTER:
		var sum float64
		any := false
		for _, w := range wins {
			if v, ok := w.rate(sp.sel); ok {
				sum += v
				any = true
			}
		}
		if any {
			out[sp.key] = sum
		}
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		var hs []Histogram
		var rate, sum, count float64
		any := false
		for _, w := range wins {
			if h, ok := w.histDelta(sp.sel); ok {
				hs = append(hs, h)
			}
			if v, ok := w.rate(sp.sel); ok {
				rate += v
				any = true
			}
			if n, ok := w.delta(sp.sel); ok {
				s, _ := w.sumDelta(sp.sel)
				sum, count = sum+s, count+n
			}
		}
		if any {
			out[sp.key+".rate"] = rate
		}
		if count > 0 {
			out[sp.key+".mean"] = sum / count
		}
		if h := mergeHistograms(hs); h.Total() > 0 {
			out[sp.key+".p99"] = h.Quantile(0.99)
		}
	case dto.MetricType_SUMMARY:
		var rate, p99 float64
		anyRate, anyQ := false, false
		for _, w := range wins {
			if v, ok := w.rate(sp.sel); ok {
				rate += v
				anyRate = true
			}
			if v, _, ok := w.summaryQuantile(sp.sel, 0.99); ok {
				p99 = max(p99, v)
				anyQ = true
			}
		}
		if anyRate {
			out[sp.key+".rate"] = rate
		}
		if anyQ {
			out[sp.key+".p99"] = p99
		}
	default: // gauge, untyped
		var sum float64
		for _, w := range wins {
			if v, ok := w.gauge(sp.sel); ok {
				sum += v
			}
		}
		out[sp.key] = sum
	}
	return out, true
}

// amount is a ratio operand: a counter's (or histogram's, summary's count)
// growth over the step, a gauge's last value; summed over targets.
func amount(sel Selector, wins []window) (float64, bool) {
	typ, found := familyType(sel, wins)
	if !found {
		return 0, false
	}
	var sum float64
	for _, w := range wins {
		switch typ {
		case dto.MetricType_GAUGE, dto.MetricType_UNTYPED:
			if v, ok := w.gauge(sel); ok {
				sum += v
			}
		default:
			if v, ok := w.delta(sel); ok {
				sum += v
			}
		}
	}
	return sum, true
}

// familyType is the type of the selected metric at the first target that
// exposes it with a matching series.
func familyType(sel Selector, wins []window) (dto.MetricType, bool) {
	for _, w := range wins {
		if f, s := sel.match(w.last); f != nil && len(s) > 0 {
			return f.GetType(), true
		}
	}
	return 0, false
}
