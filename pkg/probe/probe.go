// Package probe samples the resources a load test needs to explain its
// latencies: the host's CPU, memory and load, the target's processes (CPU,
// RSS, threads, open files), the load generator's own process (CPU, RSS,
// goroutines, GC pauses) and the target's Prometheus /metrics.
//
// Every Sampler returns cumulative readings (CPU seconds, counters); the
// Monitor turns the first and last readings of a step into per-step rates
// and deltas, so a step's CPU percentage is exact even with only two
// samples. Sampling problems (a process gone, a missing or malformed
// /metrics) become warning strings, never errors that fail a run.
package probe

import (
	"context"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Sampler takes one reading. Implementations in this package: HostSampler,
// ProcessSampler, SelfSampler and Scraper.
type Sampler interface {
	Sample(ctx context.Context) (Sample, error)
}

var (
	_ Sampler = (*HostSampler)(nil)
	_ Sampler = (*ProcessSampler)(nil)
	_ Sampler = (*SelfSampler)(nil)
	_ Sampler = (*Scraper)(nil)
)

// Sample is one reading of one Sampler; exactly one of the pointer/slice
// fields is set, according to the sampler that produced it.
type Sample struct {
	// Time is when the reading was taken.
	Time time.Time
	// Host is set by HostSampler.
	Host *HostSample
	// Processes is set by ProcessSampler, one entry per live process.
	Processes []ProcessSample
	// Warnings are per-process problems met by ProcessSampler (a process
	// that exited, a permission denied); the reading is still usable.
	Warnings []string
	// Self is set by SelfSampler.
	Self *SelfSample
	// Scrape is set by Scraper.
	Scrape *Scrape
}

// CPUTimes are cumulative CPU seconds of one core (or of all cores).
type CPUTimes struct {
	// Busy is everything but idle and iowait.
	Busy float64
	// Total includes idle and iowait.
	Total float64
	// Steal is the time the hypervisor gave to other guests (part of Busy).
	Steal float64
}

// HostSample is a reading of the machine.
type HostSample struct {
	PerCore      []CPUTimes
	MemUsedBytes uint64
	Load1        float64
}

// ProcessSample is a reading of one process.
type ProcessSample struct {
	PID int32
	// CPUSeconds is user plus system CPU time since the process started.
	CPUSeconds float64
	RSSBytes   uint64
	Threads    int32
	OpenFiles  int32
}

// SelfSample is a reading of the generator's own process.
type SelfSample struct {
	CPUSeconds float64
	RSSBytes   uint64
	Goroutines int
	// GCPauses is the cumulative histogram of stop-the-world GC pauses
	// (runtime/metrics /sched/pauses/total/gc:seconds).
	GCPauses Histogram
}

// Histogram is a non-cumulative bucketed histogram: Counts[i] counts values
// in [Bounds[i], Bounds[i+1]). len(Bounds) == len(Counts)+1; the first and
// last bounds may be infinite.
type Histogram struct {
	Bounds []float64
	Counts []float64
}

// Scrape is one successful read of a target's /metrics.
type Scrape struct {
	URL      string
	Families map[string]*dto.MetricFamily
}
