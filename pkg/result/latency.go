package result

import (
	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

// Summarize returns the reported percentiles of h in milliseconds, each by
// stats.ValueAtQuantile (nearest rank, as HdrHistogram's reference
// implementation reads the same histogram). Max is the highest value
// equivalent to the largest sample, as the reference reports it.
func Summarize(h *hdrhistogram.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(v int64) float64 { return float64(v) / 1000 }
	return Latency{
		P50:  stats.QuantileMS(h, 50),
		P90:  stats.QuantileMS(h, 90),
		P99:  stats.QuantileMS(h, 99),
		P999: stats.QuantileMS(h, 99.9),
		Max:  ms(h.Max()),
		Mean: h.Mean() / 1000,
	}
}
