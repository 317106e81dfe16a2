"""Crash tests: real processes killed with SIGKILL. Marked `chaos` (registered here, pyproject stays untouched)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Databases


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker so `--strict-markers` accepts it; `-m "not chaos"` leaves these tests out."""
    config.addinivalue_line("markers", "chaos: kills worker and Temporal processes (tests/chaos, `make chaos`)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this folder is a chaos test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.chaos)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Collected only when asked for (`pytest tests/chaos`, `make chaos`, or CHAOS=1): `make test` stays fast."""
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    if os.environ.get("CHAOS") == "1":
        return None
    here = Path(__file__).resolve().parent
    for arg in config.args:
        target = Path(arg.split("::")[0]).resolve()
        if target == here or here in target.parents:
            return None
    return True


@pytest.fixture
def chaos_db(databases: Databases) -> Iterator[str]:
    """A new migrated database of the test's own, on the engine the `DB` switch names (SQLite or PostgreSQL)."""
    url = databases.create("chaos")
    try:
        yield url
    finally:
        databases.drop(url)
