"""Where PostgreSQL spends its time in a benchmark: pg_stat_statements on the throwaway cluster.

``python -m bench.billing_cycle --db postgresql --pg-statements``: statements are counted from the worker's
start (after seeding) to the end of the cycle, then the costliest are printed. Statements run by triggers (the
foreign-key checks) are listed too, marked "nested": their time is also inside the statement that fired them.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from stack.pgcluster import ThrowawayCluster

PG_STATEMENTS_OPTIONS = ("shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all")

_TOP = """
SELECT toplevel, calls, total_exec_time, rows, query FROM pg_stat_statements
WHERE query NOT LIKE '%%pg_stat_statements%%' ORDER BY total_exec_time DESC LIMIT %s
"""
_TOTAL = "SELECT coalesce(sum(total_exec_time), 0), coalesce(sum(calls), 0) FROM pg_stat_statements WHERE toplevel"


def reset(cluster: ThrowawayCluster) -> None:
    """Start counting now."""
    cluster.admin("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    cluster.admin("SELECT pg_stat_statements_reset()")


def top(cluster: ThrowawayCluster, limit: int = 12) -> dict[str, Any]:
    """Execution time of every top-level statement since `reset`, and the `limit` costliest statements."""
    with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres") as c:
        total_ms, calls = c.execute(_TOTAL).fetchone() or (0, 0)
        found = c.execute(_TOP, (limit,)).fetchall()
    return {
        "total_exec_ms": round(float(total_ms)),
        "calls": int(calls),
        "statements": [
            {
                "nested": not toplevel,
                "calls": n,
                "total_ms": round(ms),
                "mean_ms": round(ms / n, 3),
                "rows": rows,
                "share": round(ms / float(total_ms), 3) if total_ms else 0.0,
                "query": re.sub(r"\s+", " ", query)[:140],
            }
            for toplevel, n, ms, rows, query in found
        ],
    }


def statement_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """Printable rows: share of the top-level time, calls, mean, rows, the statement."""
    rows = [("all top-level statements", f"{result['total_exec_ms']} ms, {result['calls']} calls")]
    for st in result["statements"]:
        share = "nested" if st["nested"] else f"{100 * st['share']:.0f} %"
        rows.append(
            (f"{share}, {st['total_ms']} ms", f"{st['calls']} x {st['mean_ms']} ms, {st['rows']} rows: {st['query']}")
        )
    return rows
