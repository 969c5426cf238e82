package history_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/changepoint"
	"github.com/bestbefore/bestbefore/pkg/history"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Analyze follows one scenario on one machine at a time, oldest first:
// a drop in the best-before on one machine is found at the run where it
// starts, never blurred by another machine's runs, and runs without the
// figure, or not completed, are left out and counted.
func TestAnalyzeFindsTheRunWhereALevelChanged(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var runs []history.Run // built oldest first, listed newest first
	for i := range 40 {
		level := 500.0
		if i >= 25 {
			level = 400 // the regression lands at the 26th run
		}
		for _, machine := range []string{"m1 ×2", "m2 ×8"} {
			v := level
			if machine == "m2 ×8" {
				v = 1000 // the other machine never changes
			}
			v *= 1 + 0.01*rng.NormFloat64()
			r := history.Run{ID: machine + string(rune('a'+i%26)) + string(rune('a'+i/26)), Scenario: "checkout", Machine: machine,
				Status: result.StatusCompleted, StartedAt: t0.Add(time.Duration(i) * time.Hour), BestBeforeQPS: &v}
			runs = append(runs, r)
		}
	}
	runs = append(runs,
		history.Run{ID: "nobb", Scenario: "checkout", Machine: "m1 ×2", Status: result.StatusCompleted, StartedAt: t0.Add(50 * time.Hour)},
		history.Run{ID: "aborted", Scenario: "checkout", Machine: "m1 ×2", Status: result.StatusAborted, StartedAt: t0.Add(51 * time.Hour)})
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	m, err := history.LookupMetric("best_before")
	if err != nil {
		t.Fatal(err)
	}
	series := history.Analyze(runs, m, changepoint.Options{MaxP: 0.001})
	if len(series) != 2 || series[0].Machine != "m1 ×2" || series[1].Machine != "m2 ×8" {
		t.Fatalf("series %+v, want one per machine, sorted", series)
	}
	m1, m2 := series[0], series[1]
	if len(m1.Runs) != 40 || m1.Skipped != 1 {
		t.Errorf("m1: %d runs, %d skipped; want 40 and the one without a best-before", len(m1.Runs), m1.Skipped)
	}
	if len(m1.Changes) != 1 || m1.Changes[0].Index != 25 || m1.Changes[0].Relative > -0.15 {
		t.Errorf("m1 changes %+v, want one drop of about 20%% at run 25", m1.Changes)
	}
	if len(m2.Changes) != 0 {
		t.Errorf("m2 changes %+v, want none: its level never moved", m2.Changes)
	}
	if _, err := history.LookupMetric("p95"); !errors.Is(err, history.ErrUnknownMetric) {
		t.Errorf("unknown metric: %v", err)
	}
}
