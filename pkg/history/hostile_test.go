package history_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/bestbefore/bestbefore/internal/testpg"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/history"
)

// Twenty adds started at once on a fresh store, as the jobs of a CI
// matrix do, keep twenty runs: the migration runs under the database's
// lock, never racing another to create a table.
func TestConcurrentAddsOnAFreshStore(t *testing.T) {
	targets := map[string]func() string{"sqlite": func() string { return filepath.Join(t.TempDir(), "history.db") }}
	if os.Getenv("BESTBEFORE_POSTGRES") != "" || os.Getenv("CI") != "" {
		targets["postgres"] = func() string { return testpg.URL(t) }
	}
	for name, target := range targets {
		t.Run(name, func(t *testing.T) {
			for round := range 3 {
				db := target()
				const n = 20
				var wg sync.WaitGroup
				errs := make(chan error, n)
				start := make(chan struct{})
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						ctx := context.Background()
						s, err := history.Open(ctx, db, h1.Guard{})
						if err != nil {
							errs <- err
							return
						}
						defer s.Close()
						at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(round*n+i) * time.Minute)
						if _, _, err := s.Add(ctx, run("checkout", at, 500+float64(i), 40), history.Meta{Commit: fmt.Sprintf("c%02d", i)}); err != nil {
							errs <- err
						}
					}()
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Errorf("round %d: %v", round, err)
				}
				s, err := history.Open(context.Background(), db, h1.Guard{})
				if err != nil {
					t.Fatal(err)
				}
				runs, err := s.List(context.Background(), history.Filter{})
				s.Close()
				if err != nil || len(runs) != n {
					t.Fatalf("round %d: %d of %d runs stored (%v)", round, len(runs), n, err)
				}
			}
		})
	}
}

// A --db that holds a password never shows it, whatever its form, and one
// that looks like a connection string bestbefore does not take is refused
// instead of becoming a file named after the password.
func TestDBTargetsKeepPasswordsAndShapes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ctx := context.Background()
	for _, tc := range []struct{ target, want string }{
		{"Postgres://u:SECRET1@127.0.0.1:1/db?connect_timeout=1", "cannot open"},
		{"postgres://u@127.0.0.1:1/db?password=SECRET2&connect_timeout=1", "cannot open"},
		{"host=127.0.0.1 port=1 user=u password=SECRET3", "libpq keyword string"},
		{"mysql://u:SECRET4@127.0.0.1/db", "only postgres://"},
	} {
		_, err := history.Open(ctx, tc.target, h1.Guard{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: error %v; want %q and no password", history.Redact(tc.target), err, tc.want)
		}
		if r := history.Redact(tc.target); strings.Contains(r, "SECRET") {
			t.Errorf("Redact left a password: %s", r)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused targets left files behind: %v", entries)
	}
	// A path is a path.
	for _, name := range []string{"runs#1.db", "p%20q.db", "what?.db"} {
		s, err := history.Open(ctx, name, h1.Guard{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.Close()
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("--db %q wrote another file: %v", name, err)
		}
	}
}

// A store a newer bestbefore migrated is refused with a clear error, not
// used with a schema this binary does not know.
func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := history.Open(context.Background(), path, h1.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := s.Version(context.Background())
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 'x')`, v+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = history.Open(context.Background(), path, h1.Guard{})
	if !errors.Is(err, history.ErrNewerSchema) || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", v+1)) {
		t.Errorf("error %v, want ErrNewerSchema naming version %d", err, v+1)
	}
}

// list, changes and report open the store read-only: nothing is written
// (no journal, no migration; the file's bytes stay), so a store on a
// read-only disk or another user's can be read; a missing one is not
// created.
func TestReadOnlyOpenWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h.db")
	ctx := context.Background()
	s, err := history.Open(ctx, path, h1.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Add(ctx, run("checkout", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 500, 40), history.Meta{Commit: "c1"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	snapshot := func() string {
		var b strings.Builder
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			fmt.Fprintf(&b, "%s %d %x\n", e.Name(), len(data), sha256.Sum256(data))
		}
		return b.String()
	}
	before := snapshot()
	ro, err := history.OpenReadOnly(ctx, path, h1.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := ro.List(ctx, history.Filter{})
	ro.Close()
	if err != nil || len(runs) != 1 {
		t.Fatalf("read-only list: %d runs, %v", len(runs), err)
	}
	if after := snapshot(); after != before {
		t.Errorf("a read-only open wrote to the store's directory:\nbefore %s\nafter  %s", before, after)
	}
	missing := filepath.Join(dir, "none.db")
	if _, err := history.OpenReadOnly(ctx, missing, h1.Guard{}); !errors.Is(err, history.ErrNoStore) {
		t.Errorf("a missing store: %v, want ErrNoStore", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("reading a missing store created it")
	}
}
