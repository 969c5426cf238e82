package runner_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/runner"
)

// Piped, a long step is not silent: a line every interval (a fake clock
// here), with where the run is and how long is left at most, "—" for a
// latency not yet measured and the error share; the finished step is
// numbered as in result.json and the reports.
func TestLinesReportARunningStepEveryInterval(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	l := &runner.Lines{W: &buf, Interval: 10 * time.Second, Now: func() time.Time { return now }}
	l.Planned(9, 30*time.Second)
	l.StepStarted(2, "ramp", 300, 30*time.Second)
	for _, at := range []time.Duration{2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 21 * time.Second} {
		now = now.Add(at - (now.Sub(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))))
		s := attack.Snapshot{Elapsed: at, Completed: int64(at.Seconds() * 300), Errors: 3, P99: 42 * time.Millisecond, InFlight: 7}
		if at == 10*time.Second {
			s.P99 = 0 // nothing measured yet
		}
		l.StepProgress(2, s)
	}
	l.StepDone(&result.Step{Index: 2, Phase: "ramp", OfferedQPS: 300, AchievedQPS: 299, SLOPass: false, Failed: []string{"error_rate", "latency.p99"}})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want one at 10 s, one at 21 s and the step's:\n%s", len(lines), buf.String())
	}
	for _, w := range []string{"step  2 ramp", "10s/30s", "p99        —", "errors  0.10%", "step 3 of at most 9, at most 3m20s left"} {
		if !strings.Contains(lines[0], w) {
			t.Errorf("line %q lacks %q", lines[0], w)
		}
	}
	if !strings.Contains(lines[1], "21s/30s") || !strings.Contains(lines[1], "p99   42.0ms") {
		t.Errorf("second line %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "step  2 ramp") || !strings.HasSuffix(lines[2], "FAIL error_rate,latency.p99") {
		t.Errorf("finished step %q: want step 2 (as in the reports) and every broken objective", lines[2])
	}
}
