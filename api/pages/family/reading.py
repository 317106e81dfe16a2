"""Shared by the family pages: the sign-in check and the reads on one session in one thread, period labels."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request
from sqlmodel import Session

from api.pages.common import signed_in
from api.security import Principal
from domain.periods import period_from_key
from ville.models.people import Role

T = TypeVar("T")


def period_fr(period_key: str) -> str:
    """'2026-09' → 'septembre–octobre 2026'."""
    try:
        return period_from_key(period_key).label_fr
    except ValueError:
        return period_key


def read_signed_in(request: Request, read: Callable[[Session, Principal], T], *roles: Role) -> Awaitable[T]:
    """Check the caller (`signed_in` with `roles`) and run `read` for them, both on one session in one worker
    thread: the account lookup no longer blocks the event loop, and a page takes one pooled connection (one
    PostgreSQL pre-ping) and one thread hand-off per request instead of one per read (bench/pages.py). `read`
    only reads: the session is `SessionFactory.reading`'s, with no transaction around the reads."""

    def run() -> T:
        with request.app.state.sessions.reading() as session:
            principal = signed_in(request, *roles, connection=session.connection())
            return read(session, principal)

    return asyncio.to_thread(run)
