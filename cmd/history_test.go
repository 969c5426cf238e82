package cmd_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/bestbefore/bestbefore/internal/testpg"
	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/compare/comparetest"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// simulated writes a simulated run of the "checkout" scenario to a file:
// a server of 8 slots, each request holding one for serviceMS.
func simulated(t *testing.T, dir string, i int, serviceMS float64, at time.Time) string {
	t.Helper()
	plan := comparetest.Plan{Name: "checkout", Rates: []float64{200, 300, 400, 450, 500, 550, 600, 650, 700, 750, 800, 900}, Intervals: 3, WarmupS: 1, P99MS: 60, ErrorRate: 0.01}
	r := comparetest.Run(comparetest.Server{Slots: 8, ServiceMS: serviceMS, Sigma: 0.3, RunNoise: 0.02}, plan, uint64(1000+i))
	r.StartedAt, r.FinishedAt = at, at.Add(time.Minute)
	r.Manifest.CPUModel, r.Manifest.CPUs = "AMD EPYC 7B13", 2
	r.Manifest.Targets = []string{"http://127.0.0.1:8080"}
	p := filepath.Join(dir, fmt.Sprintf("run-%02d", i), "result.json")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := result.Write(p, r); err != nil {
		t.Fatal(err)
	}
	return p
}

// A team's history, on SQLite and on PostgreSQL: 40 merges to main, the
// service 20% slower from the 25th; history add stores each with its
// commit, list shows them newest first, changes finds the drop at the
// 25th merge's commit, report draws it, and a pull request is compared
// with the last runs of main.
func TestHistoryCommands(t *testing.T) {
	dbs := map[string]string{"sqlite": filepath.Join(t.TempDir(), "history.db")}
	if os.Getenv("BESTBEFORE_POSTGRES") != "" || os.Getenv("CI") != "" {
		dbs["postgres"] = testpg.URL(t)
	}
	dir := t.TempDir()
	t0 := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	var files []string
	for i := 0; i < 40; i++ {
		svc := 10.0
		if i >= 25 {
			svc = 12.5 // the capacity drops by a fifth
		}
		files = append(files, simulated(t, dir, i, svc, t0.Add(time.Duration(i)*24*time.Hour)))
	}
	ctx := context.Background()
	for name, db := range dbs {
		t.Run(name, func(t *testing.T) {
			for i, f := range files {
				code, out, errOut := execute(t, ctx, "history", "add", filepath.Dir(f), "--db", db, "--commit", fmt.Sprintf("c%02d", i), "--branch", "main")
				if code != 0 || !strings.HasPrefix(out, "added ") {
					t.Fatalf("add %d: exit %d\n%s%s", i, code, out, errOut)
				}
			}
			// Adding a run again changes nothing.
			if code, out, _ := execute(t, ctx, "history", "add", files[3], "--db", db, "--commit", "again"); code != 0 || !strings.HasPrefix(out, "already stored") {
				t.Errorf("adding run 3 again: exit %d, %s", code, out)
			}
			code, out, errOut := execute(t, ctx, "history", "list", "--db", db, "--json", "--limit", "0")
			if code != 0 {
				t.Fatalf("list: exit %d %s", code, errOut)
			}
			var runs []struct {
				Commit     string   `json:"commit"`
				BestBefore *float64 `json:"best_before_qps"`
			}
			if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 40 || runs[0].Commit != "c39" || runs[39].Commit != "c00" {
				t.Fatalf("list: %d runs (%v), newest %+v", len(runs), err, runs[:min(1, len(runs))])
			}
			code, out, errOut = execute(t, ctx, "history", "changes", "--db", db, "--json")
			if code != 0 {
				t.Fatalf("changes: exit %d %s", code, errOut)
			}
			var series []struct {
				Scenario, Machine string
				Changes           []struct {
					Commit   string  `json:"commit"`
					Index    int     `json:"index"`
					Relative float64 `json:"relative_change"`
					P        float64 `json:"p_value"`
				} `json:"changes"`
			}
			if err := json.Unmarshal([]byte(out), &series); err != nil || len(series) != 1 {
				t.Fatalf("changes: %v\n%s", err, out)
			}
			cs := series[0].Changes
			if len(cs) != 1 || cs[0].Index < 24 || cs[0].Index > 26 || cs[0].Relative > -0.1 || cs[0].P >= 0.001 {
				t.Fatalf("changes %+v, want one drop of about a fifth at the 25th run (c25)", cs)
			}
			t.Logf("best-before change: %+v", cs[0])
			// The text names the commit.
			if _, text, _ := execute(t, ctx, "history", "changes", "--db", db); !strings.Contains(text, "commit "+cs[0].Commit) {
				t.Errorf("changes text lacks the commit %s:\n%s", cs[0].Commit, text)
			}
			page := filepath.Join(t.TempDir(), "history.html")
			if code, _, errOut := execute(t, ctx, "history", "report", "--db", db, "--html", page, "--peak-qps", "500"); code != 0 {
				t.Fatalf("report: exit %d %s", code, errOut)
			}
			h, _ := os.ReadFile(page)
			for _, want := range []string{`data-chart="history-best-before"`, `data-chart="history-p99"`, "at " + cs[0].Commit + "<", "planned peak 500", "commit c39 (main)"} {
				if !strings.Contains(string(h), want) {
					t.Errorf("history.html lacks %q", want)
				}
			}
			// A pull request as slow as main is now: pass against the
			// last 5 runs of main; one 20% faster than them is no
			// regression either, and one slower still is.
			for _, c := range []struct {
				svc  float64
				code int
			}{{12.5, 0}, {16, 1}} {
				cand := simulated(t, t.TempDir(), 100+int(c.svc), c.svc, t0.Add(50*24*time.Hour))
				code, out, errOut := execute(t, ctx, "compare", "--baseline-from-history", "5", cand, "--db", db)
				if code != c.code || !strings.Contains(out, "history: last 5 of main") {
					t.Errorf("service %.1f ms against the history: exit %d, want %d\n%s%s", c.svc, code, c.code, out, errOut)
				}
			}
			// A scenario with no history says what to do.
			other := simulated(t, t.TempDir(), 7, 10, t0)
			if code, _, errOut := execute(t, ctx, "compare", "--baseline-from-history", "5", other, "--db", db, "--baseline-branch", "release"); code != 2 || !strings.Contains(errOut, "history add") {
				t.Errorf("no runs on release: exit %d, %s", code, errOut)
			}
		})
	}
}

// One-line runs are filed under their request shape and target, not the
// host alone: two services on one host are two series, the same command
// run twice is one, and --name names a run. A one-node run lists its N-1
// as "–", not 0 QPS.
func TestHistoryIdentityOfOneLineRuns(t *testing.T) {
	ctx := context.Background()
	a := testserver.Start(t, testserver.NewSlots(16, time.Millisecond))
	b := testserver.Start(t, testserver.NewSlots(16, time.Millisecond))
	dir := t.TempDir()
	db := filepath.Join(dir, "h.db")
	runs := []struct {
		out  string
		args []string
	}{
		{"a1", []string{"--url", a.URL + "/v1/predict"}},
		{"a2", []string{"--url", a.URL + "/v1/predict"}},
		{"b", []string{"--url", b.URL + "/v1/predict"}},
		{"body", []string{"--url", a.URL + "/v1/predict", "--body", `{"q":1}`}},
		{"named", []string{"--url", a.URL + "/v1/predict", "--name", "checkout"}},
	}
	for _, r := range runs {
		out := filepath.Join(dir, r.out)
		args := append([]string{"run", "--rate", "40", "--duration", "1s", "--quiet", "--out", out}, r.args...)
		if code, _, stderr := execute(t, ctx, args...); code != 0 {
			t.Fatalf("%v: exit %d, %s", args, code, stderr)
		}
		if code, _, stderr := execute(t, ctx, "history", "add", out, "--db", db); code != 0 {
			t.Fatalf("history add %s: exit %d, %s", out, code, stderr)
		}
	}
	code, out, _ := execute(t, ctx, "history", "list", "--db", db, "--json", "--limit", "0")
	var list []struct {
		Scenario   string   `json:"scenario"`
		NMinus1QPS *float64 `json:"n_minus_1_qps"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != len(runs) {
		t.Fatalf("history list: exit %d, %s", code, out)
	}
	names := map[string]int{}
	for _, r := range list {
		names[r.Scenario]++
		if r.NMinus1QPS != nil {
			t.Errorf("%s: a one-node run stored an N-1 of %v", r.Scenario, *r.NMinus1QPS)
		}
	}
	if len(names) != 4 || names["checkout"] != 1 {
		t.Errorf("scenarios %v: want 4 (the same command twice is one; another port, another body, --name are others)", names)
	}
	_, text, _ := execute(t, ctx, "history", "list", "--db", db)
	if strings.Contains(text, " 0 QPS") {
		t.Errorf("history list shows an N-1 of 0 QPS for one node:\n%s", text)
	}
}

// A run id shorter than the 12 characters history shows (stored by hand,
// or by another tool) is listed whole, never a panic; and a --db server
// outside loopback and private ranges is refused as bad input (exit 2),
// before any connection, as everywhere the guard refuses.
func TestHistoryShortIDsAndRefusedServers(t *testing.T) {
	ctx := context.Background()
	ts := testserver.Start(t, testserver.NewSlots(16, time.Millisecond))
	dir := t.TempDir()
	out, db := filepath.Join(dir, "out"), filepath.Join(dir, "h.db")
	if code, _, stderr := execute(t, ctx, "run", "--url", ts.URL, "--rate", "40", "--duration", "1s", "--quiet", "--out", out); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if code, _, stderr := execute(t, ctx, "history", "add", out, "--db", db); code != 0 {
		t.Fatalf("history add: exit %d: %s", code, stderr)
	}
	sdb, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sdb.Exec(`PRAGMA foreign_keys=OFF; UPDATE runs SET id = 'abc'`)
	sdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, list, stderr := execute(t, ctx, "history", "list", "--db", db)
	if code != 0 || !strings.Contains(list, " abc") {
		t.Errorf("history list with a short run id: exit %d, %s%s", code, list, stderr)
	}
	for _, verb := range [][]string{{"history", "list"}, {"history", "add", out}} {
		args := append(verb, "--db", "postgres://u:SECRET@203.0.113.7:5432/db")
		code, _, stderr := execute(t, ctx, args...)
		if code != 2 || !strings.Contains(stderr, "public address") || strings.Contains(stderr, "SECRET") {
			t.Errorf("%v with a public --db: exit %d, %q; want 2, the guard's reason, no password", verb, code, stderr)
		}
	}
}
