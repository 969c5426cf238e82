package history

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/changepoint"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Metric is a figure whose history changes and report follow: its name,
// its unit as printed, and where a run holds it.
type Metric struct {
	Name, Unit string
	Of         func(Run) *float64
}

// metrics are the figures a run's row holds.
var metrics = []Metric{
	{"best_before", " QPS", func(r Run) *float64 { return r.BestBeforeQPS }},
	{"n_minus_1", " QPS", func(r Run) *float64 { return r.NMinus1QPS }},
	{"p99", " ms", func(r Run) *float64 { return r.P99MS }},
	{"error_rate", "", func(r Run) *float64 { return r.ErrorRate }},
	{"best_before_tokens", " tokens/s", func(r Run) *float64 { return r.BestBeforeTokensPerS }},
	{"ttft_p99", " ms", func(r Run) *float64 { return r.TTFTP99MS }},
}

// Metrics are the names of the figures history follows.
func Metrics() []string {
	out := make([]string, len(metrics))
	for i, m := range metrics {
		out[i] = m.Name
	}
	return out
}

// ErrUnknownMetric is a metric name history does not follow.
var ErrUnknownMetric = errors.New("history: unknown metric")

// LookupMetric finds a metric by name; a name not in the catalogue is
// ErrUnknownMetric, naming the ones that are.
func LookupMetric(name string) (Metric, error) {
	for _, m := range metrics {
		if m.Name == name {
			return m, nil
		}
	}
	return Metric{}, fmt.Errorf("%w %q: want one of %s", ErrUnknownMetric, name, strings.Join(Metrics(), ", "))
}

// Series is one scenario's runs on one machine, oldest first: what change
// points are looked for in. Runs on different machines are never mixed.
type Series struct {
	Scenario string `json:"scenario"`
	Machine  string `json:"machine"`
	Metric   string `json:"metric"`
	Runs     []Run  `json:"-"`
	// Values are the metric of Runs, in order; Skipped counts the
	// completed runs without it (no best-before found).
	Values  []float64 `json:"-"`
	Skipped int       `json:"skipped"`
	Changes []Change  `json:"changes"`
}

// Change is a change point with the run it starts at.
type Change struct {
	Run       string    `json:"run"`
	Commit    string    `json:"commit"`
	Branch    string    `json:"branch"`
	StartedAt time.Time `json:"started_at"`
	// Index is the run's position in the series, from 0.
	Index    int     `json:"index"`
	Before   float64 `json:"before"`
	After    float64 `json:"after"`
	Relative float64 `json:"relative_change"`
	P        float64 `json:"p_value"`
}

// Analyze groups the completed runs (newest first, as List gives them)
// by scenario and machine and finds the change points of the metric in
// each, oldest first.
func Analyze(runs []Run, m Metric, o changepoint.Options) []*Series {
	by := map[[2]string]*Series{}
	var order []*Series
	for i := len(runs) - 1; i >= 0; i-- { // runs come newest first
		r := runs[i]
		if r.Status != result.StatusCompleted {
			continue
		}
		k := [2]string{r.Scenario, r.Machine}
		s := by[k]
		if s == nil {
			s = &Series{Scenario: r.Scenario, Machine: r.Machine, Metric: m.Name, Changes: []Change{}}
			by[k] = s
			order = append(order, s)
		}
		v := m.Of(r)
		if v == nil {
			s.Skipped++
			continue
		}
		s.Runs = append(s.Runs, r)
		s.Values = append(s.Values, *v)
	}
	for _, s := range order {
		for _, c := range changepoint.Detect(s.Values, o) {
			r := s.Runs[c.Index]
			s.Changes = append(s.Changes, Change{Run: r.ID, Commit: r.Commit, Branch: r.Branch, StartedAt: r.StartedAt, Index: c.Index,
				Before: c.Before, After: c.After, Relative: c.Relative(), P: c.P})
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].Scenario != order[j].Scenario {
			return order[i].Scenario < order[j].Scenario
		}
		return order[i].Machine < order[j].Machine
	})
	return order
}

// ShortID is the first 12 characters of a run id, as history lists it; an
// id stored shorter (by hand, or another tool) is shown whole.
func ShortID(id string) string { return id[:min(12, len(id))] }
