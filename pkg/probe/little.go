package probe

import (
	"fmt"
	"math"
)

// Little's-law check thresholds: a gap is reported when the measured
// in-flight mean and λ·W differ by more than both of these.
const (
	littleMaxRelGap = 0.25
	littleMinAbsGap = 1.0
)

// LittleGap checks a step against Little's law, L = λ·W: the mean number of
// requests in flight (sampled by the engine) should equal the achieved rate
// times the mean latency. ratio is inFlightMean / (achievedQPS ×
// meanLatencySeconds), 1 when both sides agree. When they differ by more
// than 25 % and by more than one request, warn says so: the in-flight
// sampling, the latency clock or the request accounting is off, or the step
// was not in a steady state (a queue still building up).
//
// With nothing in flight and nothing predicted, ratio is 1. When λ·W is 0
// but requests were in flight, ratio is 0 (undefined) and warn is set if
// more than one request was. Negative or non-finite inputs give (0, "").
func LittleGap(inFlightMean, achievedQPS, meanLatencySeconds float64) (ratio float64, warn string) {
	for _, v := range []float64{inFlightMean, achievedQPS, meanLatencySeconds} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, ""
		}
	}
	predicted := achievedQPS * meanLatencySeconds
	if predicted == 0 {
		if inFlightMean == 0 {
			return 1, ""
		}
		if inFlightMean > littleMinAbsGap {
			return 0, fmt.Sprintf("little's law: %.1f requests in flight on average but achieved rate × mean latency is 0", inFlightMean)
		}
		return 0, ""
	}
	ratio = inFlightMean / predicted
	gap := math.Abs(inFlightMean - predicted)
	if gap > littleMinAbsGap && gap > littleMaxRelGap*predicted {
		warn = fmt.Sprintf("little's law: %.1f requests in flight on average, but achieved rate × mean latency = %.1f/s × %.4gs = %.1f (ratio %.2f): check in-flight sampling and latency accounting, or the step was not steady",
			inFlightMean, achievedQPS, meanLatencySeconds, predicted, ratio)
	}
	return ratio, warn
}
