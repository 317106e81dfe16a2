"""Shared by the family pages: reads on a session of their own in one thread, period labels."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request
from sqlmodel import Session

from domain.periods import period_from_key

T = TypeVar("T")


def period_fr(period_key: str) -> str:
    """'2026-09' → 'septembre–octobre 2026'."""
    try:
        return period_from_key(period_key).label_fr
    except ValueError:
        return period_key


def read_in_thread(request: Request, read: Callable[[Session], T]) -> Awaitable[T]:
    """Run `read` on a session of its own in one worker thread (the two most viewed pages: one thread hand-off
    per request instead of three for a session dependency and a sync route; asyncio's executor is lighter than
    anyio's limiter here, bench/pages.py)."""

    def run() -> T:
        with request.app.state.sessions() as session:
            return read(session)

    return asyncio.to_thread(run)
