package scenario_test

import (
	"os"
	"path/filepath"
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

// target.protocol is checked against the URLs it is spoken to: h2 is
// negotiated in TLS, h2c spoken in the clear, the bundled service speaks
// HTTP/1.1; a CA file must hold a certificate.
func TestTargetProtocolFitsTheURLs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "not-a-cert.pem"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ target, want string }{
		{"{url: https://127.0.0.1:1, protocol: h2}", ""},
		{"{url: http://127.0.0.1:1, protocol: h2c}", ""},
		{"{url: http://127.0.0.1:1, protocol: http1}", ""},
		{"{url: http://127.0.0.1:1, protocol: h2}", "h2 needs https:// URLs"},
		{"{url: https://127.0.0.1:1, protocol: h2c}", "h2c needs http:// URLs"},
		{"{url: http://127.0.0.1:1, protocol: http3}", "must be one of http1, h2, h2c"},
		{"{bundled: {nodes: 1}, protocol: h2c}", ""},
		{"{bundled: {nodes: 1}, protocol: grpc}", ""},
		{"{bundled: {nodes: 1, batch: {max_batch: 16, max_queue_delay: 1ms, batch_cost: 5ms, row_cost: 1ms, instances: 2}}, protocol: grpc}", ""},
		{"{bundled: {nodes: 1, batch: {max_batch: -1}}}", "target.bundled.batch.max_batch"},
		{"{bundled: {nodes: 1, batch: {max_queue_delay: 2s}}}", "target.bundled.batch.max_queue_delay"},
		{"{bundled: {nodes: 1}, protocol: h2}", "the bundled service speaks HTTP/1.1 and h2c, not TLS"},
		{"{url: http://127.0.0.1:1, protocol: grpc}", "grpc is for the bundled service"},
		{"{url: grpc://127.0.0.1:1, protocol: h2c}", "does not apply to grpc:// URLs"},
		{"{urls: [grpc://127.0.0.1:1, http://127.0.0.1:2]}", "mixes gRPC and HTTP URLs"},
		{"{url: http://127.0.0.1:1, grpc: {protoset: x.protoset}}", "applies to grpc:// and grpcs:// URLs only"},
		{"{url: grpc://127.0.0.1:1, grpc: {protoset: x.protoset, proto: [a.proto]}}", "set protoset or proto, not both"},
		{"{url: grpc://127.0.0.1:1, grpc: {proto: [a.txt]}}", "is not a .proto file"},
		{"{url: grpc://127.0.0.1:1, connections: -1}", "target.connections"},
		{"{url: grpc://127.0.0.1:1, connections: 4, streams: 50}", ""},
		{"{url: http://127.0.0.1:1, protocol: h2c, connections: 4}", ""},
		{"{url: http://127.0.0.1:1, connections: 4}", "applies to h2, h2c and gRPC"},
		{"{url: http://127.0.0.1:1, protocol: h2c, streams: 4}", "target.streams"},
		{"{url: grpc://127.0.0.1, grpc: {}}", "no port"},
		{"{url: https://127.0.0.1:1, ca_file: missing.pem}", "cannot read the CA file"},
		{"{url: https://127.0.0.1:1, ca_file: not-a-cert.pem}", "holds no PEM certificate"},
		{"{url: http://127.0.0.1:1, stream: ndjson}", ""},
		{"{url: http://127.0.0.1:1, stream: sse}", "target.stream"},
		{"{bundled: {nodes: 1, llm: {max_running: 8, token_budget: 4096, iter_base: 2ms, iter_per_request: 100us, max_tokens: 64}}}", ""},
		{"{bundled: {nodes: 1, llm: {max_running: -1}}}", "target.bundled.llm.max_running"},
		{"{bundled: {nodes: 1, llm: {token_budget: 1}}}", "target.bundled.llm.token_budget"},
		{"{bundled: {nodes: 1, llm: {iter_base: 2m}}}", "target.bundled.llm.iter_base"},
		{"{bundled: {nodes: 1, llm: {max_tokens: 5000}}}", "target.bundled.llm.max_tokens"},
	} {
		src := "target: " + tc.target + "\ntraffic: {file: t}\nload: {start_qps: 1, max_qps: 1}\n"
		_, err := scenario.Parse([]byte(src), "s.yaml", dir, nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.target, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.target, err, tc.want)
		}
	}
}

// The stream objectives are the catalogue's: ttft and itl percentiles,
// goodput's share with the per-request bounds that say what a good
// request is (the attacker's RequestObjectives); a share without any
// bound, or a percentile the catalogue lacks, is an error naming it.
func TestStreamObjectives(t *testing.T) {
	src := "target: {url: http://127.0.0.1:1}\ntraffic: {file: t}\nload: {start_qps: 1, max_qps: 1}\nslo:\n"
	s, err := scenario.Parse([]byte(src+"  ttft: {p99: 250ms}\n  itl: {p50: 20ms}\n  goodput: {share: 99%, ttft: 500ms, tpot: 30ms}\n"), "s.yaml", ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := s.SLO.Bounds
	if b["ttft.p99"] != 250 || b["itl.p50"] != 20 || b["goodput"] != 0.99 || b["goodput.ttft"] != 500 || b["goodput.tpot"] != 30 {
		t.Errorf("bounds %v", b)
	}
	if g := s.SLO.Good(); g.TTFT != 500*time.Millisecond || g.TPOT != 30*time.Millisecond || g.Latency != 0 {
		t.Errorf("per-request bounds %+v", g)
	}
	for _, c := range []struct{ slo, want string }{
		{"  goodput: {share: 99%}\n", "slo.goodput.share"},
		{"  ttft: {p95: 1s}\n", "slo.ttft.p95"},
		{"  goodput: {ttft: 0s}\n", "slo.goodput.ttft"},
	} {
		if _, err := scenario.Parse([]byte(src+c.slo), "s.yaml", ".", nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.slo, err, c.want)
		}
	}
}
