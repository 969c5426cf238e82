package scenario_test

import (
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/scenario"
)

func TestDefaultMaxSendLag(t *testing.T) {
	tests := []struct {
		yaml string
		want time.Duration
	}{
		{"", time.Millisecond},
		{"slo: {latency: {p99: 5ms}}", time.Millisecond},
		{"slo: {latency: {p99: 100ms, p999: 250ms}}", 10 * time.Millisecond},
		{"slo: {latency: {p50: 20ms, p99: 100ms}}", 2 * time.Millisecond},
		{"slo: {latency: {p99: 100ms}}\nmonitor: {max_send_lag: 300us}", 300 * time.Microsecond},
	}
	for _, tt := range tests {
		src := "target: {url: http://127.0.0.1:1}\ntraffic: {file: t}\nload: {start_qps: 1, max_qps: 1}\n" + tt.yaml
		s, err := scenario.Parse([]byte(src), "s.yaml", "", nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		if got := s.Monitor.MaxSendLag.D(); got != tt.want {
			t.Errorf("%q: max_send_lag %v, want %v", tt.yaml, got, tt.want)
		}
	}
}
