"""Rhythm-aware delivery plumbing for the notifier: people's stored rhythms, and the timers of waiting messages."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import func
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from contracts.delivery import DELIVERY_WORKFLOW, NotificationDeliveryInput
from domain.delivery import parse_windows
from domain.rhythm import Rhythm, Window
from ville.ids import notification_delivery_id
from ville.models.billing import Notification
from ville.models.rhythm import ContactRhythm, ScheduledNotification

log = structlog.get_logger(__name__)
START_TIMEOUT = 30.0  # seconds a sender waits for the server to accept the delivery workflow's start


def rhythm_of(row: ContactRhythm) -> Rhythm:
    """The domain rhythm a stored row describes."""
    return Rhythm(
        quiet=Window(row.quiet_start, row.quiet_end),
        preferred=parse_windows(row.preferred_windows),
        sms_on_rest_days=row.sms_on_rest_days,
        timezone=row.timezone,
    )


def load_rhythms(s: Session, people: Collection[tuple[str, int]]) -> dict[tuple[str, int, str], Rhythm]:
    """Stored rhythms of these recipients, per channel; a person or channel without a row keeps the default."""
    found: dict[tuple[str, int, str], Rhythm] = {}
    by_kind: dict[str, set[int]] = {}
    for kind, pid in people:
        by_kind.setdefault(kind, set()).add(pid)
    for kind, ids in by_kind.items():
        ordered = sorted(ids)
        for i in range(0, len(ordered), 500):  # bounded IN lists, also on PostgreSQL
            rows = s.exec(
                select(ContactRhythm).where(
                    ContactRhythm.person_kind == kind, col(ContactRhythm.person_id).in_(ordered[i : i + 500])
                )
            ).all()
            for row in rows:
                found[(row.person_kind, row.person_id, row.channel)] = rhythm_of(row)
    return found


def rhythm_rows(s: Session, kind: str, person_id: int) -> dict[str, ContactRhythm]:
    """One person's stored rhythm rows, by channel."""
    rows = s.exec(
        select(ContactRhythm).where(ContactRhythm.person_kind == kind, ContactRhythm.person_id == person_id)
    ).all()
    return {r.channel: r for r in rows}


def save_rhythm(
    s: Session, kind: str, person_id: int, channel: str, rhythm: Rhythm, windows: str, at: datetime
) -> None:
    """Store one person's rhythm on one channel (`windows` as domain.delivery.format_windows writes them)."""
    row = rhythm_rows(s, kind, person_id).get(channel) or ContactRhythm(
        person_kind=kind, person_id=person_id, channel=channel
    )
    row.quiet_start, row.quiet_end = rhythm.quiet.start, rhythm.quiet.end
    row.preferred_windows = windows
    row.sms_on_rest_days = rhythm.sms_on_rest_days
    row.timezone = rhythm.timezone
    row.updated_at = at
    s.add(row)
    s.commit()


class TemporalDeliveryScheduler:
    """Signal-with-start of the delivery workflow of each instant, from the notifier's worker threads.

    The notifier runs in sync activities on the worker's thread pool while the Temporal client lives on the
    worker's event loop: calls are handed to that loop and awaited from the thread.
    """

    def __init__(self, client: Client, task_queue: str, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.client = client
        self.task_queue = task_queue
        self.loop = loop or asyncio.get_running_loop()

    def ensure(self, instants: Collection[datetime]) -> None:
        """Start (or signal, if already waiting) one delivery workflow per instant."""
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            # only sync activities (worker threads) may call this: blocking the loop's own thread would hang
            raise RuntimeError("TemporalDeliveryScheduler.ensure must be called from a worker thread")
        for at in sorted(instants):
            future = asyncio.run_coroutine_threadsafe(self._start(at), self.loop)
            future.result(timeout=START_TIMEOUT)

    async def _start(self, at: datetime) -> Any:
        return await start_delivery(self.client, self.task_queue, at)


async def start_delivery(client: Client, task_queue: str, at: datetime) -> Any:
    """Signal-with-start the delivery workflow of instant `at` (a running one is signalled, not duplicated)."""
    utc = at.astimezone(UTC)
    return await client.start_workflow(
        DELIVERY_WORKFLOW,
        NotificationDeliveryInput(utc),
        id=notification_delivery_id(utc),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal="more_waiting",
    )


class NotResendable(Exception):
    """This message cannot be resent (French message for the operator)."""

    def __init__(self, message_fr: str) -> None:
        super().__init__(message_fr)
        self.message_fr = message_fr


def failed_notifications(s: Session, limit: int = 200) -> list[tuple[Notification, bool]]:
    """Messages whose delivery failed, newest first, each with whether its content was kept (resendable)."""
    rows = s.exec(
        select(Notification).where(Notification.status == "failed").order_by(col(Notification.id).desc()).limit(limit)
    ).all()
    keys = [n.key for n in rows]
    kept = set(s.exec(select(ScheduledNotification.key).where(col(ScheduledNotification.key).in_(keys))).all())
    return [(n, n.key in kept) for n in rows]


def requeue_failed(s: Session, notification_id: int, now: datetime) -> tuple[str, datetime]:
    """Queue a failed message again for the minute `now`; its key and instant (the delivery workflow sends it).

    LookupError for an unknown id; NotResendable unless it failed and its content was kept. Queuing it twice is
    refused (it is no longer "failed"), and the delivery sends each key once.
    """
    notification = s.get(Notification, notification_id)
    if notification is None:
        raise LookupError(notification_id)
    if notification.status != "failed":
        raise NotResendable("Ce message n'est pas en échec : il est déjà envoyé ou en attente d'envoi.")
    row = s.exec(select(ScheduledNotification).where(ScheduledNotification.key == notification.key)).first()
    if row is None:
        raise NotResendable("Le contenu de ce message n'a pas été conservé : il ne peut pas être renvoyé.")
    at = now.astimezone(UTC).replace(second=0, microsecond=0)
    row.status, row.due_at, row.sent_at = "waiting", at, None
    notification.status = "scheduled"
    s.add_all([row, notification])
    s.commit()
    return notification.key, at


@dataclass(frozen=True)
class WaitingInstant:
    """Messages that will go at one instant, per channel."""

    due_at: datetime
    count: int
    by_channel: dict[str, int]


def waiting_notifications(s: Session) -> list[WaitingInstant]:
    """Messages waiting for their recipients' allowed hours, grouped by the instant they will go (soonest first).

    Read from the table the notifier writes when a wait starts: one indexed GROUP BY, no workflow history.
    """
    rows = s.exec(
        select(ScheduledNotification.due_at, ScheduledNotification.channel, func.count())
        .where(ScheduledNotification.status == "waiting")
        .group_by(col(ScheduledNotification.due_at), col(ScheduledNotification.channel))
        .order_by(col(ScheduledNotification.due_at))
    ).all()
    grouped: dict[datetime, dict[str, int]] = {}
    for due, channel, count in rows:
        at = due.replace(tzinfo=UTC) if due.tzinfo is None else due.astimezone(UTC)
        grouped.setdefault(at, {})[channel] = int(count)
    return [WaitingInstant(at, sum(ch.values()), ch) for at, ch in grouped.items()]
