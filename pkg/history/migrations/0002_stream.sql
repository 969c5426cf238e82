-- 0002: the figures of a service that streams tokens: the best-before in
-- output tokens per second, and the time to first token's p99 at the
-- best-before step (from the intended send). NULL for a run that streamed
-- nothing, and for the runs stored before this migration.
ALTER TABLE runs ADD COLUMN best_before_tokens_per_s DOUBLE PRECISION;
ALTER TABLE runs ADD COLUMN ttft_p99_ms DOUBLE PRECISION;
