"""Two batches taking the first invoice numbers of a year at once: one waits for the other, numbers stay gapless.

On PostgreSQL the counter was an UPDATE then, finding no row, an INSERT: the second of two first batches of a year
failed with a unique violation (an activity retry and an error in the worker's log; found by tests/chaos on
PostgreSQL). Runs on the database the `DB` switch names; the waiting is observed on PostgreSQL (pg_locks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from domain.numbering import check_gapless
from services.billing import BillingStore
from tests.conftest import Databases
from tests.workflows.conftest import eventually
from ville.db import SessionFactory, make_engine

YEAR = 2031  # a year no other step of this database has numbered


@pytest.fixture
def engine(databases: Databases) -> Iterator[Engine]:
    """A fresh migrated database of the test's own."""
    url = databases.create("numbers")
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        databases.drop(url)


def _waiting_backends(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar_one())


async def test_two_first_batches_of_a_year_share_the_counter(engine: Engine) -> None:
    sessions = SessionFactory(engine)
    with sessions() as first:
        numbers_first = BillingStore._take_numbers(first, YEAR, 3)  # the year's row, locked until commit
        second = asyncio.create_task(asyncio.to_thread(_take_and_commit, sessions, 2))
        if engine.dialect.name == "postgresql":
            await eventually(lambda: _waiting_backends(engine) > 0)  # the second batch waits on the first's row
        first.commit()
    numbers_second = await second
    assert numbers_first == [f"FF-{YEAR}-00000{n}" for n in (1, 2, 3)]
    assert numbers_second == [f"FF-{YEAR}-00000{n}" for n in (4, 5)]  # after the first's, none twice, no gap
    assert check_gapless(numbers_first + numbers_second) == []


def _take_and_commit(sessions: SessionFactory, count: int) -> list[str]:
    with sessions() as s:
        numbers = BillingStore._take_numbers(s, YEAR, count)
        s.commit()
        return numbers
