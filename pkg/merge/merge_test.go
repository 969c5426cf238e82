package merge_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/hdrref"
	"github.com/bestbefore/bestbefore/pkg/merge"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

var start = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

// shardResult builds shard i of n over the given rates; latencies(k, j)
// gives the latencies (µs) of interval j of step k.
func shardResult(t *testing.T, i, n int, rates []float64, lat func(k, j int) []int64) *result.Result {
	t.Helper()
	p99 := 50.0
	r := &result.Result{
		Schema: result.SchemaV1, Name: "synthetic", Status: result.StatusCompleted,
		StartedAt: start, FinishedAt: start.Add(time.Minute),
		Objectives: result.Objectives{"latency.p99": p99},
		Shard:      &result.Shard{Index: i, Count: n, Plan: "sha256:plan", StartAt: start},
		BestBefore: result.BestBefore{Nodes: 3, SafetyMargin: 0.8},
	}
	r.Manifest.Tool, r.Manifest.CPUs = "bestbefore", 2
	r.Manifest.Hostname = "gen-" + string(rune('a'+i-1))
	for k, q := range rates {
		st := result.Step{Index: k, Phase: result.PhaseRamp, OfferedQPS: q,
			StartedAt: start.Add(time.Duration(k)*5*time.Second + time.Duration(i)*10*time.Millisecond),
			DurationS: 2, WarmupS: 0.5, ErrorsByClass: map[string]int64{}}
		all := stats.New()
		for j := 0; j < 2; j++ {
			h := stats.New()
			for _, v := range lat(k, j) {
				h.RecordValue(v)
				all.RecordValue(v)
			}
			enc, _ := stats.Encode(h)
			st.Intervals = append(st.Intervals, result.Interval{OffsetS: float64(j), Requests: h.TotalCount(), Histogram: enc})
		}
		st.Requests = all.TotalCount() + 1
		st.Successes = all.TotalCount()
		// One request a step dropped (never sent, so no latency).
		st.Errors = 1
		st.ErrorsByClass[result.ClassDropped] = 1
		st.ErrorRate = 1 / float64(st.Requests)
		st.AchievedQPS = float64(st.Successes) / st.DurationS
		st.LatencyMS = result.Summarize(all)
		st.Histogram, _ = stats.Encode(all)
		st.Generator = result.Generator{CPUPercent: float64(10 * i), SendLagP99MS: float64(i), LateSends: 2}
		st.Target = &result.TargetResources{CPUPercent: float64(40 + i), Metrics: map[string]float64{"queue": float64(i)}}
		st.Host = &result.Host{CPUPercent: float64(20 * i)}
		result.ApplyJudgement(&st, r.Objectives)
		r.Steps = append(r.Steps, st)
	}
	return r
}

func inputs(rs ...*result.Result) []merge.Input {
	var in []merge.Input
	for i, r := range rs {
		in = append(in, merge.Input{Path: "shard-" + string(rune('1'+i)) + ".json", Result: r})
	}
	return in
}

// The merged step's histogram is the histogram of every latency the
// shards recorded, its percentiles are read from it (not averaged), and
// counts add up.
func TestMergeIsLossless(t *testing.T) {
	rates := []float64{100, 200, 300}
	raw := map[[3]int][]int64{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 1; i <= 3; i++ {
		for k := range rates {
			for j := 0; j < 2; j++ {
				var vs []int64
				// Shards see different distributions: averaging their p99s
				// would be far from the truth.
				for range 200 + 100*i {
					vs = append(vs, int64(1000*i*(k+1))+rng.Int64N(int64(5000*i*i)))
				}
				raw[[3]int{i, k, j}] = vs
			}
		}
	}
	var rs []*result.Result
	for i := 1; i <= 3; i++ {
		rs = append(rs, shardResult(t, i, 3, rates, func(k, j int) []int64 { return raw[[3]int{i, k, j}] }))
	}
	// Shards given out of order.
	m, err := merge.Merge(inputs(rs[2], rs[0], rs[1]), merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Steps) != 3 || m.Shard.Count != 3 || m.Shard.Index != 0 || len(m.Shard.MergedFrom) != 3 {
		t.Fatalf("merged %d steps, shard %+v", len(m.Steps), m.Shard)
	}
	// HdrHistogram's reference reads the merged histograms as merge
	// summarized them.
	var hs []string
	var sums []result.Latency
	for _, st := range m.Steps {
		hs, sums = append(hs, st.Histogram), append(sums, st.LatencyMS)
	}
	hdrref.MatchSummaries(t, hs, sums, func(i int) string { return fmt.Sprintf("merged step %d", i) })
	for k, st := range m.Steps {
		truth := stats.New()
		var n int64
		for i := 1; i <= 3; i++ {
			for j := 0; j < 2; j++ {
				for _, v := range raw[[3]int{i, k, j}] {
					truth.RecordValue(v)
					n++
				}
			}
		}
		got, err := stats.Decode(st.Histogram)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equals(truth) {
			t.Errorf("step %d: merged histogram is not the histogram of all latencies", k)
		}
		if st.LatencyMS != result.Summarize(truth) {
			t.Errorf("step %d: latency %+v, want %+v", k, st.LatencyMS, result.Summarize(truth))
		}
		var avg float64
		for _, r := range rs {
			avg += r.Steps[k].LatencyMS.P99 / 3
		}
		if d := st.LatencyMS.P99 - avg; d < 1 && d > -1 {
			t.Errorf("step %d: p99 %.2f equals the average of the shards' p99: percentiles were averaged", k, st.LatencyMS.P99)
		}
		if st.Requests != n+3 || st.Successes != n || st.Errors != 3 || st.ErrorsByClass[result.ClassDropped] != 3 {
			t.Errorf("step %d: requests %d successes %d errors %d by class %v; want %d, %d, 3", k, st.Requests, st.Successes, st.Errors, st.ErrorsByClass, n+3, n)
		}
		if want := float64(n) / 2; st.AchievedQPS < want-1e-9 || st.AchievedQPS > want+1e-9 {
			t.Errorf("step %d: achieved %.2f, want the sum %.2f", k, st.AchievedQPS, want)
		}
		if st.OfferedQPS != rates[k] {
			t.Errorf("step %d: offered %v, want the plan's %v", k, st.OfferedQPS, rates[k])
		}
		if len(st.Intervals) != 2 {
			t.Fatalf("step %d: %d intervals", k, len(st.Intervals))
		}
		for j, iv := range st.Intervals {
			truth := stats.New()
			for i := 1; i <= 3; i++ {
				for _, v := range raw[[3]int{i, k, j}] {
					truth.RecordValue(v)
				}
			}
			h, _ := stats.Decode(iv.Histogram)
			if !h.Equals(truth) || iv.Requests != truth.TotalCount() {
				t.Errorf("step %d interval %d: not the sum of the shards' intervals", k, j)
			}
		}
		if !st.StartedAt.Equal(start.Add(time.Duration(k)*5*time.Second + 10*time.Millisecond)) {
			t.Errorf("step %d starts %v, want the earliest shard's start", k, st.StartedAt)
		}
		if st.Generator.CPUPercent != 30 || st.Generator.SendLagP99MS != 3 || st.Generator.LateSends != 6 {
			t.Errorf("step %d: generator %+v, want the worst shard's CPU and lag and summed late sends", k, st.Generator)
		}
		if st.Target == nil || st.Target.CPUPercent != 43 || st.Target.Metrics["queue"] != 3 || st.Host == nil || st.Host.CPUPercent != 60 {
			t.Errorf("step %d: target %+v host %+v", k, st.Target, st.Host)
		}
	}
	// Judged again from the merged percentiles.
	for _, st := range m.Steps {
		if want := st.LatencyMS.P99 <= 50; st.SLOPass != want {
			t.Errorf("step at %v: slo_pass %v with p99 %.1fms against 50ms", st.OfferedQPS, st.SLOPass, st.LatencyMS.P99)
		}
	}
	if m.BestBefore.Nodes != 3 || m.BestBefore.SafetyMargin != 0.8 {
		t.Errorf("best-before %+v lost the nodes and margin", m.BestBefore)
	}
	if m.Manifest.Extra["shard.2.hostname"] != "gen-b" {
		t.Errorf("manifest extra %v does not name the shards' hosts", m.Manifest.Extra)
	}
}

func TestMergeSetsBestBeforeFromMergedSteps(t *testing.T) {
	// Shard 1 alone passes everywhere, shard 2 fails at 300: merged, the
	// step at 300 fails and the best-before is 200.
	rates := []float64{100, 200, 300}
	a := shardResult(t, 1, 2, rates, func(k, j int) []int64 { return []int64{10000, 11000, 12000} })
	b := shardResult(t, 2, 2, rates, func(k, j int) []int64 {
		if k == 2 {
			return []int64{90000, 95000, 99000}
		}
		return []int64{10000, 12000, 13000}
	})
	// Each shard sent and delivered its half of every rate: the failure
	// at 300 is one of latency, not of a service falling behind.
	for _, r := range []*result.Result{a, b} {
		for k := range r.Steps {
			r.Steps[k].SentQPS = rates[k] / 2
			r.Steps[k].AchievedQPS = rates[k] / 2
		}
	}
	m, err := merge.Merge(inputs(a, b), merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if bb := m.BestBefore; !bb.Found || bb.QPS != 200 || bb.LimitedBy != "latency.p99" || math.Abs(bb.NMinus1QPS-200*2.0/3*0.8) > 1e-9 {
		t.Errorf("best-before %+v, want 200 limited by latency.p99", bb)
	}
}

func TestMergeRefuses(t *testing.T) {
	rates := []float64{100, 200}
	lat := func(k, j int) []int64 { return []int64{1000, 2000} }
	mk := func(i, n int) *result.Result { return shardResult(t, i, n, rates, lat) }
	tests := []struct {
		name string
		in   []merge.Input
		file string
		want string
	}{
		{"missing", inputs(mk(1, 3), mk(3, 3)), "", "shard(s) 2 of 3 missing"},
		{"same index", inputs(mk(1, 2), mk(1, 2)), "shard-2.json", "is shard 1/2, and so is shard-1.json"},
		{"counts", inputs(mk(1, 2), mk(2, 3)), "shard-2.json", "shard counts differ"},
		{"plan", func() []merge.Input {
			b := mk(2, 2)
			b.Shard.Plan = "sha256:other"
			return inputs(mk(1, 2), b)
		}(), "shard-2.json", "different plan"},
		{"start", func() []merge.Input {
			b := mk(2, 2)
			b.Shard.StartAt = start.Add(time.Minute)
			return inputs(mk(1, 2), b)
		}(), "shard-2.json", "same --start-at"},
		{"not a shard", func() []merge.Input {
			b := mk(2, 2)
			b.Shard = nil
			return inputs(mk(1, 2), b)
		}(), "shard-2.json", "not a shard result"},
		{"step count", func() []merge.Input {
			b := mk(2, 2)
			b.Steps = b.Steps[:1]
			b.Status, b.Reason = result.StatusInterrupted, "interrupted"
			return inputs(mk(1, 2), b)
		}(), "shard-2.json", "has 1 steps and shard-1.json has 2: step 1 (200 QPS) is missing"},
		{"empty histogram", func() []merge.Input {
			b := mk(2, 2)
			b.Steps[1].Histogram = ""
			return inputs(mk(1, 2), b)
		}(), "shard-2.json", "steps[1].histogram: holds 0 latencies, but the step measured"},
		{"histogram short of requests", func() []merge.Input {
			b := mk(2, 2)
			b.Steps[0].Requests += 60
			b.Steps[0].Successes += 60
			b.Steps[0].ErrorRate = 1 / float64(b.Steps[0].Requests)
			return inputs(mk(1, 2), b)
		}(), "shard-2.json", "steps[0].histogram: holds 4 latencies, but the step measured 65 requests"},
		{"misaligned", func() []merge.Input {
			b := mk(2, 2)
			b.Steps[1].StartedAt = b.Steps[1].StartedAt.Add(1500 * time.Millisecond)
			return inputs(mk(1, 2), b)
		}(), "shard-2.json", "step 1 (200 QPS) started 1.51s away"},
		{"rates", func() []merge.Input {
			b := mk(2, 2)
			b.Steps[1].OfferedQPS = 250
			return inputs(mk(1, 2), b)
		}(), "shard-2.json", "the plans differ"},
		{"versions", func() []merge.Input {
			b := mk(2, 2)
			b.Manifest.Version = "v9.9.9"
			return inputs(mk(1, 2), b)
		}(), "shard-2.json", "shards of different versions"},
		{"count past what run makes", func() []merge.Input {
			a, b := mk(1, 2), mk(2, 2)
			a.Shard.Count, b.Shard.Count = 2000000000, 2000000000
			return inputs(a, b)
		}(), "shard-1.json", "more than the 10000 run can make"},
		{"corrupt histogram", func() []merge.Input {
			b := mk(2, 2)
			b.Steps[0].Histogram = b.Steps[0].Histogram[:len(b.Steps[0].Histogram)/2]
			return inputs(mk(1, 2), b)
		}(), "shard-2.json", "steps[0].histogram"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := merge.Merge(tc.in, merge.Options{})
			var me *merge.Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v, want a *merge.Error", err)
			}
			if me.File != tc.file || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q (file %q), want file %q and %q", err, me.File, tc.file, tc.want)
			}
		})
	}
}

// With Partial, a shard that stopped early leaves the steps every shard
// completed, and the merged status says the result is partial.
func TestMergePartial(t *testing.T) {
	rates := []float64{100, 200, 300}
	lat := func(k, j int) []int64 { return []int64{1000, 2000} }
	a := shardResult(t, 1, 2, rates, lat)
	b := shardResult(t, 2, 2, rates, lat)
	b.Steps = b.Steps[:2]
	b.Status, b.Reason = result.StatusAborted, "abort_on"
	m, err := merge.Merge(inputs(a, b), merge.Options{Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Steps) != 2 || m.Status != result.StatusAborted || !strings.Contains(m.Reason, "shard 2/2") {
		t.Errorf("%d steps, status %s (%s); want 2 steps, aborted by shard 2", len(m.Steps), m.Status, m.Reason)
	}
}

func TestFilesRefuses(t *testing.T) {
	dir := t.TempDir()
	rates := []float64{100}
	lat := func(k, j int) []int64 { return []int64{1000} }
	p1 := filepath.Join(dir, "s1.json")
	p2 := filepath.Join(dir, "s2.json")
	if err := result.Write(p1, shardResult(t, 1, 2, rates, lat)); err != nil {
		t.Fatal(err)
	}
	if err := result.Write(p2, shardResult(t, 2, 2, rates, lat)); err != nil {
		t.Fatal(err)
	}
	if _, err := merge.Files([]string{p1, p2}, merge.Options{}); err != nil {
		t.Fatalf("good shards: %v", err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(p1, link); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p2)
	trunc := filepath.Join(dir, "trunc.json")
	os.WriteFile(trunc, b[:len(b)-40], 0o644)
	for _, tc := range []struct {
		paths []string
		file  string
		want  string
	}{
		{[]string{p1, p1}, p1, "given twice"},
		{[]string{p1, link}, link, "same file as " + p1},
		{[]string{p1, trunc}, trunc, "not a valid bestbefore result"},
		{[]string{p1, filepath.Join(dir, "none.json")}, filepath.Join(dir, "none.json"), "no such file"},
	} {
		_, err := merge.Files(tc.paths, merge.Options{})
		var me *merge.Error
		if !errors.As(err, &me) || me.File != tc.file || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Files(%v) = %v; want an error naming %s: %q", tc.paths, err, tc.file, tc.want)
		}
	}
}

// Shards that streamed merge their streams as their latencies: counts
// and token rates add, the time-to-first-token and inter-token
// histograms hold every value of every shard, the percentiles are read
// from them, and a mix of usage and event counts says so; good requests
// add up.
func TestMergeStreams(t *testing.T) {
	rates := []float64{100}
	var rs []*result.Result
	ttftAll := stats.New()
	for i := 1; i <= 2; i++ {
		r := shardResult(t, i, 2, rates, func(k, j int) []int64 { return []int64{1000, 2000, 3000} })
		ttft, itl := stats.New(), stats.New()
		for v := int64(1); v <= 100; v++ {
			_ = ttft.RecordValue(v * 1000 * int64(i))
			_ = ttftAll.RecordValue(v * 1000 * int64(i))
			_ = itl.RecordValue(5000)
		}
		x := &result.Stream{Responses: 100, OutputTokens: 3200, OutputTokensPerS: 1600, TokensFrom: []string{"usage", "events"}[i-1]}
		x.TTFTHistogram, _ = stats.Encode(ttft)
		x.TTFTFromSendHistogram, _ = stats.Encode(ttft)
		x.ITLHistogram, _ = stats.Encode(itl)
		x.TPOTHistogram, _ = stats.Encode(itl)
		r.Steps[0].Stream = x
		good := int64(90 + i)
		r.Steps[0].GoodRequests = &good
		rs = append(rs, r)
	}
	m, err := merge.Merge(inputs(rs...), merge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := m.Steps[0].Stream
	if x == nil || x.Responses != 200 || x.OutputTokens != 6400 || x.OutputTokensPerS != 3200 || x.TokensFrom != "mixed" {
		t.Fatalf("merged stream %+v", x)
	}
	h, err := stats.Decode(x.TTFTHistogram)
	if err != nil || h.TotalCount() != 200 {
		t.Fatalf("merged TTFT histogram: %v, %d values", err, h.TotalCount())
	}
	if want := stats.QuantileMS(ttftAll, 99); x.TTFTMS.P99 != want {
		t.Errorf("merged TTFT p99 %v, the union's %v", x.TTFTMS.P99, want)
	}
	if g := m.Steps[0].GoodRequests; g == nil || *g != 183 {
		t.Errorf("good requests %v, want 183", g)
	}
	if err := result.Check(m); err != nil {
		t.Errorf("merged result: %v", err)
	}
	doc, _ := json.Marshal(m)
	if err := result.ValidateJSON(doc); err != nil {
		t.Errorf("merged result against the schema: %v", err)
	}
}
