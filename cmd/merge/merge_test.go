package merge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdMerge "github.com/bestbefore/bestbefore/cmd/merge"
	cmdRun "github.com/bestbefore/bestbefore/cmd/run"
	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

type run struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, build func(f *cmdutil.Factory) interface {
	SetArgs([]string)
	ExecuteContext(context.Context) error
}, args ...string) run {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Version: "test", Executable: os.Executable}
	c := build(f)
	c.SetArgs(args)
	err := c.ExecuteContext(context.Background())
	if err != nil {
		fmt.Fprintln(errOut, err)
	}
	return run{cmdutil.CodeOf(err), out.String(), errOut.String()}
}

func runShard(t *testing.T, args ...string) run {
	return runCmd(t, func(f *cmdutil.Factory) interface {
		SetArgs([]string)
		ExecuteContext(context.Context) error
	} {
		c := cmdRun.NewCmdRun(f, nil)
		c.SilenceUsage, c.SilenceErrors = true, true
		return c
	}, args...)
}

func mergeCmd(t *testing.T, args ...string) run {
	return runCmd(t, func(f *cmdutil.Factory) interface {
		SetArgs([]string)
		ExecuteContext(context.Context) error
	} {
		c := cmdMerge.NewCmdMerge(f, nil)
		c.SilenceUsage, c.SilenceErrors = true, true
		return c
	}, args...)
}

// Two shards, each sending half of every step to a server of known
// capacity (8 slots × 100 ms = 80 QPS), merged: the merged counts and
// histograms are exactly the sums of the shards', and the merged
// best-before sits at the server's capacity.
func TestTwoShardsMergeToGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("two shard runs take ~20 s")
	}
	testserver.Serialize(t)
	srv := testserver.NewSlots(8, 100*time.Millisecond)
	ts := testserver.Start(t, srv)
	capacity := testserver.MeasureCapacity(context.Background(), ts.URL+"/", 16, 2*time.Second)
	t.Logf("closed-loop capacity before the shards %.1f QPS (analytic %.1f)", capacity.Before(), srv.Capacity())

	dir := t.TempDir()
	var lines []string
	for i := 0; i < 10; i++ {
		lines = append(lines, fmt.Sprintf(`{"path":"/?line=%d"}`, i+1))
	}
	write(t, filepath.Join(dir, "t.ndjson"), strings.Join(lines, "\n")+"\n")
	write(t, filepath.Join(dir, "s.yaml"), fmt.Sprintf(`name: sharded
target: {url: %s}
traffic: {file: t.ndjson}
load: {start_qps: 60, step_qps: 8, max_qps: 92, step_duration: 2s, warmup: 500ms, timeout: 500ms, stop_after_failures: 1}
monitor: {max_send_lag: 100ms, disabled: true}
slo: {latency: {p99: 150ms}, error_rate: 1%%}
`, ts.URL))

	start := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	runs := make([]run, 2)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = runShard(t, filepath.Join(dir, "s.yaml"), "--quiet", "--shard", fmt.Sprintf("%d/2", i+1), "--start-at", start,
				"--out", filepath.Join(dir, fmt.Sprintf("shard-%d", i+1)))
		}()
	}
	wg.Wait()
	var shards []*result.Result
	for i, r := range runs {
		if r.code != 0 {
			t.Fatalf("shard %d: exit %d\n%s\n%s", i+1, r.code, r.stdout, r.stderr)
		}
		s, err := result.Read(filepath.Join(dir, fmt.Sprintf("shard-%d", i+1), "result.json"))
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, s)
	}
	// Each shard ran the whole plan (no adaptive stop despite
	// stop_after_failures: 1), labelled with the full rates.
	for i, s := range shards {
		if s.Shard == nil || s.Shard.Index != i+1 || s.Shard.Count != 2 || s.Shard.Plan != shards[0].Shard.Plan {
			t.Fatalf("shard %d: shard block %+v", i+1, s.Shard)
		}
		if len(s.Steps) != 5 {
			t.Fatalf("shard %d ran %d steps, want the 5 of the plan", i+1, len(s.Steps))
		}
		for k, st := range s.Steps {
			if want := 60 + 8*float64(k); st.OfferedQPS != want {
				t.Errorf("shard %d step %d offered %v, want the plan's full %v", i+1, k, st.OfferedQPS, want)
			}
			// Step k starts at start_at + k × (step 2s + timeout 0.5s + 1s).
			due := s.Shard.StartAt.Add(time.Duration(k) * 3500 * time.Millisecond)
			if d := st.StartedAt.Sub(due); d < 0 || d > 500*time.Millisecond {
				t.Errorf("shard %d step %d started %v after its slot at %v, want within 500ms", i+1, k, d, due)
			}
			if exp := st.OfferedQPS / 2 * st.DurationS; float64(st.Requests) < 0.8*exp || float64(st.Requests) > 1.2*exp {
				t.Errorf("shard %d step %d: %d requests, want about half the step's %.0f", i+1, k, st.Requests, 2*exp)
			}
		}
	}
	// The servers saw disjoint halves of the file: odd lines from shard 1.
	out := filepath.Join(dir, "merged")
	// The pattern is expanded by merge itself, as in a container without
	// a shell (deploy/kubernetes/merge-job.yaml).
	m := mergeCmd(t, filepath.Join(dir, "shard-*", "result.json"), "--out", out)
	if m.code != 0 {
		t.Fatalf("merge: exit %d\n%s\n%s", m.code, m.stdout, m.stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := result.ValidateJSON(b); err != nil {
		t.Errorf("merged result.json does not match the schema: %v", err)
	}
	merged, err := result.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if merged.Shard == nil || len(merged.Shard.MergedFrom) != 2 || len(merged.Steps) != 5 {
		t.Fatalf("merged: shard %+v, %d steps", merged.Shard, len(merged.Steps))
	}
	for k, st := range merged.Steps {
		a, b := shards[0].Steps[k], shards[1].Steps[k]
		if st.Requests != a.Requests+b.Requests || st.Errors != a.Errors+b.Errors || st.Successes != a.Successes+b.Successes {
			t.Errorf("step %d: merged %d requests %d errors, shards %d+%d, %d+%d", k, st.Requests, st.Errors, a.Requests, b.Requests, a.Errors, b.Errors)
		}
		// The merged histogram holds every latency both shards recorded,
		// exactly at histogram resolution.
		want := stats.New()
		for _, enc := range []string{a.Histogram, b.Histogram} {
			h, err := stats.Decode(enc)
			if err != nil {
				t.Fatal(err)
			}
			stats.Merge(want, h)
		}
		got, err := stats.Decode(st.Histogram)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equals(want) {
			t.Errorf("step %d: merged histogram differs from the union of the shards' latencies", k)
		}
		if got.TotalCount() != st.Requests-st.ErrorsByClass[result.ClassDropped] && got.TotalCount() != st.Requests {
			t.Errorf("step %d: merged histogram counts %d latencies for %d requests", k, got.TotalCount(), st.Requests)
		}
		if want := result.Summarize(want); st.LatencyMS != want {
			t.Errorf("step %d: percentiles %+v, want those of the summed histogram %+v", k, st.LatencyMS, want)
		}
		var ivTotal int64
		for _, iv := range st.Intervals {
			h, _ := stats.Decode(iv.Histogram)
			ivTotal += h.TotalCount()
		}
		if ivTotal != got.TotalCount() {
			t.Errorf("step %d: intervals hold %d latencies, the step %d", k, ivTotal, got.TotalCount())
		}
		t.Logf("step %d: %.0f QPS achieved %.1f  p99 %.1fms (shards %.1f, %.1f)  pass %v", k, st.OfferedQPS, st.AchievedQPS, st.LatencyMS.P99, a.LatencyMS.P99, b.LatencyMS.P99, st.SLOPass)
	}
	bb := merged.BestBefore
	if !bb.Found {
		t.Fatalf("no best-before in the merged result: %+v", bb)
	}
	closed, after := capacity.After(context.Background())
	t.Logf("closed-loop capacity after the shards %.1f QPS", after)
	ratio := bb.QPS / closed
	t.Logf("merged best-before %.0f QPS = %.0f%% of closed-loop capacity %.1f, limited by %s", bb.QPS, 100*ratio, closed, bb.LimitedBy)
	if ratio < 0.85 || ratio > 1.05 {
		t.Errorf("merged best-before %.0f QPS is %.0f%% of the capacity %.1f, want 85-105%%", bb.QPS, 100*ratio, closed)
	}

	// Merging a shard with itself, a copy of a shard, a shard of another
	// plan, a truncated shard, or an incomplete set is refused with exit 2
	// naming the file.
	s1 := filepath.Join(dir, "shard-1", "result.json")
	s2 := filepath.Join(dir, "shard-2", "result.json")
	raw2, _ := os.ReadFile(s2)
	copy1 := filepath.Join(dir, "copy-of-1.json")
	raw1, _ := os.ReadFile(s1)
	write(t, copy1, string(raw1))
	other := filepath.Join(dir, "other-plan.json")
	var doc map[string]any
	if err := json.Unmarshal(raw2, &doc); err != nil {
		t.Fatal(err)
	}
	doc["shard"].(map[string]any)["plan_fingerprint"] = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	ob, _ := json.Marshal(doc)
	write(t, other, string(ob))
	trunc := filepath.Join(dir, "truncated.json")
	write(t, trunc, string(raw2[:len(raw2)/2]))
	for _, tc := range []struct {
		name  string
		args  []string
		file  string
		words string
	}{
		{"itself", []string{s1, s1}, s1, "given twice"},
		{"copy", []string{s1, copy1}, copy1, "is shard 1/2, and so is"},
		{"other plan", []string{s1, other}, other, "different plan"},
		{"truncated", []string{s1, trunc}, trunc, "not a valid bestbefore result"},
		{"missing", []string{s1}, s1, "shard(s) 2 of 2 missing"},
		{"pattern matching nothing", []string{filepath.Join(dir, "nothing-*.json")}, "nothing-*.json", "matches no file"},
	} {
		r := mergeCmd(t, append(tc.args, "--out", filepath.Join(dir, "bad"))...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.file) || !strings.Contains(r.stderr, tc.words) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 naming %s and saying %q", tc.name, r.code, r.stderr, tc.file, tc.words)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Errorf("a refused merge wrote output")
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
