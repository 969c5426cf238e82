package sweep_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// The pre-run check resolves each target once; the HTTP client resolves
// again at every dial. Without AllowPublic the client itself refuses a
// public address, so a name whose address changes during the run (or a
// caller that skips the pre-run check) still cannot load the internet.
func TestRunNeverDialsPublicAddress(t *testing.T) {
	tr := writeTraffic(t, `{"path":"/"}`)
	s := loadScenario(t, `name: guard
target: {url: "http://192.0.2.1:9"}
traffic: {file: `+tr+`}
load: {start_qps: 20, step_qps: 20, max_qps: 20, step_duration: 500ms, warmup: 0s, timeout: 1s}
slo: {latency: {p99: 100ms}}
monitor: {disabled: true}
`)
	r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, TargetURLs: []string{"http://192.0.2.1:9"}, TrafficPath: tr})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Steps) == 0 {
		t.Fatal("no step ran")
	}
	st := r.Steps[0]
	if st.Requests == 0 || st.Successes != 0 || st.Errors != st.Requests {
		t.Fatalf("step: %d requests, %d successes, %d errors", st.Requests, st.Successes, st.Errors)
	}
	found := false
	for _, w := range st.Warnings {
		found = found || strings.Contains(w, "public address")
	}
	if !found {
		t.Errorf("no warning says the address was refused as public: %q (classes %v)", st.Warnings, st.ErrorsByClass)
	}
}
