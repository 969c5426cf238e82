package cmd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// A live A/B run sends the same requests to both sides at the same rate,
// and `compare` reads its result directly: a candidate 40% slower is a
// regression, the same server on both sides is not.
func TestLiveAB(t *testing.T) {
	if testing.Short() {
		t.Skip("two A/B runs of ~6 s")
	}
	for _, tc := range []struct {
		name      string
		candidate time.Duration
		wantExit  int
	}{
		{"slower candidate", 14 * time.Millisecond, 1},
		{"same service", 10 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := testserver.NewSlots(64, 10*time.Millisecond)
			base.Record = true
			cand := testserver.NewSlots(64, tc.candidate)
			cand.Record = true
			bs, cs := testserver.Start(t, base), testserver.Start(t, cand)
			lines := ""
			for i := 0; i < 50; i++ {
				lines += fmt.Sprintf(`{"path":"/q/%d"}`+"\n", i)
			}
			dir := writeFiles(t, map[string]string{
				"ab.yaml": fmt.Sprintf(`name: ab
target:
  baseline: {url: %s}
  candidate: {url: %s}
traffic: {file: t.ndjson}
load: {start_qps: 100, step_qps: 50, max_qps: 150, step_duration: 3s, warmup: 500ms}
slo: {latency: {p99: 500ms}}
monitor: {max_send_lag: 50ms}
`, bs.URL, cs.URL),
				"t.ndjson": lines,
			})
			out := filepath.Join(dir, "out")
			code, _, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "ab.yaml"), "--out", out, "--quiet")
			if code != 0 {
				t.Fatalf("run exit %d: %s", code, stderr)
			}
			b, _ := os.ReadFile(filepath.Join(out, "result.json"))
			if err := result.ValidateJSON(b); err != nil {
				t.Fatalf("A/B result does not match the schema: %v", err)
			}
			var r result.Result
			json.Unmarshal(b, &r)
			bsd, csd := r.Sides["baseline"], r.Sides["candidate"]
			if bsd == nil || csd == nil || len(bsd.Steps) != 2 || len(csd.Steps) != 2 {
				t.Fatalf("sides %v", r.Sides)
			}
			// Same traffic, same rate, on both sides.
			bseen, cseen := base.Requests(), cand.Requests()
			if d := len(bseen) - len(cseen); d < -2 || d > 2 {
				t.Errorf("baseline received %d requests, candidate %d", len(bseen), len(cseen))
			}
			// Requests in flight on different connections may arrive a few
			// places apart; the n-th request each side sees must still be
			// one the other side saw near the same place.
			const slack = 6
			for i := 0; i < len(bseen) && i < len(cseen) && i < 200; i++ {
				found := false
				for j := max(0, i-slack); j <= i+slack && j < len(cseen); j++ {
					found = found || bseen[i].URI == cseen[j].URI
				}
				if !found {
					t.Fatalf("request %d: baseline got %s, candidate none such within %d places (got %s)", i, bseen[i].URI, slack, cseen[i].URI)
				}
			}
			for k := range bsd.Steps {
				t.Logf("%.0f QPS: baseline p50 %.1fms achieved %.1f, candidate p50 %.1fms achieved %.1f", bsd.Steps[k].OfferedQPS,
					bsd.Steps[k].LatencyMS.P50, bsd.Steps[k].AchievedQPS, csd.Steps[k].LatencyMS.P50, csd.Steps[k].AchievedQPS)
			}
			code, stdout, stderr := execute(t, context.Background(), "compare", filepath.Join(out, "result.json"), "--max-p99-increase", "10%", "--max-p50-increase", "10%")
			t.Logf("compare:\n%s%s", stdout, stderr)
			if code != tc.wantExit {
				t.Errorf("compare exit %d, want %d", code, tc.wantExit)
			}
		})
	}
}
