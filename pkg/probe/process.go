package probe

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/process"
)

// ProcessSampler reads a set of target processes, given by PID or found by
// name. It is safe for use by one goroutine at a time.
type ProcessSampler struct {
	mu    sync.Mutex
	pids  []int32
	name  string
	procs map[int32]*process.Process
	found []int32 // PIDs matched by name at the last Discover
}

// NewProcessSampler samples the given PIDs and, when name is not empty, the
// processes whose name is exactly name (the generator's own process is
// never matched). Call Discover to look the name up.
func NewProcessSampler(pids []int32, name string) *ProcessSampler {
	return &ProcessSampler{pids: slices.Clone(pids), name: name, procs: map[int32]*process.Process{}}
}

// Discover looks up the processes named as configured, replacing those found
// before. It lists every process on the machine, so it is meant to run once
// per step, not on every sample. It returns the PIDs found.
func (p *ProcessSampler) Discover(ctx context.Context) ([]int32, error) {
	if p.name == "" {
		return nil, nil
	}
	found, err := FindProcesses(ctx, p.name)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	p.found = found
	return slices.Clone(found), nil
}

// FindProcesses returns the PIDs of the processes whose name is exactly
// name, excluding the calling process.
func FindProcesses(ctx context.Context, name string) ([]int32, error) {
	procs, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("probe: list processes: %w", err)
	}
	self := int32(os.Getpid())
	var pids []int32
	for _, pr := range procs {
		if pr.Pid == self {
			continue
		}
		n, err := pr.NameWithContext(ctx)
		if err != nil || n != name {
			continue
		}
		pids = append(pids, pr.Pid)
	}
	slices.Sort(pids)
	return pids, nil
}

// PIDs returns the PIDs the sampler reads: the configured ones and those
// found by name.
func (p *ProcessSampler) PIDs() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := append(slices.Clone(p.pids), p.found...)
	slices.Sort(all)
	return slices.Compact(all)
}

// Sample reads every process. A process that cannot be read (exited,
// permission denied) is left out and named in Sample.Warnings; Sample
// fails only when no process could be read at all.
func (p *ProcessSampler) Sample(ctx context.Context) (Sample, error) {
	pids := p.PIDs()
	s := Sample{Time: time.Now()}
	var lastErr error
	for _, pid := range pids {
		ps, err := p.read(ctx, pid)
		if err != nil {
			lastErr = err
			s.Warnings = append(s.Warnings, err.Error())
			continue
		}
		s.Processes = append(s.Processes, ps)
	}
	if len(pids) > 0 && len(s.Processes) == 0 {
		return s, lastErr
	}
	return s, nil
}

func (p *ProcessSampler) read(ctx context.Context, pid int32) (ProcessSample, error) {
	p.mu.Lock()
	pr := p.procs[pid]
	p.mu.Unlock()
	if pr == nil {
		var err error
		pr, err = process.NewProcessWithContext(ctx, pid)
		if err != nil {
			return ProcessSample{}, fmt.Errorf("probe: pid %d: %w", pid, err)
		}
		p.mu.Lock()
		p.procs[pid] = pr
		p.mu.Unlock()
	}
	t, err := pr.TimesWithContext(ctx)
	if err != nil {
		p.forget(pid)
		return ProcessSample{}, fmt.Errorf("probe: pid %d: cpu times: %w", pid, err)
	}
	m, err := pr.MemoryInfoWithContext(ctx)
	if err != nil {
		p.forget(pid)
		return ProcessSample{}, fmt.Errorf("probe: pid %d: memory: %w", pid, err)
	}
	ps := ProcessSample{PID: pid, CPUSeconds: t.User + t.System, RSSBytes: m.RSS}
	// Threads and open files are best effort: another user's process may
	// hide its fd table.
	if n, err := pr.NumThreadsWithContext(ctx); err == nil {
		ps.Threads = n
	}
	if n, err := pr.NumFDsWithContext(ctx); err == nil {
		ps.OpenFiles = n
	}
	return ps, nil
}

// forget drops a cached process handle so a reused PID is read afresh.
func (p *ProcessSampler) forget(pid int32) {
	p.mu.Lock()
	delete(p.procs, pid)
	p.mu.Unlock()
}
