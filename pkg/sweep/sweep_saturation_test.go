package sweep_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// starver takes the generator's cores away from step `from` on: one core
// (GOMAXPROCS 1) shared with goroutines that spin. Stop ends the spinning
// and gives the cores back.
type starver struct {
	from  int
	procs int
	stop  atomic.Bool
	wg    sync.WaitGroup
	once  sync.Once
}

func (s *starver) StepStarted(i int, _ string, _ float64, _ time.Duration) {
	if i < s.from {
		return
	}
	s.once.Do(func() {
		s.procs = runtime.GOMAXPROCS(1)
		for k := 0; k < 4; k++ {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				x := 0
				for !s.stop.Load() {
					for j := 0; j < 1000; j++ {
						x += j
					}
				}
				_ = x
			}()
		}
	})
}

func (s *starver) StepProgress(int, attack.Snapshot) {}
func (s *starver) StepDone(*result.Step)             {}

func (s *starver) Stop() {
	s.stop.Store(true)
	s.wg.Wait()
	if s.procs > 0 {
		runtime.GOMAXPROCS(s.procs)
	}
}

// A generator starved of CPU from its second step on marks those steps
// saturated, the ramp stops there, and no best-before is claimed from
// them: the target (capacity 16,000 QPS) did not limit the run, the
// generator did. The run's warnings, and the summary printed at the end,
// say what to do about it.
func TestSaturatedGeneratorClaimsNoBestBefore(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	ts := testserver.Start(t, testserver.NewSlots(16, time.Millisecond))
	st := &starver{from: 1}
	t.Cleanup(func() {
		st.Stop()
		if runtime.GOMAXPROCS(0) != procs {
			t.Errorf("GOMAXPROCS %d after the test, want %d restored", runtime.GOMAXPROCS(0), procs)
		}
	})
	s := loadScenario(t, fmt.Sprintf(`
target: {url: %s}
traffic: {file: x}
load: {start_qps: 100, step_qps: 100, max_qps: 400, step_duration: 1s, warmup: 200ms, refine: 2}
monitor: {max_send_lag: 5ms}
slo: {error_rate: 1%%}
`, ts.URL))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := sweep.Run(ctx, sweep.Config{Scenario: s, TargetURLs: []string{ts.URL}, TrafficPath: writeTraffic(t, `{"path":"/"}`), Observer: st})
	st.Stop()
	if err != nil {
		t.Fatal(err)
	}
	lowestSat := 0.0
	for _, step := range r.Steps {
		g := step.Generator
		t.Logf("#%d %-6s %4.0f QPS  pass %-5v  sat %-5v %s  lag p99 %.2fms  cpu %.0f%%", step.Index, step.Phase, step.OfferedQPS, step.SLOPass, g.Saturated, g.SaturatedWhy, g.SendLagP99MS, g.CPUPercent)
		if step.Index >= 1 {
			// A starved step is the generator's (saturated, with the
			// reason), or a pass that stands because the spinners held
			// the process (a busy machine) and the step still delivered
			// what was scheduled, saying so: never the target's failure.
			busyPass := step.SLOPass && sweep.MachineStalled(&g) && strings.Contains(strings.Join(step.Warnings, " "), "its pass stands")
			switch {
			case busyPass:
				if step.AchievedQPS < 0.9*step.ScheduledQPS {
					t.Errorf("step %d at %.0f QPS passed on a busy machine delivering %.1f of %.1f QPS scheduled", step.Index, step.OfferedQPS, step.AchievedQPS, step.ScheduledQPS)
				}
			case !g.Saturated || g.SaturatedWhy == "":
				t.Errorf("step %d at %.0f QPS ran starved but is not marked saturated (lag p99 %.2fms, stall p99 %.2fms, CPU %.0f%%)", step.Index, step.OfferedQPS, g.SendLagP99MS, g.StallP99MS, g.CPUPercent)
			}
			if g.Saturated && (lowestSat == 0 || step.OfferedQPS < lowestSat) {
				lowestSat = step.OfferedQPS
			}
		}
	}
	if lowestSat == 0 {
		// Every starved step passed as a busy machine's: the spinners
		// got less than the generator's whole core (a loaded machine),
		// and the steps delivered what they scheduled.
		t.Skipf("no starved step saturated the generator on this machine (all passed on a busy machine): %d steps", len(r.Steps))
	}
	// The ramp stops at the first saturated rate (refinement may still
	// probe below it).
	firstSat := 0.0
	for _, step := range r.Steps {
		if step.Phase != result.PhaseRamp {
			continue
		}
		if firstSat > 0 && step.OfferedQPS > firstSat {
			t.Errorf("the ramp went on to %.0f QPS past the saturated %.0f", step.OfferedQPS, firstSat)
		}
		if step.Generator.Saturated && firstSat == 0 {
			firstSat = step.OfferedQPS
		}
	}
	bb := r.BestBefore
	if bb.Found && bb.QPS >= lowestSat {
		t.Errorf("best-before %.0f QPS claimed at or above the saturated rate %.0f", bb.QPS, lowestSat)
	}
	// The best-before is the highest pass below the lowest saturated
	// rate, and says the generator limited it.
	want := 0.0
	for _, step := range r.Steps {
		if step.SLOPass && !step.Generator.Saturated && !step.Remeasured && step.OfferedQPS < lowestSat {
			want = max(want, step.OfferedQPS)
		}
	}
	if want > 0 {
		if !bb.Found || bb.QPS != want || bb.LimitedBy != "generator" {
			t.Errorf("best-before %+v, want the highest unsaturated pass %.0f QPS, limited by generator", bb, want)
		}
	} else {
		t.Logf("the shared machine spoiled the unstarved first step too: %v %s", r.Steps[0].Failed, r.Steps[0].Generator.SaturatedWhy)
	}

	advice := ""
	for _, w := range r.Warnings {
		if strings.Contains(w, "saturated the generator") {
			advice = w
		}
	}
	for _, want := range []string{"fewer checks", "more cores", "--shard"} {
		if !strings.Contains(advice, want) {
			t.Errorf("result.warnings %q: the saturation advice lacks %q", r.Warnings, want)
		}
	}
	var sum bytes.Buffer
	if err := report.Summary(&sum, r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	// The summary wraps its lines to the terminal: compare the words.
	if !strings.Contains(strings.Join(strings.Fields(sum.String()), " "), advice) {
		t.Errorf("the run's summary does not carry the advice %q:\n%s", advice, sum.String())
	}
}
