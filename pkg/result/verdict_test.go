package result_test

import (
	"testing"

	"github.com/bestbefore/bestbefore/pkg/result"
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
