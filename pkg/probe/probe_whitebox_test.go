package probe

import (
	"math"
	"strings"
	"testing"
)

func mustParse(t *testing.T, text string) *Scrape {
	t.Helper()
	fams, err := ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return &Scrape{Families: fams}
}

// TestWindowDelta covers counters that restart (a target node restarted
// mid-step) and series born during the step.
func TestWindowDelta(t *testing.T) {
	first := mustParse(t, `# TYPE c counter
c{node="a"} 100
c{node="b"} 500
c{node="gone"} 7
`)
	last := mustParse(t, `# TYPE c counter
c{node="a"} 150
c{node="b"} 20
c{node="new"} 5
`)
	w := window{first: first, last: last, dt: 2}
	d, ok := w.delta(Selector{Name: "c"})
	// a grew 50; b restarted and counted 20 since; new counted 5 since it
	// appeared; the vanished series adds nothing.
	if !ok || d != 75 {
		t.Errorf("delta %g %v, want 75", d, ok)
	}
	if r, _ := w.rate(Selector{Name: "c", Labels: map[string]string{"node": "a"}}); r != 25 {
		t.Errorf("rate of node a %g, want 25/s", r)
	}
	if _, ok := (window{first: last, last: last, dt: 0}).rate(Selector{Name: "c"}); ok {
		t.Error("a rate from a single scrape")
	}
	if _, ok := w.delta(Selector{Name: "missing"}); ok {
		t.Error("delta of a missing metric")
	}
}

func TestMergeHistogramsDifferentBounds(t *testing.T) {
	a := Histogram{Bounds: []float64{0, 1, 2, math.Inf(1)}, Counts: []float64{10, 10, 0}}
	b := Histogram{Bounds: []float64{0, 2, math.Inf(1)}, Counts: []float64{20, 0}}
	m := mergeHistograms([]Histogram{a, b})
	if m.Total() != 40 {
		t.Fatalf("merged %+v: total %g, want 40", m, m.Total())
	}
	// All 40 observations are below 2, so no quantile can exceed 2.
	if q := m.Quantile(0.99); q > 2 || q < 1 {
		t.Errorf("q99 %g, want in [1,2]", q)
	}
}

func TestPromHistogramDelta(t *testing.T) {
	first := mustParse(t, `# TYPE h histogram
h_bucket{le="0.1"} 10
h_bucket{le="1"} 10
h_bucket{le="+Inf"} 10
h_sum 0.5
h_count 10
`)
	last := mustParse(t, `# TYPE h histogram
h_bucket{le="0.1"} 10
h_bucket{le="1"} 110
h_bucket{le="+Inf"} 110
h_sum 50
h_count 110
`)
	w := window{first: first, last: last, dt: 1}
	h, ok := w.histDelta(Selector{Name: "h"})
	if !ok || h.Total() != 100 {
		t.Fatalf("delta %+v %v: want the 100 observations of the step", h, ok)
	}
	// Every new observation is in (0.1, 1]: the step's p50 is there, not
	// pulled down by the 10 fast ones from before the step.
	if q := h.Quantile(0.5); q < 0.1 || q > 1 {
		t.Errorf("p50 %g, want in (0.1, 1]", q)
	}
}
