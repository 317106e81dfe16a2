#!/usr/bin/env bash
# A local PostgreSQL for `make run` (and the benchmarks): `eval "$(scripts/local-postgres.sh)" && make run`.
# Creates the cluster on first use (data/postgres), starts it on 127.0.0.1:$PG_PORT (5433 by default: 5432 may
# be taken by a system server), creates the `ville` database, and prints the DATABASE_URL line to export.
# `scripts/local-postgres.sh stop` stops it. initdb refuses root: as root, the cluster runs as `postgres`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PG_DIR="${PG_DIR:-$ROOT/data/postgres}"
PG_PORT="${PG_PORT:-5433}"
PG_DB="${PG_DB:-ville}"
BINDIR="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")"
if [ ! -x "$BINDIR/initdb" ]; then
  echo "PostgreSQL is not installed: scripts/ensure-system-packages.sh postgresql" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then AS_PG=(runuser -u postgres --); else AS_PG=(); fi
mkdir -p "$PG_DIR"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PG_DIR"
if [ "${1:-start}" = "stop" ]; then
  "${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast stop >&2
  exit 0
fi
if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
  "${AS_PG[@]}" "$BINDIR/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 >/dev/null
fi
if ! "${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
  "${AS_PG[@]}" "$BINDIR/pg_ctl" -D "$PG_DIR/data" -w -l "$PG_DIR/postgres.log" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=200" start >&2
fi
if ! "${AS_PG[@]}" "$BINDIR/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" postgres | grep -q 1; then
  "${AS_PG[@]}" "$BINDIR/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$PG_DB"
fi
echo "export DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/$PG_DB"
