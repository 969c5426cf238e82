package probe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
)

// HostSampler reads the machine's per-core CPU times, used memory and
// 1-minute load average.
type HostSampler struct{}

// NewHostSampler returns a HostSampler.
func NewHostSampler() *HostSampler { return &HostSampler{} }

// Sample reads the host. Memory and load failures are tolerated (left zero)
// on platforms that lack them; a CPU failure is an error.
func (h *HostSampler) Sample(ctx context.Context) (Sample, error) {
	now := time.Now()
	times, err := cpu.TimesWithContext(ctx, true)
	if err != nil {
		return Sample{}, fmt.Errorf("probe: host cpu times: %w", err)
	}
	if len(times) == 0 {
		return Sample{}, errors.New("probe: host cpu times: none reported")
	}
	hs := &HostSample{PerCore: make([]CPUTimes, len(times))}
	for i, t := range times {
		hs.PerCore[i] = TimesOf(t)
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		hs.MemUsedBytes = vm.Used
	}
	if la, err := load.AvgWithContext(ctx); err == nil {
		hs.Load1 = la.Load1
	}
	return Sample{Time: now, Host: hs}, nil
}

// TimesOf folds gopsutil's times into busy, total and steal. On Linux
// guest time is already included in user time, so it is not added again.
func TimesOf(t cpu.TimesStat) CPUTimes {
	busy := t.User + t.System + t.Nice + t.Irq + t.Softirq + t.Steal
	return CPUTimes{Busy: busy, Total: busy + t.Idle + t.Iowait, Steal: t.Steal}
}

// hostStep turns the first and last readings of a step into result values:
// CPU from time deltas, memory as the peak seen, load as the last value.
func hostStep(first, last *HostSample, peakMem uint64) (cpuPct float64, perCore []float64, memUsedMB, load1 float64) {
	n := min(len(first.PerCore), len(last.PerCore))
	var busy, total float64
	perCore = make([]float64, n)
	for i := 0; i < n; i++ {
		db := last.PerCore[i].Busy - first.PerCore[i].Busy
		dt := last.PerCore[i].Total - first.PerCore[i].Total
		if dt > 0 && db >= 0 {
			perCore[i] = clamp(100*db/dt, 0, 100)
			busy += db
			total += dt
		}
	}
	if total > 0 {
		cpuPct = clamp(100*busy/total, 0, 100)
	}
	return cpuPct, perCore, float64(max(peakMem, last.MemUsedBytes)) / mb, last.Load1
}

const mb = 1 << 20

func clamp(v, lo, hi float64) float64 { return max(lo, min(hi, v)) }
