"""Rows of the notification log written in bulk: one Core executemany per batch instead of ORM objects."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from contracts.delivery import NotificationRequest
from ville.models.billing import Notification

# (key, channel, template, subject_ref) of one message
LogRow = tuple[str, str, str, str]


def rows_of(requests: Iterable[NotificationRequest]) -> list[LogRow]:
    """The log rows of these requests."""
    return [(r.key, r.channel, r.template, r.subject_ref) for r in requests]


def insert_log_rows(s: Session, rows: Iterable[LogRow], status: str, at: datetime | None = None) -> None:
    """Insert one row per key with `status`; a key already logged keeps its row (a concurrent attempt is harmless).

    The caller commits: the reservation is in the same transaction as whatever it guards.
    """
    now = at or datetime.now(UTC)
    values: list[dict[str, Any]] = [
        {"key": k, "channel": ch, "template": t, "subject_ref": ref, "status": status, "sent_at": now}
        for k, ch, t, ref in rows
    ]
    if not values:
        return
    upsert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    s.execute(upsert(Notification).on_conflict_do_nothing(index_elements=["key"]), values)
