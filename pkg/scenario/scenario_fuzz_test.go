package scenario_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/scenario"
)

// FuzzParse feeds arbitrary YAML and one --set override to the scenario
// parser. Whatever the input, it must not panic; an error must be a
// located scenario error (exit code 2, naming the file or the --set); a
// scenario it accepts must be valid, have a finite bounded ramp, and its
// effective YAML must parse again to the same ramp.
func FuzzParse(f *testing.F) {
	seeds := []struct{ yaml, set string }{
		{"target: {url: http://127.0.0.1:8080}\ntraffic: {file: t.ndjson}\nload: {start_qps: 50, step_qps: 50, max_qps: 200}\n", ""},
		{"target: {url: http://127.0.0.1:8080}\ntraffic: {file: t.ndjson}\nload: {start_qps: 50, max_qps: 200}\nslo: {latency: {p99: 100ms}, error_rate: 0.1%}\n", "load.max_qps=800"},
		{"target: {bundled: {nodes: 3}}\ntraffic: {file: t.ndjson}\nload: {steps: [300], step_duration: 30m}\nabort_on: {error_rate: 50%, for: 2}\n", "limits.max_duration=60d"},
		{"target: {urls: [http://a:1, http://b:2]}\ntraffic: {file: x, order: shuffle}\nload: {start_qps: 1, max_qps: 1}\ncapacity: {node_loss: {verify: true, command: 'true'}}\n", "checks=[{status: 200}]"},
		{"name: x\ntarget: {url: http://127.0.0.1}\ntraffic: {file: t}\nload: {start_qps: 1e-300, step_qps: 1e-300, max_qps: 1e300}\n", "load.step_duration=100ms"},
		{"- a\n- b\n", ""},
		{"", "target.url=http://127.0.0.1"},
		{"load: &a {start_qps: *a}\n", ""},
		{"target: {url: http://127.0.0.1}\ntraffic: {file: t}\nload: {start_qps: 10, max_qps: 20}\n", "load.steps.0=5"},
		{"target: {url: http://127.0.0.1}\ntraffic: {file: t}\nload: {start_qps: 10, max_qps: 20}\n", "slo.latency.p99="},
	}
	for _, s := range seeds {
		f.Add([]byte(s.yaml), s.set)
	}
	f.Fuzz(func(t *testing.T, data []byte, set string) {
		if len(data) > 64<<10 {
			return
		}
		var sets []string
		if set != "" {
			sets = []string{set}
		}
		s, err := scenario.Parse(data, "f.yaml", "/dir", sets)
		if err != nil {
			if !errors.Is(err, scenario.ErrInvalid) {
				t.Fatalf("error is not a scenario error (would not exit 2): %T %v", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "f.yaml") && !strings.HasPrefix(msg, "--set") {
				t.Fatalf("error does not name the file or the override: %q", msg)
			}
			return
		}
		if errs := s.Validate(); len(errs) > 0 {
			t.Fatalf("accepted scenario fails validation: %v", errs)
		}
		rates := s.Rates()
		if len(rates) == 0 || len(rates) > 10001 {
			t.Fatalf("%d ramp rates", len(rates))
		}
		for _, q := range rates {
			if !(q > 0) || math.IsInf(q, 0) {
				t.Fatalf("rate %v in the ramp %v", q, rates)
			}
		}
		eff := s.EffectiveYAML()
		s2, err := scenario.Parse([]byte(eff), "effective.yaml", "/dir", nil)
		if err != nil {
			t.Fatalf("the effective YAML does not parse again: %v\n%s", err, eff)
		}
		r2 := s2.Rates()
		if len(r2) != len(rates) || r2[0] != rates[0] || r2[len(r2)-1] != rates[len(rates)-1] {
			t.Fatalf("ramp changed through the effective YAML: %v -> %v", rates, r2)
		}
	})
}
