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

// HLogOptions shape an interval log.
type HLogOptions struct {
	// Tagged tags each interval with its step ("step-03-400qps"), for
	// readers that select by tag (HistogramLogProcessor -tag ...). Untagged
	// intervals, the default, are what HdrHistogram's tools read with no
	// option.
	Tagged bool
}

// HLog writes the steps' latency histograms as an HdrHistogram interval log
// (format 1.3), one interval per step in run order, each covering the
// step's measured window (after warmup). HdrHistogram's own
// HistogramLogProcessor reads it with no options (the intervals are
// untagged unless o.Tagged). Timestamps are relative to the run's start,
// given to the millisecond in the StartTime and BaseTime header lines.
//
// Values are microseconds, as everywhere in bestbefore; the interval-max
// column is the writer's default (value / 1e6), so it reads in seconds.
func HLog(w io.Writer, r *result.Result, o HLogOptions) error {
	lw := hdrhistogram.NewHistogramLogWriter(w)
	start := r.StartedAt
	if start.IsZero() && len(r.Steps) > 0 {
		start = r.Steps[0].StartedAt
	}
	base := start.UnixMilli()
	secs := strconv.FormatFloat(float64(base)/1000, 'f', 3, 64)
	if err := lw.OutputLogFormatVersion(); err != nil {
		return err
	}
	if err := lw.OutputComment(fmt.Sprintf("[bestbefore %s: latency from intended send time, values in microseconds]", r.Name)); err != nil {
		return err
	}
	// The library writes these two in whole seconds; the reference
	// writer, and readers, use milliseconds.
	if err := lw.OutputComment(fmt.Sprintf("[StartTime: %s (seconds since epoch), %s]", secs, start.UTC().Format("2006-01-02T15:04:05.000Z"))); err != nil {
		return err
	}
	if err := lw.OutputComment(fmt.Sprintf("[BaseTime: %s (seconds since epoch)]", secs)); err != nil {
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
		if o.Tagged {
			h.SetTag(StepTag(s))
		}
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
