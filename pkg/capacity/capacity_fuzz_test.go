package capacity_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/capacity"
)

func FuzzParseGrowth(f *testing.F) {
	for _, s := range []string{"5%/week", "doubling 60d", "0.5%/day", "-99.9%/year", "3%/14d", "doubling 1e-300d", "1e308%/day", "%/", "doubling", "5%/36h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := capacity.ParseGrowth(s)
		if err != nil {
			if !errors.Is(err, capacity.ErrBadGrowth) {
				t.Fatalf("error %v does not wrap ErrBadGrowth", err)
			}
			return
		}
		if math.IsNaN(g.RatePerDay) {
			t.Fatalf("%q: NaN rate", s)
		}
	})
}

func FuzzReadHistory(f *testing.F) {
	for _, s := range []string{
		"date,peak_qps\n2026-10-01,100\n2026-10-02,110\n",
		"peak_qps,date\n5,2026-01-01T00:00:00Z\n",
		"date,peak_qps\n\"2026\n",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		samples, err := capacity.ReadHistory(strings.NewReader(s), "h.csv")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "h.csv") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, x := range samples {
			if !(x.PeakQPS > 0) || math.IsInf(x.PeakQPS, 0) {
				t.Fatalf("accepted peak %g", x.PeakQPS)
			}
		}
		if fit, err := capacity.FitGrowth(samples, 0.9); err == nil && math.IsNaN(fit.Growth.RatePerDay) {
			t.Fatalf("NaN rate from %q", s)
		}
	})
}
