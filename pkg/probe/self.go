package probe

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/shirou/gopsutil/v4/process"
)

// gcPauseMetric is the runtime's histogram of stop-the-world GC pauses.
const gcPauseMetric = "/sched/pauses/total/gc:seconds"

// SelfSampler reads the calling process: the load generator watching
// itself. It is safe for use by one goroutine at a time.
type SelfSampler struct {
	proc *process.Process
	rm   []metrics.Sample
}

// NewSelfSampler returns a sampler of the calling process.
func NewSelfSampler() *SelfSampler {
	return &SelfSampler{rm: []metrics.Sample{{Name: gcPauseMetric}}}
}

// Sample reads the process's CPU time, RSS, goroutine count and GC pauses.
func (s *SelfSampler) Sample(ctx context.Context) (Sample, error) {
	now := time.Now()
	if s.proc == nil {
		p, err := process.NewProcessWithContext(ctx, int32(os.Getpid()))
		if err != nil {
			return Sample{}, fmt.Errorf("probe: self: %w", err)
		}
		s.proc = p
	}
	ss := &SelfSample{Goroutines: runtime.NumGoroutine()}
	if sec, ok := selfCPUSeconds(); ok {
		ss.CPUSeconds = sec // getrusage counts microseconds, /proc 10 ms ticks
	} else {
		t, err := s.proc.TimesWithContext(ctx)
		if err != nil {
			return Sample{}, fmt.Errorf("probe: self: cpu times: %w", err)
		}
		ss.CPUSeconds = t.User + t.System
	}
	if m, err := s.proc.MemoryInfoWithContext(ctx); err == nil {
		ss.RSSBytes = m.RSS
	}
	metrics.Read(s.rm)
	if v := s.rm[0].Value; v.Kind() == metrics.KindFloat64Histogram {
		h := v.Float64Histogram()
		// Bounds never change for a metric, so they are shared.
		counts := make([]float64, len(h.Counts))
		for i, c := range h.Counts {
			counts[i] = float64(c)
		}
		ss.GCPauses = Histogram{Bounds: h.Buckets, Counts: counts}
	}
	return Sample{Time: now, Self: ss}, nil
}
