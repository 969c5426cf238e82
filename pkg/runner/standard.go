package runner

import (
	"context"
	"io"
	"os"

	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/probe"
	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/sweep"
	"github.com/bestbefore/bestbefore/target"
)

// Standard fills in the parts a real run uses: resource monitoring with
// pkg/probe and reports with pkg/report.
func Standard(o *Options) {
	if o.NewMonitor == nil {
		o.NewMonitor = func(s *scenario.Scenario, pids []int32, metricsURLs []string) sweep.StepWatcher {
			return NewProbeMonitor(s, pids, metricsURLs, h1.Guard{AllowPublic: o.AllowPublic})
		}
	}
	if o.Warnings == nil {
		o.Warnings = CalibrationWarnings
	}
	if o.StartCluster == nil {
		stderr := o.Stderr
		o.StartCluster = func(ctx context.Context, b *scenario.Bundled) (Cluster, error) {
			return StartBundled(ctx, b, stderr)
		}
	}
	if o.WriteReports == nil {
		version := o.Version
		o.WriteReports = func(dir string, r *result.Result) error {
			return report.WriteAll(dir, r, report.Options{Version: version, Now: o.Now})
		}
	}
}

// StartBundled starts the bundled reference service as separate node
// processes behind a balancer on loopback.
func StartBundled(ctx context.Context, b *scenario.Bundled, stderr io.Writer) (*target.Cluster, error) {
	return target.StartCluster(ctx, target.ClusterOptions{Nodes: b.Nodes, Node: BundledConfig(b), Stderr: quietWriter(stderr)})
}

// quietWriter drops the nodes' own diagnostics unless debugging is asked
// for: they would interleave with progress output.
func quietWriter(w io.Writer) io.Writer {
	if os.Getenv("BESTBEFORE_DEBUG") != "" {
		return w
	}
	return nil
}

// NewProbeMonitor samples the host, the target's processes and metrics,
// and the generator itself. Metrics are scraped through guard, as the
// load is sent.
func NewProbeMonitor(s *scenario.Scenario, pids []int32, metricsURLs []string, guard h1.Guard) sweep.StepWatcher {
	cfg := probe.Config{
		Interval:    s.Monitor.Interval.D(),
		PIDs:        append(append([]int32(nil), pids...), s.Monitor.PIDs...),
		ProcessName: s.Monitor.ProcessName,
		MetricsURLs: append(append([]string(nil), metricsURLs...), s.Monitor.MetricsURLs...),
		Metrics:     s.Monitor.Metrics,
		Disabled:    s.Monitor.Disabled,
		Guard:       guard,
	}
	if s.Monitor.MetricsURL != "" {
		cfg.MetricsURLs = append(cfg.MetricsURLs, s.Monitor.MetricsURL)
	}
	return &probeMonitor{m: probe.NewMonitor(cfg)}
}

type probeMonitor struct{ m *probe.Monitor }

func (p *probeMonitor) Start(ctx context.Context) { p.m.Start(ctx) }

func (p *probeMonitor) Stop() sweep.StepResources {
	s := p.m.Stop()
	return sweep.StepResources{
		Target: s.Target, Host: s.Host,
		GeneratorCPUPercent: s.Generator.CPUPercent, GeneratorRSSMB: s.Generator.RSSMB,
		Goroutines: s.Generator.Goroutines, GCPauseP99MS: s.Generator.GCPauseP99MS,
		Warnings: s.Warnings,
	}
}

// BundledConfig maps a scenario's target.bundled block to the bundled
// service's node configuration; unset keys keep the service's defaults.
// The service knows nothing of scenario files: this is where the two
// meet.
func BundledConfig(b *scenario.Bundled) target.Config {
	if b == nil {
		return target.Config{}.WithDefaults()
	}
	c := target.Config{
		Workers:   b.Workers,
		Lookup:    b.Lookup.D(),
		LookupP99: b.LookupP99.D(),
		Cache:     b.Cache,
		Queue:     b.Queue,
		Flags:     append([]string(nil), b.Flags...),
	}
	if bb := b.Batch; bb != nil {
		c.Batch = target.BatchConfig{MaxBatch: bb.MaxBatch, MaxQueueDelay: bb.MaxQueueDelay.D(), BatchCost: bb.BatchCost.D(),
			RowCost: bb.RowCost.D(), Instances: bb.Instances, Queue: bb.Queue}
	}
	if l := b.LLM; l != nil {
		c.LLM = target.LLMConfig{MaxRunning: l.MaxRunning, TokenBudget: l.TokenBudget, IterBase: l.IterBase.D(), IterPerRequest: l.IterPerRequest.D(),
			PrefillPerToken: l.PrefillPerToken.D(), Queue: l.Queue, MaxTokens: l.MaxTokens}
	}
	return c.WithDefaults()
}
