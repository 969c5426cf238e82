package cmd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Adding an objective is adding one catalogue entry: with a p99.5 entry
// and nothing else, --slo and a scenario take it, the run judges steps
// by it and writes it to a result.json the schema accepts, shards merge
// with it, report shows it and compare reads the results.
func TestAnObjectiveIsOneCatalogueEntry(t *testing.T) {
	saved := slices.Clone(result.Catalogue)
	result.Catalogue = append(result.Catalogue, result.LatencyObjective("p995", "p99.5", 99.5))
	t.Cleanup(func() { result.Catalogue = saved })

	testserver.Serialize(t)
	ts := testserver.Start(t, testserver.NewSlots(32, 2*time.Millisecond))
	dir := writeFiles(t, map[string]string{
		"t.ndjson": `{"path":"/a"}` + "\n" + `{"path":"/b"}` + "\n",
		"s.yaml": fmt.Sprintf(`name: p995
target: {url: %s}
traffic: {file: t.ndjson}
load: {start_qps: 40, step_qps: 40, max_qps: 80, step_duration: 1s, warmup: 200ms, timeout: 500ms}
monitor: {max_send_lag: 100ms, disabled: true}
slo: {latency: {p995: 400ms}, error_rate: 1%%}
`, ts.URL),
	})
	ctx := context.Background()

	// --slo: a bound of 1 ms, under the 2 ms service time, breaks it.
	one := filepath.Join(dir, "one")
	code, stdout, stderr := execute(t, ctx, "run", "--url", ts.URL+"/a", "--rate", "40", "--duration", "1s", "--slo", "p995=1ms", "--out", one, "--quiet")
	if code != 0 {
		t.Fatalf("run --slo p995=1ms: exit %d\n%s\n%s", code, stdout, stderr)
	}
	r := readValid(t, filepath.Join(one, "result.json"))
	if b, ok := r.Objectives.Bound("latency.p995"); !ok || b != 1 {
		t.Errorf("objectives %v, want latency.p995 = 1 ms", r.Objectives)
	}
	if len(r.Steps) == 0 || !slices.Contains(r.Steps[0].Failed, "latency.p995") {
		t.Errorf("the step was not judged by p99.5: %+v", r.Steps)
	}

	// A scenario's slo.latency.p995, run as two shards and merged.
	start := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var se string
			codes[i], outs[i], se = execute(t, ctx, "run", filepath.Join(dir, "s.yaml"), "--quiet", "--shard", fmt.Sprintf("%d/2", i+1),
				"--start-at", start, "--out", filepath.Join(dir, fmt.Sprintf("shard-%d", i+1)))
			outs[i] += se
		}()
	}
	wg.Wait()
	if codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("shards exit %v\n%s", codes, strings.Join(outs, "\n"))
	}
	merged := filepath.Join(dir, "merged")
	if code, stdout, stderr := execute(t, ctx, "merge", filepath.Join(dir, "shard-1", "result.json"), filepath.Join(dir, "shard-2", "result.json"), "--out", merged); code != 0 {
		t.Fatalf("merge: exit %d\n%s\n%s", code, stdout, stderr)
	}
	m := readValid(t, filepath.Join(merged, "result.json"))
	if b, ok := m.Objectives.Bound("latency.p995"); !ok || b != 400 {
		t.Errorf("merged objectives %v, want latency.p995 = 400 ms", m.Objectives)
	}
	if !m.BestBefore.Found || m.BestBefore.QPS != 80 {
		t.Errorf("merged best-before %+v, want 80 QPS under a 400 ms p99.5", m.BestBefore)
	}

	if code, stdout, stderr := execute(t, ctx, "report", filepath.Join(merged, "result.json"), "--format", "md"); code != 0 || !strings.Contains(stdout, "latency p99.5") {
		t.Errorf("report: exit %d, no p99.5 objective in\n%s\n%s", code, stdout, stderr)
	}
	// compare reads a whole run against the merged shards, objective
	// and all.
	whole := filepath.Join(dir, "whole")
	if code, stdout, stderr := execute(t, ctx, "run", filepath.Join(dir, "s.yaml"), "--quiet", "--out", whole); code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, stdout, stderr := execute(t, ctx, "compare", filepath.Join(whole, "result.json"), filepath.Join(merged, "result.json")); code == 2 || !strings.Contains(stdout, "best-before") {
		t.Errorf("compare: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func readValid(t *testing.T, path string) *result.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := result.ValidateJSON(b); err != nil {
		t.Fatalf("%s does not validate: %v", path, err)
	}
	r, err := result.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
