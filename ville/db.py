"""SQLModel engine and sessions: SQLite (WAL) by default, PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine


def make_engine(url: str) -> Engine:
    """Create an engine tuned for the backend behind `url`."""
    if url.startswith("sqlite"):
        # a pool at least as large as the threads using it (API_THREADS, the worker's activity threads): below
        # that, connections beyond the pool were opened (with their PRAGMAs) and closed on every request
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20, max_overflow=20
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


@lru_cache
def engine_for(url: str) -> Engine:
    """One engine per URL and process."""
    return make_engine(url)


class SessionFactory:
    """Opens sessions on one engine; injected into activity classes and API dependencies."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # the same pool, each statement its own transaction (see `reading`)
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def open(self) -> Session:
        """A new session (the caller closes it); objects stay readable after commit."""
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        with self.open() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for pages that only read: no BEGIN and ROLLBACK around the reads, two round trips less per
        request on PostgreSQL. Under PostgreSQL's READ COMMITTED each statement reads its own snapshot inside a
        transaction too, so a page sees nothing it would not have seen; nothing may be written through it."""
        with Session(self._autocommit, expire_on_commit=False) as session:
            yield session


def refresh_statistics(engine: Engine, *tables: str) -> None:
    """PostgreSQL: fresh planner statistics for `tables` (sampled, about a second for millions of rows).

    Called after bulk loads and before the billing cycle scans the period's attendance: without statistics the
    planner billed one family by reading the whole `invoice_id IS NULL` index (8.8 ms a family against 0.06 ms;
    docs/performance.md), and autovacuum only catches up with a bulk load a minute or more later. SQLite plans
    well without them, so nothing runs there.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"ANALYZE {', '.join(tables)}" if tables else "ANALYZE")
