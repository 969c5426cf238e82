#!/usr/bin/env bash
# Starts Debian's PostgreSQL on loopback for the history store's tests and
# prints the URL to give them as BESTBEFORE_POSTGRES. Run as root, after
# apt-get install postgresql (.ci/run does both).
set -euo pipefail
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$ver main"; then
	pg_createcluster "$ver" main >/dev/null
fi
pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do
	pg_isready -h 127.0.0.1 -q && break
	sleep 1
done
pg_isready -h 127.0.0.1 -q || { echo "postgres-start: PostgreSQL $ver did not start" >&2; exit 1; }
su postgres -c "psql -q -v ON_ERROR_STOP=1" <<'SQL' >/dev/null
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bestbefore') THEN
    CREATE ROLE bestbefore LOGIN PASSWORD 'bestbefore';
  END IF;
END $$;
SELECT 'CREATE DATABASE bestbefore OWNER bestbefore' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'bestbefore')\gexec
SQL
echo "postgres://bestbefore:bestbefore@127.0.0.1:5432/bestbefore?sslmode=disable"
