package stats_test

import (
	"math"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

func TestStudentTQuantile(t *testing.T) {
	// Standard table values.
	for _, c := range []struct{ p, df, want float64 }{
		{0.95, 1, 6.3138}, {0.95, 2, 2.9200}, {0.95, 5, 2.0150}, {0.95, 10, 1.8125},
		{0.975, 10, 2.2281}, {0.975, 30, 2.0423}, {0.95, 1e6, 1.6449}, {0.05, 5, -2.0150},
	} {
		if got := stats.StudentTQuantile(c.p, c.df); math.Abs(got-c.want) > 1e-3 {
			t.Errorf("t(%g, %g) = %.4f, want %.4f", c.p, c.df, got, c.want)
		}
	}
}

// Two-sided p-values against the quantiles of the same table.
func TestStudentTTwoSided(t *testing.T) {
	for _, c := range []struct{ t, df, want float64 }{
		{2.2281, 10, 0.05}, {6.3138, 1, 0.10}, {2.0423, 30, 0.05}, {-2.0150, 5, 0.10}, {0, 7, 1},
	} {
		if got := stats.StudentTTwoSided(c.t, c.df); math.Abs(got-c.want) > 1e-4 {
			t.Errorf("P(|T| ≥ %g), df %g = %.5f, want %.5f", c.t, c.df, got, c.want)
		}
	}
}
