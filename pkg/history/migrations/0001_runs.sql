-- 0001: runs and their steps. {{blob}} is BLOB on SQLite, BYTEA on PostgreSQL;
-- every other type reads the same on both. Times are UTC text of fixed width
-- (2006-01-02T15:04:05.000000000Z), so they sort as they compare.
CREATE TABLE runs (
    id              TEXT PRIMARY KEY,  -- sha256 of the result's canonical JSON
    scenario        TEXT NOT NULL,
    scenario_sha    TEXT NOT NULL,
    commit_sha      TEXT NOT NULL,
    branch          TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    added_at        TEXT NOT NULL,
    machine         TEXT NOT NULL,     -- CPU model and core count
    status          TEXT NOT NULL,
    best_before_qps DOUBLE PRECISION,  -- NULL when no step met the objectives
    n_minus_1_qps   DOUBLE PRECISION,
    p99_ms          DOUBLE PRECISION,  -- at the best-before step
    error_rate      DOUBLE PRECISION,  -- at the best-before step
    slo_p99_ms      DOUBLE PRECISION,  -- the p99 objective, when there is one
    result          {{blob}} NOT NULL  -- the whole result.json, gzipped
);
CREATE INDEX runs_scenario_time ON runs (scenario, machine, started_at);

CREATE TABLE steps (
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    phase        TEXT NOT NULL,
    offered_qps  DOUBLE PRECISION NOT NULL,
    achieved_qps DOUBLE PRECISION NOT NULL,
    requests     BIGINT NOT NULL,
    errors       BIGINT NOT NULL,
    p50_ms       DOUBLE PRECISION NOT NULL,
    p99_ms       DOUBLE PRECISION NOT NULL,
    p999_ms      DOUBLE PRECISION NOT NULL,
    slo_pass     INTEGER NOT NULL,
    histogram    TEXT NOT NULL,        -- the step's HDR histogram, as in result.json
    PRIMARY KEY (run_id, idx)
);
