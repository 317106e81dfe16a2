#!/usr/bin/env bash
# `make test`'s two passes, side by side: the whole suite on SQLite, and the suites that read or write the
# database again on PostgreSQL (with the chaos suite). Most of a test's time is spent waiting on Temporal,
# browsers and emulators, so two passes at once take far less than one after the other on two cores.
# Each line is prefixed with its pass; the exit code is the first failing pass's (pytest's 5, "no tests
# collected", fails like any other).
set -uo pipefail
cd "$(dirname "$0")/.."

: "${PG_SUITES:?PG_SUITES: the suites of the PostgreSQL pass}"
PYTEST=.venv/bin/pytest

pass() {
    local name=$1
    shift
    local started=$SECONDS
    "$@" 2>&1 | sed -u "s/^/[$name] /"
    local rc=$?
    echo "[$name] exit code $rc after $((SECONDS - started)) s"
    return $rc
}

# shellcheck disable=SC2086  # PG_SUITES, PG_ONCE and PYTEST_ARGS are word lists
pass sqlite "$PYTEST" ${PYTEST_ARGS:-} &
sqlite=$!
# shellcheck disable=SC2086
pass postgresql env DB=postgresql CHAOS=1 "$PYTEST" $PG_SUITES ${PG_ONCE:-} ${PYTEST_ARGS:-} &
postgresql=$!

wait $sqlite
sqlite_rc=$?
wait $postgresql
postgresql_rc=$?
echo "SQLite pass: exit code $sqlite_rc; PostgreSQL pass: exit code $postgresql_rc"
if [ $sqlite_rc -ne 0 ]; then exit $sqlite_rc; fi
exit $postgresql_rc
