"""bench --pg-statements: PostgreSQL's statements since a reset, the costliest first, trigger checks marked nested."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from bench import pg_statements
from stack.pgcluster import ThrowawayCluster


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    started = ThrowawayCluster(server_options=pg_statements.PG_STATEMENTS_OPTIONS).start()
    try:
        yield started
    finally:
        started.stop()


def test_statements_since_the_reset_with_foreign_key_checks_nested(cluster: ThrowawayCluster) -> None:
    cluster.admin("CREATE TABLE parent (id int PRIMARY KEY)")
    cluster.admin("CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent (id))")
    cluster.admin("INSERT INTO parent SELECT generate_series(1, 10)")
    cluster.admin("SELECT count(*) FROM parent")  # before the reset: not counted
    pg_statements.reset(cluster)
    with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres") as c:
        for i in range(1, 6):
            c.execute("INSERT INTO child VALUES (%s, %s)", (i, i))

    result = pg_statements.top(cluster)

    by_query = {st["query"]: st for st in result["statements"]}
    insert = by_query["INSERT INTO child VALUES ($1, $2)"]
    assert (insert["calls"], insert["rows"], insert["nested"]) == (5, 5, False)
    fk_checks = [st for st in result["statements"] if st["nested"] and '"public"."parent"' in st["query"]]
    assert [st["calls"] for st in fk_checks] == [5]  # one check per inserted row, fired by the foreign key
    assert not any("count(*)" in q for q in by_query)
    assert result["calls"] >= 5 and 0 < insert["share"] <= 1
    rows = pg_statements.statement_rows(result)
    assert rows[0][0] == "all top-level statements" and any(k.startswith("nested") for k, _ in rows)
