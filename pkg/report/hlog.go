package report

import (
	"fmt"
	"io"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// HLog writes the steps' latency histograms as an HdrHistogram interval log
// (format 1.3), one interval per step in run order, tagged
// "step-NN-<rate>qps" (hold steps "hold-NN-<rate>qps"). Each interval covers
// the step's measured window (after warmup). Timestamps are relative to the
// run's start, given in the StartTime and BaseTime header lines.
//
// Values are microseconds, as everywhere in bestbefore; the interval-max
// column is the writer's default (value / 1e6), so it reads in seconds.
func HLog(w io.Writer, r *result.Result) error {
	lw := hdrhistogram.NewHistogramLogWriter(w)
	start := r.StartedAt
	if start.IsZero() && len(r.Steps) > 0 {
		start = r.Steps[0].StartedAt
	}
	// BaseTime is written in whole seconds; use the same base for intervals
	// so readers and writer agree.
	base := start.Unix() * 1000
	if err := lw.OutputLogFormatVersion(); err != nil {
		return err
	}
	if err := lw.OutputComment(fmt.Sprintf("[bestbefore %s: latency from intended send time, values in microseconds]", r.Name)); err != nil {
		return err
	}
	if err := lw.OutputStartTime(start.UnixMilli()); err != nil {
		return err
	}
	if err := lw.OutputBaseTime(base); err != nil {
		return err
	}
	lw.SetBaseTime(base)
	if err := lw.OutputLegend(); err != nil {
		return err
	}
	for _, s := range r.Steps {
		h, err := stats.Decode(s.Histogram)
		if err != nil {
			return fmt.Errorf("report: step %d: %w", s.Index, err)
		}
		h.SetTag(StepTag(s))
		from := s.StartedAt.Add(time.Duration(s.WarmupS * float64(time.Second)))
		if s.StartedAt.IsZero() {
			from = start
		}
		h.SetStartTimeMs(from.UnixMilli())
		h.SetEndTimeMs(from.Add(time.Duration(s.DurationS * float64(time.Second))).UnixMilli())
		if err := lw.OutputIntervalHistogram(h); err != nil {
			return fmt.Errorf("report: step %d: %w", s.Index, err)
		}
	}
	return nil
}

// StepTag is the interval-log tag of a step, e.g. "step-03-400qps".
func StepTag(s result.Step) string {
	prefix := "step"
	if s.Phase == result.PhaseHold {
		prefix = "hold"
	}
	return fmt.Sprintf("%s-%02d-%sqps", prefix, s.Index, strconv.FormatFloat(s.OfferedQPS, 'f', -1, 64))
}
