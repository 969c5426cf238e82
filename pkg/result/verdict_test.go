package result_test

import (
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

func TestJudgeThroughput(t *testing.T) {
	r := 0.97
	o := result.Objectives{Throughput: &r}
	tests := []struct {
		name string
		step result.Step
		fail bool
	}{
		{"full rate", result.Step{OfferedQPS: 100, AchievedQPS: 100, DurationS: 3, WarmupS: 1, Requests: 300}, false},
		{"one request short at a low rate", result.Step{OfferedQPS: 10, AchievedQPS: 29.0 / 3, DurationS: 3, WarmupS: 1, Requests: 30}, false},
		{"falling behind", result.Step{OfferedQPS: 212, AchievedQPS: 196, DurationS: 1.5, WarmupS: 0.5, Requests: 318}, true},
		{"no warmup: the first in flight forgiven", result.Step{OfferedQPS: 100, AchievedQPS: 95, DurationS: 1, Requests: 100, LatencyMS: result.Latency{P50: 40}}, false},
		{"no warmup, far behind", result.Step{OfferedQPS: 100, AchievedQPS: 80, DurationS: 1, Requests: 100, LatencyMS: result.Latency{P50: 40}}, true},
		{"a shard judged on its share", result.Step{OfferedQPS: 200, SentQPS: 100, AchievedQPS: 99, DurationS: 3, WarmupS: 1, Requests: 300}, false},
	}
	for _, tt := range tests {
		failed := false
		for _, f := range result.Judge(&tt.step, o) {
			if f.Objective == "throughput" {
				failed = true
			}
		}
		if failed != tt.fail {
			t.Errorf("%s: throughput failed = %v, want %v", tt.name, failed, tt.fail)
		}
	}
}

// Percentiles are within the histogram's three significant digits of the
// exact values, and each is the one stats.ValueAtQuantile reads.
func TestSummarizeKnownDistribution(t *testing.T) {
	r := stats.NewRecorder()
	for i := 1; i <= 10000; i++ { // 0.1 ms .. 1000 ms, uniform
		r.Record(time.Duration(i) * 100 * time.Microsecond)
	}
	l := result.Summarize(r.H)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", l.P50, 500}, {"p90", l.P90, 900}, {"p99", l.P99, 990}, {"p99.9", l.P999, 999}, {"max", l.Max, 1000}, {"mean", l.Mean, 500.05},
	} {
		if d := c.got/c.want - 1; d < -0.001 || d > 0.001 {
			t.Errorf("%s = %.3f ms, want %.3f ±0.1%%", c.name, c.got, c.want)
		}
	}
	if got := stats.QuantileMS(r.H, 99); got != l.P99 {
		t.Errorf("QuantileMS(99) = %v, Summarize p99 = %v", got, l.P99)
	}
	if result.Summarize(nil) != result.Summarize(stats.New()) || result.Summarize(nil) != (result.Latency{}) {
		t.Error("an empty histogram must summarize to zeros")
	}
}
