package capacity_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/capacity"
)

func TestReadHistory(t *testing.T) {
	in := "date,peak_qps,note\n2026-10-01,100,first\n# a comment\n2026-10-02, 101.5,\n2026-10-03T00:00:00Z,103,\n"
	s, err := capacity.ReadHistory(strings.NewReader(in), "h.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 3 || s[1].PeakQPS != 101.5 || s[2].Date.Format(time.DateOnly) != "2026-10-03" {
		t.Errorf("got %+v", s)
	}
}

func TestReadHistory_Errors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "h.csv:1: empty file"},
		{"day,qps\n2026-10-01,1\n", "h.csv:1: header"},
		{"date,peak_qps\n", "h.csv:1: no rows"},
		{"date,peak_qps\n2026-10-01,100\n2026-13-01,100\n", "h.csv:3: date: \"2026-13-01\" is not a date"},
		{"date,peak_qps\n2026-10-01,lots\n", "h.csv:2: peak_qps: \"lots\" is not a number"},
		{"date,peak_qps\n2026-10-01,0\n", "h.csv:2: peak_qps: 0: a peak load must be positive"},
		{"date,peak_qps\n2026-10-01,1\n2026-10-01,2\n", "h.csv:3: date: 2026-10-01 repeats line 2"},
		{"date,peak_qps\n2026-10-01\n", "h.csv:2: 1 fields"},
		{"date,peak_qps\n\"2026-10-01,1\n", "h.csv:2:"},
	}
	for _, c := range cases {
		_, err := capacity.ReadHistory(strings.NewReader(c.in), "h.csv")
		var he *capacity.HistoryError
		if !errors.As(err, &he) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want prefix %q", c.in, err, c.want)
		}
	}
}

func series(rate, start float64, days int, noise float64, rng *rand.Rand) []capacity.PeakSample {
	var s []capacity.PeakSample
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for d := 0; d < days; d++ {
		v := start * math.Exp(rate*float64(d))
		if noise > 0 {
			v *= math.Exp(noise * rng.NormFloat64())
		}
		s = append(s, capacity.PeakSample{Date: t0.AddDate(0, 0, d), PeakQPS: v})
	}
	return s
}

func TestFitGrowth_Exact(t *testing.T) {
	rate := math.Ln2 / 60
	f, err := capacity.FitGrowth(series(rate, 200, 30, 0, nil), 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(f.Growth.RatePerDay-rate) > 1e-12 || math.Abs(f.Growth.DoublingDays()-60) > 1e-6 {
		t.Errorf("rate %g (doubling %g d), want %g (60 d)", f.Growth.RatePerDay, f.Growth.DoublingDays(), rate)
	}
	if w := f.Range.High.RatePerDay - f.Range.Low.RatePerDay; w > 1e-9 {
		t.Errorf("interval width %g on exact data, want ~0", w)
	}
	if got := f.PeakAt(f.First.AddDate(0, 0, 60)); math.Abs(got-400) > 1e-6 {
		t.Errorf("fitted peak 60 days in = %g, want 400", got)
	}
}

// TestFitGrowth_Coverage checks the interval is honest: over many noisy
// histories, the 90% interval must contain the true rate about 90% of the
// time, and always on the seed the plan command's test uses.
func TestFitGrowth_Coverage(t *testing.T) {
	rate := math.Ln2 / 45
	const trials = 400
	hit := 0
	for i := range trials {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		f, err := capacity.FitGrowth(series(rate, 300, 20, 0.08, rng), 0.9)
		if err != nil {
			t.Fatal(err)
		}
		if f.Range.Low.RatePerDay <= rate && rate <= f.Range.High.RatePerDay {
			hit++
		}
	}
	cov := float64(hit) / trials
	if cov < 0.85 || cov > 0.95 {
		t.Errorf("90%% interval covered the true rate in %.1f%% of %d trials", cov*100, trials)
	}
	t.Logf("coverage %.1f%%", cov*100)
}

func TestFitGrowth_Insufficient(t *testing.T) {
	_, err := capacity.FitGrowth(series(0.01, 100, 2, 0, nil), 0.9)
	if !errors.Is(err, capacity.ErrInsufficientHistory) {
		t.Errorf("err = %v", err)
	}
}

func ExampleFitGrowth() {
	var s []capacity.PeakSample
	for d := range 5 {
		s = append(s, capacity.PeakSample{Date: time.Date(2026, 1, 1+7*d, 0, 0, 0, 0, time.UTC), PeakQPS: 100 * math.Pow(1.05, float64(d))})
	}
	f, _ := capacity.FitGrowth(s, 0.9)
	fmt.Printf("%.2f%%/week\n", f.Growth.PercentPer(7))
	// Output: 5.00%/week
}
