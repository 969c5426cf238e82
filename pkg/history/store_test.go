package history_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testpg"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/history"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// stores opens an SQLite store and, where one is given, a PostgreSQL
// schema of the test's own (BESTBEFORE_POSTGRES, a URL; .ci/run starts
// Debian's PostgreSQL and sets it, so CI never skips it).
func stores(t *testing.T) map[string]*history.Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]*history.Store{}
	s, err := history.Open(ctx, filepath.Join(t.TempDir(), "sub", "history.db"), h1.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	out["sqlite"] = s
	if os.Getenv("BESTBEFORE_POSTGRES") == "" && os.Getenv("CI") == "" {
		t.Log("BESTBEFORE_POSTGRES not set: PostgreSQL not tested here (.ci/run tests it)")
		return out
	}
	p, err := history.Open(ctx, testpg.URL(t), h1.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	out["postgres"] = p
	return out
}

// run makes a small result of a scenario: a ramp whose best-before is bb
// QPS (0: none found), p99 at it p99 ms.
func run(name string, at time.Time, bb, p99 float64) *result.Result {
	rec := stats.NewRecorder()
	for i := 0; i < 100; i++ {
		rec.Record(time.Duration(p99*float64(time.Millisecond)) * time.Duration(i+1) / 100)
	}
	h, _ := stats.Encode(rec.H)
	r := &result.Result{
		Schema: result.SchemaV1, Name: name, Status: result.StatusCompleted, StartedAt: at, FinishedAt: at.Add(time.Minute),
		Manifest:   result.Manifest{Tool: "bestbefore", CPUModel: "AMD EPYC 7B13", CPUs: 2, Scenario: "scenarios/" + name + ".yaml", ScenarioSHA: strings.Repeat("ab", 32), TrafficSHA: strings.Repeat("cd", 32), Targets: []string{"http://127.0.0.1:8080"}},
		Objectives: result.Objectives{"latency.p99": 100},
		BestBefore: result.BestBefore{Step: -1},
	}
	for i, q := range []float64{bb / 2, bb, bb * 1.5} {
		st := result.Step{Index: i, Phase: result.PhaseRamp, OfferedQPS: q, AchievedQPS: q, Requests: 100, Successes: 100, ErrorsByClass: map[string]int64{},
			LatencyMS: result.Summarize(rec.H), Histogram: h, SLOPass: i < 2}
		r.Steps = append(r.Steps, st)
	}
	if bb > 0 {
		r.BestBefore = result.BestBefore{Found: true, QPS: bb, NMinus1QPS: bb * 0.53, Nodes: 3, SafetyMargin: 0.8, Step: 1, LimitedBy: "latency.p99"}
	}
	return r
}

func TestStoreAddListResult(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if v, err := s.Version(ctx); err != nil || v != 2 {
				t.Fatalf("schema version %d (%v), want 2", v, err)
			}
			var ids []string
			for i := 0; i < 5; i++ {
				r := run("checkout", t0.Add(time.Duration(i)*24*time.Hour), 1000+float64(i)*10, 40+float64(i))
				id, added, err := s.Add(ctx, r, history.Meta{Commit: fmt.Sprintf("c%d", i), Branch: "main"})
				if err != nil || !added {
					t.Fatalf("add %d: %v (added %v)", i, err, added)
				}
				ids = append(ids, id)
			}
			// The same result again, whatever its formatting: a no-op.
			again := run("checkout", t0.Add(2*24*time.Hour), 1020, 42)
			if id, added, err := s.Add(ctx, again, history.Meta{Commit: "other", Branch: "x"}); err != nil || added || id != ids[2] {
				t.Errorf("adding run 2 again: id %s added %v err %v; want the same id, not added", id, added, err)
			}
			if _, _, err := s.Add(ctx, run("search", t0, 0, 0), history.Meta{Branch: "main"}); err != nil {
				t.Fatal(err)
			}
			runs, err := s.List(ctx, history.Filter{Scenario: "checkout"})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 5 || runs[0].ID != ids[4] || runs[4].ID != ids[0] {
				t.Fatalf("list: %d runs, newest %v", len(runs), runs)
			}
			r4 := runs[0]
			if r4.Commit != "c4" || r4.Branch != "main" || r4.Machine != "AMD EPYC 7B13 ×2" || *r4.BestBeforeQPS != 1040 || *r4.P99MS < 43 || *r4.P99MS > 45 || *r4.SLOP99MS != 100 || !r4.StartedAt.Equal(t0.Add(4*24*time.Hour)) {
				t.Errorf("newest run %+v", r4)
			}
			all, _ := s.List(ctx, history.Filter{})
			if len(all) != 6 || all[len(all)-1].BestBeforeQPS != nil && all[len(all)-1].Scenario == "search" {
				t.Errorf("all runs: %d", len(all))
			}
			for _, x := range all {
				if x.Scenario == "search" && x.BestBeforeQPS != nil {
					t.Errorf("a run without a best-before lists %v", *x.BestBeforeQPS)
				}
			}
			if lim, _ := s.List(ctx, history.Filter{Scenario: "checkout", Limit: 2}); len(lim) != 2 || lim[1].ID != ids[3] {
				t.Errorf("limit 2: %v", lim)
			}
			// The whole result comes back as it went in.
			back, err := s.Result(ctx, ids[1])
			if err != nil {
				t.Fatal(err)
			}
			if id, _, _ := history.ID(back); id != ids[1] || len(back.Steps) != 3 || back.Steps[1].Histogram == "" {
				t.Errorf("stored result: id %s, %d steps", id, len(back.Steps))
			}
			if n, err := s.StepCount(ctx, ids[1]); err != nil || n != 3 {
				t.Errorf("%d steps stored (%v), want 3", n, err)
			}
			// A run that streamed tokens lists its best-before in tokens
			// and its time to first token at the best-before; the others
			// list neither.
			if r4.BestBeforeTokensPerS != nil || r4.TTFTP99MS != nil {
				t.Errorf("a run without streams lists tokens %v, TTFT %v", r4.BestBeforeTokensPerS, r4.TTFTP99MS)
			}
			llm := run("llm", t0, 140, 700)
			llm.BestBefore.OutputTokensPerS = 4760
			llm.Steps[1].Stream = &result.Stream{Responses: 100, OutputTokens: 3400, TTFTMS: result.Latency{P99: 61.5}, TokensFrom: "usage"}
			if _, _, err := s.Add(ctx, llm, history.Meta{Branch: "main"}); err != nil {
				t.Fatal(err)
			}
			lr, err := s.List(ctx, history.Filter{Scenario: "llm"})
			if err != nil || len(lr) != 1 || lr[0].BestBeforeTokensPerS == nil || *lr[0].BestBeforeTokensPerS != 4760 || lr[0].TTFTP99MS == nil || *lr[0].TTFTP99MS != 61.5 {
				t.Errorf("the streaming run lists %+v (%v)", lr, err)
			}
		})
	}
}

// A store is reopened at its version; a second migration would apply once.
func TestReopenKeepsTheRuns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := history.Open(ctx, path, h1.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Add(ctx, run("a", time.Now(), 500, 20), history.Meta{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = history.Open(ctx, path, h1.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if runs, err := s.List(ctx, history.Filter{}); err != nil || len(runs) != 1 {
		t.Errorf("reopened: %d runs, %v", len(runs), err)
	}
	ms, err := history.Migrations()
	if err != nil || len(ms) == 0 || ms[0].Version != 1 {
		t.Errorf("migrations %v %v", ms, err)
	}
}

// A server outside loopback and the private ranges is refused before any
// connection, like every other address.
func TestPublicServerRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := history.Open(ctx, "postgres://u:secret@192.0.2.10:5432/db?connect_timeout=2", h1.Guard{})
	if err == nil {
		t.Fatal("a public address was opened")
	}
	if msg := err.Error(); !contains(msg, "public address") || contains(msg, "secret") {
		t.Errorf("error %q: want the refusal, without the password", msg)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
