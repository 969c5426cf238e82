package scenario_test

import (
	"strings"
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

// A mistyped key names the key by its path and the key meant, in the
// user's words, never a Go type name.
func TestUnknownKeySuggestsTheKeyMeant(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"load:\n  step_qsp: 100\n", "unknown key load.step_qsp; did you mean load.step_qps?"},
		{"slo:\n  eror_rate: 1%\n", "unknown key slo.eror_rate; did you mean slo.error_rate?"},
		{"target:\n  urll: http://127.0.0.1:1\n", "unknown key target.urll; did you mean target.url?"},
		{"lode:\n  step_qps: 1\n", "unknown key lode; did you mean load?"},
		{"load:\n  zzzzzz: 1\n", "unknown key load.zzzzzz (load takes: "},
	} {
		_, err := scenario.Parse([]byte("name: t\n"+tt.yaml), "s.yaml", ".", nil)
		if err == nil {
			t.Errorf("%q: no error", tt.yaml)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "type ") {
			t.Errorf("%q: %s\nwant %q, and no Go type name", tt.yaml, msg, tt.want)
		}
	}
}
