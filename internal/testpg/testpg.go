// Package testpg gives tests a PostgreSQL schema of their own on the
// server named by BESTBEFORE_POSTGRES (.ci/run starts Debian's PostgreSQL
// and sets it; scripts/postgres-start.sh does both on a developer's
// machine), so that packages tested in parallel never share tables.
package testpg

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

var _ = stdlib.GetDefaultDriver

// URL returns the URL of a fresh, empty schema, dropped when the test
// ends. Without BESTBEFORE_POSTGRES it skips the test, or fails it under
// CI, where PostgreSQL must be tested.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("BESTBEFORE_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("BESTBEFORE_POSTGRES is not set and CI is: .ci/run starts PostgreSQL and sets it")
		}
		t.Skip("BESTBEFORE_POSTGRES not set: start PostgreSQL with scripts/postgres-start.sh and set it to the URL it prints")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("test_%x", rand.Uint64())
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		t.Fatalf("BESTBEFORE_POSTGRES: %v", err)
	}
	t.Cleanup(func() {
		db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
