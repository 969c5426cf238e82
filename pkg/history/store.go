// Package history stores runs over time: an SQLite file by default, or a
// PostgreSQL server for a team whose CI runners share no disk (ADR 29).
// Both hold the same schema, created by the versioned migrations in
// migrations/, and every run's whole result.json, so that any figure can
// be recomputed and compare can take its baseline from the store.
package history

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver: the binary stays static

	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/result"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultPath is where the embedded store lives unless --db says otherwise.
const DefaultPath = "reports/history.db"

// timeFormat is how times are stored: UTC, fixed width, so that text order
// is time order on both databases.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

// Store is an open history database.
type Store struct {
	db   *sql.DB
	pg   bool
	name string
}

// IsPostgres reports whether target names a PostgreSQL server rather than
// an SQLite file.
func IsPostgres(target string) bool {
	t := strings.ToLower(target)
	return strings.HasPrefix(t, "postgres://") || strings.HasPrefix(t, "postgresql://")
}

// ErrBadDB is a --db that is neither a file path nor a postgres:// URL
// but looks like a connection string: taken as a path it would create
// files named after its password.
var ErrBadDB = errors.New("history: --db")

var (
	schemeRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)
	keywordRE = regexp.MustCompile(`(?i)(^|\s)(host|hostaddr|port|dbname|user|password|sslmode|service)=`)
)

// checkTarget refuses a --db that looks like a connection string bestbefore
// does not take: another scheme, or libpq's keyword form.
func checkTarget(target string) error {
	switch {
	case IsPostgres(target):
		return nil
	case schemeRE.MatchString(target):
		return fmt.Errorf("%w %s: only postgres:// (or postgresql://) URLs and SQLite file paths are stores", ErrBadDB, Redact(target))
	case keywordRE.MatchString(target):
		return fmt.Errorf("%w %s: a libpq keyword string is not taken; write it as a URL, postgres://USER@HOST:PORT/DB (the password from PGPASSWORD or ~/.pgpass)", ErrBadDB, Redact(target))
	}
	return nil
}

var secretParamRE = regexp.MustCompile(`(?i)((?:^|[?&\s])(?:password|sslpassword|pass|pwd)=)([^&\s]*)`)

// Redact masks every password in a store target: a URL's user password
// and password query parameters, or a keyword string's password=.
func Redact(target string) string {
	out := target
	if u, err := url.Parse(target); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			out = u.String()
		}
	}
	return secretParamRE.ReplaceAllString(out, "${1}xxxxx")
}

// ErrNoStore is a store opened to be read that does not exist.
var ErrNoStore = errors.New("history: no store")

// OpenReadOnly opens the store at target to read it, writing nothing:
// an SQLite file read-only (a store on a read-only disk, or one another
// user owns, can be listed), never created, never migrated. A store whose
// schema is not this binary's is refused: newer (ErrNewerSchema), or older
// (history add migrates it).
func OpenReadOnly(ctx context.Context, target string, guard h1.Guard) (*Store, error) {
	return open(ctx, target, guard, true)
}

// Open opens (creating it if need be) the store at target, a file path or
// a postgres:// URL, and brings its schema up to date. A server's address
// goes through guard like every connection the tool makes.
func Open(ctx context.Context, target string, guard h1.Guard) (*Store, error) {
	return open(ctx, target, guard, false)
}

func open(ctx context.Context, target string, guard h1.Guard, readOnly bool) (*Store, error) {
	if target == "" {
		target = DefaultPath
	}
	if err := checkTarget(target); err != nil {
		return nil, err
	}
	s := &Store{name: target}
	if IsPostgres(target) {
		cfg, err := pgx.ParseConfig(target)
		if err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrBadDB, Redact(target), redactErr(err, target))
		}
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if network == "unix" { // a local socket: no address to guard
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}
			return guard.DialContext(ctx, network, addr, 10*time.Second)
		}
		cfg.ConnectTimeout = 10 * time.Second
		s.db, s.pg = stdlib.OpenDB(*cfg), true
		s.name = Redact(target)
	} else if readOnly {
		if _, err := os.Stat(target); err != nil {
			return nil, fmt.Errorf("%w at %s: store runs with bestbefore history add --db %s", ErrNoStore, target, target)
		}
		// mode=ro writes nothing; immutable=1 reads a WAL store without
		// its -shm file, which a read-only directory cannot create.
		dsn := "file:" + escapePath(target) + "?mode=ro&immutable=1&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("history: %s: %w", target, err)
		}
		s.db = db
	} else {
		if dir := filepath.Dir(target); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("history: %w", err)
			}
		}
		// _txlock=immediate: every transaction takes the write lock at
		// its start, where the busy timeout can wait for it.
		// A path is a path: the characters a file: URI would read ('#'
		// starts a fragment, '%' an escape, '?' the parameters) are
		// escaped.
		dsn := "file:" + escapePath(target) + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("history: %s: %w", target, err)
		}
		db.SetMaxOpenConns(1) // one writer; SQLite serializes them anyway
		s.db = db
	}
	// Opening a fresh SQLite store switches it to WAL, which needs the
	// file to itself; SQLite answers busy at once there instead of
	// waiting, so a store opened by twenty CI jobs at once retries.
	if err := s.retryBusy(ctx, func() error { return s.db.PingContext(ctx) }); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("history: cannot open %s: %w", s.name, redactErr(err, target))
	}
	if readOnly {
		if err := s.checkVersion(ctx); err != nil {
			s.db.Close()
			return nil, err
		}
		return s, nil
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// escapePath writes a file path for a file: URI: the characters it would
// read ('#' starts a fragment, '%' an escape, '?' the parameters) are
// escaped, so that a path is that path.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "#", "%23", "?", "%3F").Replace(p)
}

// checkVersion refuses, for a store opened read-only, a schema this
// binary does not read: newer, or older (not migrated yet).
func (s *Store) checkVersion(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	var have sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("history: %s is not a bestbefore history store: %w", s.name, redactErr(err, s.name))
	}
	switch v := int(have.Int64); {
	case v > len(ms):
		return fmt.Errorf("%w: %s is at schema version %d, this bestbefore knows up to %d; use the newer bestbefore that wrote it", ErrNewerSchema, s.name, v, len(ms))
	case v < len(ms):
		return fmt.Errorf("history: %s is at schema version %d, older than this bestbefore's %d: bestbefore history add migrates it (it needs to write)", s.name, v, len(ms))
	}
	return nil
}

// redactErr keeps the passwords of target out of an error message.
func redactErr(err error, target string) error {
	msg := err.Error()
	if u, perr := url.Parse(target); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	for _, m := range secretParamRE.FindAllStringSubmatch(target, -1) {
		if v, _ := url.QueryUnescape(m[2]); v != "" {
			msg = strings.ReplaceAll(msg, v, "xxxxx")
		}
		if m[2] != "" {
			msg = strings.ReplaceAll(msg, m[2], "xxxxx")
		}
	}
	return &redacted{msg: msg, err: err}
}

// redacted is an error whose message had its passwords masked; errors.Is
// still sees what caused it (a guard refusal, say).
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// Name is the store's file or its URL without a password.
func (s *Store) Name() string { return s.name }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// rebind turns the ? placeholders of a query into PostgreSQL's $1, $2...
func (s *Store) rebind(q string) string {
	if !s.pg {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Migration is one schema change, numbered in order.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the schema changes in order.
func Migrations() ([]Migration, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, f := range files {
		base := filepath.Base(f)
		num, name, ok := strings.Cut(strings.TrimSuffix(base, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("history: migration %s is not named NNNN_name.sql", base)
		}
		b, err := migrations.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("history: migrations skip from %d to %d", i, m.Version)
		}
	}
	return out, nil
}

// ErrNewerSchema is a store whose schema a newer bestbefore migrated.
var ErrNewerSchema = errors.New("history: the store's schema is newer than this bestbefore knows")

// migrate brings the schema up to date in one transaction that holds the
// database's write lock from its start: PostgreSQL's advisory lock (taken
// before anything is created, so that two CI jobs opening a fresh store
// at once never race to create a table), SQLite's BEGIN IMMEDIATE (the
// busy timeout waits for it; a deferred transaction that finds another
// writer has committed cannot wait, and failed with SQLITE_BUSY). A
// store migrated by a newer binary is refused, not used. SQLite's
// remaining busy errors are retried.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	err = s.retryBusy(ctx, func() error { return s.migrateOnce(ctx, ms) })
	if err != nil && !errors.Is(err, ErrNewerSchema) {
		return fmt.Errorf("history: %s: %w", s.name, err)
	}
	return err
}

// retryBusy runs fn again, with a growing pause, while SQLite answers
// that another connection holds the database (about 10 s in all), and
// once for PostgreSQL, whose locks wait by themselves.
func (s *Store) retryBusy(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || s.pg || attempt >= 20 || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50*(attempt+1)) * time.Millisecond):
		}
	}
}

// isBusy says err is SQLite's "database is locked": another writer held
// it past the busy timeout.
func isBusy(err error) bool {
	m := err.Error()
	return strings.Contains(m, "SQLITE_BUSY") || strings.Contains(m, "database is locked")
}

func (s *Store) migrateOnce(ctx context.Context, ms []Migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.pg {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7243019)`); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return err
	}
	var have sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if int(have.Int64) > len(ms) {
		return fmt.Errorf("%w: %s is at schema version %d, this bestbefore knows up to %d; use the newer bestbefore that wrote it", ErrNewerSchema, s.name, have.Int64, len(ms))
	}
	for _, m := range ms[have.Int64:] {
		if err := s.apply(ctx, tx, m); err != nil {
			return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return tx.Commit()
}

func (s *Store) apply(ctx context.Context, tx *sql.Tx, m Migration) error {
	blob := "BLOB"
	if s.pg {
		blob = "BYTEA"
	}
	for _, stmt := range strings.Split(strings.ReplaceAll(m.SQL, "{{blob}}", blob), ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`), m.Version, m.Name, time.Now().UTC().Format(timeFormat))
	return err
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// Version is the newest migration applied.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

// Meta is what a result does not say about itself: the commit and branch
// it measured.
type Meta struct {
	Commit, Branch string
}

// Run is one stored run, as listed.
type Run struct {
	ID          string    `json:"id"`
	Scenario    string    `json:"scenario"`
	ScenarioSHA string    `json:"scenario_sha256"`
	Commit      string    `json:"commit"`
	Branch      string    `json:"branch"`
	StartedAt   time.Time `json:"started_at"`
	AddedAt     time.Time `json:"added_at"`
	Machine     string    `json:"machine"`
	Status      string    `json:"status"`
	// The figures of the run; null when it found no best-before.
	BestBeforeQPS *float64 `json:"best_before_qps"`
	NMinus1QPS    *float64 `json:"n_minus_1_qps"`
	P99MS         *float64 `json:"p99_ms"`
	ErrorRate     *float64 `json:"error_rate"`
	SLOP99MS      *float64 `json:"slo_p99_ms,omitempty"`
	// The figures of a service that streams tokens: the best-before in
	// output tokens per second, and the time to first token's p99 at the
	// best-before step; null when it streamed nothing.
	BestBeforeTokensPerS *float64 `json:"best_before_tokens_per_s,omitempty"`
	TTFTP99MS            *float64 `json:"ttft_p99_ms,omitempty"`
}

// Machine is a result's machine fingerprint: its CPU model and core
// count. Runs on different machines are never compared with each other.
func Machine(m result.Manifest) string {
	model := strings.Join(strings.Fields(m.CPUModel), " ")
	if model == "" {
		model = "unknown CPU"
	}
	return fmt.Sprintf("%s ×%d", model, m.CPUs)
}

// ID is a result's content hash: the SHA-256 of its canonical JSON, so
// the same result added twice is the same run, however it was formatted.
func ID(r *result.Result) (string, []byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b, nil
}

// Add stores r; a result already stored is left as it is (added false).
func (s *Store) Add(ctx context.Context, r *result.Result, m Meta) (id string, added bool, err error) {
	id, doc, err := ID(r)
	if err != nil {
		return "", false, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(doc)
	if err := zw.Close(); err != nil {
		return "", false, err
	}
	f := figuresOf(r)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO runs (id, scenario, scenario_sha, commit_sha, branch, started_at, added_at, machine, status,
		best_before_qps, n_minus_1_qps, p99_ms, error_rate, slo_p99_ms, best_before_tokens_per_s, ttft_p99_ms, result)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		id, r.Name, r.Manifest.ScenarioSHA, m.Commit, m.Branch, r.StartedAt.UTC().Format(timeFormat), time.Now().UTC().Format(timeFormat),
		Machine(r.Manifest), r.Status, f.bestBefore, f.nMinus1, f.p99, f.errRate, f.sloP99, f.tokens, f.ttftP99, gz.Bytes())
	if err != nil {
		return "", false, fmt.Errorf("history: %s: %w", s.name, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return id, false, err
	}
	for _, st := range r.Steps {
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO steps (run_id, idx, phase, offered_qps, achieved_qps, requests, errors, p50_ms, p99_ms, p999_ms, slo_pass, histogram)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			id, st.Index, st.Phase, st.OfferedQPS, st.AchievedQPS, st.Requests, st.Errors, st.LatencyMS.P50, st.LatencyMS.P99, st.LatencyMS.P999, boolInt(st.SLOPass), st.Histogram); err != nil {
			return "", false, fmt.Errorf("history: %s: step %d: %w", s.name, st.Index, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return "", false, fmt.Errorf("history: %s: %w", s.name, err)
	}
	return id, true, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type figures struct {
	bestBefore, nMinus1, p99, errRate, sloP99, tokens, ttftP99 *float64
}

// figuresOf reads the figures a run is listed and tracked by.
func figuresOf(r *result.Result) figures {
	var f figures
	if p, ok := r.Objectives.Bound("latency.p99"); ok {
		f.sloP99 = &p
	}
	bb := r.BestBefore
	if !bb.Found || bb.QPS <= 0 {
		return f
	}
	q, n1 := bb.QPS, bb.NMinus1QPS
	f.bestBefore = &q
	if bb.Nodes > 1 {
		// One node has no N-1 headroom to track: none, not 0 QPS.
		f.nMinus1 = &n1
	}
	if bb.OutputTokensPerS > 0 {
		tk := bb.OutputTokensPerS
		f.tokens = &tk
	}
	for _, st := range r.Steps {
		if st.Index == bb.Step {
			p, e := st.LatencyMS.P99, st.ErrorRate
			f.p99, f.errRate = &p, &e
			if st.Stream != nil && st.Stream.Responses > 0 {
				tt := st.Stream.TTFTMS.P99
				f.ttftP99 = &tt
			}
		}
	}
	return f
}

// Filter selects runs.
type Filter struct {
	Scenario, Machine, Branch, Status string
	// Limit bounds the number of runs, newest first (0: all).
	Limit int
}

// List returns the runs f selects, newest first.
func (s *Store) List(ctx context.Context, f Filter) ([]Run, error) {
	q := `SELECT id, scenario, scenario_sha, commit_sha, branch, started_at, added_at, machine, status,
		best_before_qps, n_minus_1_qps, p99_ms, error_rate, slo_p99_ms, best_before_tokens_per_s, ttft_p99_ms FROM runs WHERE 1 = 1`
	var args []any
	for _, c := range []struct{ col, v string }{{"scenario", f.Scenario}, {"machine", f.Machine}, {"branch", f.Branch}, {"status", f.Status}} {
		if c.v != "" {
			q += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	q += " ORDER BY started_at DESC, id"
	if f.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("history: %s: %w", s.name, err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var started, added string
		var bb, n1, p99, er, slo, tk, tt sql.NullFloat64
		if err := rows.Scan(&r.ID, &r.Scenario, &r.ScenarioSHA, &r.Commit, &r.Branch, &started, &added, &r.Machine, &r.Status, &bb, &n1, &p99, &er, &slo, &tk, &tt); err != nil {
			return nil, err
		}
		r.StartedAt, _ = time.Parse(timeFormat, started)
		r.AddedAt, _ = time.Parse(timeFormat, added)
		r.BestBeforeQPS, r.NMinus1QPS, r.P99MS, r.ErrorRate, r.SLOP99MS = ptr(bb), ptr(n1), ptr(p99), ptr(er), ptr(slo)
		r.BestBeforeTokensPerS, r.TTFTP99MS = ptr(tk), ptr(tt)
		out = append(out, r)
	}
	return out, rows.Err()
}

func ptr(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	f := v.Float64
	return &f
}

// Result returns the stored result.json of run id.
func (s *Store) Result(ctx context.Context, id string) (*result.Result, error) {
	var gz []byte
	if err := s.db.QueryRowContext(ctx, s.rebind(`SELECT result FROM runs WHERE id = ?`), id).Scan(&gz); err != nil {
		return nil, fmt.Errorf("history: %s: run %s: %w", s.name, id, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("history: run %s: %w", id, err)
	}
	doc, err := io.ReadAll(io.LimitReader(zr, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("history: run %s: %w", id, err)
	}
	return result.Decode(bytes.NewReader(doc))
}

// StepCount returns how many steps are stored for run id.
func (s *Store) StepCount(ctx context.Context, id string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM steps WHERE run_id = ?`), id).Scan(&n)
	return n, err
}
