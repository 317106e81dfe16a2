"""Notifications by e-mail (SES), SMS (SNS) and post: each sent once per key, logged, in French."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.delivery import (
    DeliverDueResult,
    NotificationOutcome,
    NotificationRequest,
)
from domain.delivery import due_at, group_by_instant, is_urgent
from domain.rhythm import Rhythm
from services.bulk_email import BULK_MIN, PROVIDER_UNAVAILABLE, BulkEmailSender, Rendered, SentMarker, accepted, chunks
from services.notification_log import insert_log_rows, rows_of
from services.notification_registry import Contact, resolve_contacts, still_wanted
from ville.db import SessionFactory
from ville.metrics import NOTIFICATIONS_FAILED, NOTIFICATIONS_SENT
from ville.models.billing import Notification
from ville.models.rhythm import ScheduledNotification
from ville.settings import Settings

log = structlog.get_logger(__name__)
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # plain-text messages; HTML pages have their own autoescaping environment
    keep_trailing_newline=False,
    auto_reload=False,  # packaged templates: no stat() of the file for every message rendered
)


class DeliveryScheduler(Protocol):
    """Makes sure a durable timer exists for each instant at which stored messages wait."""

    def ensure(self, instants: Collection[datetime]) -> None:
        """Start or signal the delivery workflow of each instant."""


# How to find a person's rhythm on a channel: (session, [(kind, id)]) -> {(kind, id, channel): Rhythm}.
RhythmLoader = Callable[[Session, Collection[tuple[str, int]]], dict[tuple[str, int, str], Rhythm]]
DEFAULT_RHYTHM = Rhythm()


def activity_now() -> datetime:
    """The server's time of this activity attempt (virtual under time skipping); the clock elsewhere."""
    try:
        return activity.info().current_attempt_scheduled_time.astimezone(UTC)
    except RuntimeError:
        return datetime.now(UTC)


def _utc(dt: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were stored in UTC
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def render(template: str, channel: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of a template; the first line of an e-mail template is its subject."""
    text = TEMPLATES.get_template(f"{template}.{channel}.txt").render(**context).strip()
    if channel == "email":
        subject, _, body = text.partition("\n")
        return subject.removeprefix("Objet :").strip(), body.strip()
    return "", text


class Notifier:
    """Sends messages through SES/SNS; reserves each key first so that a retry never sends twice."""

    def __init__(
        self,
        sessions: SessionFactory,
        ses: Any,
        sns: Any,
        settings: Settings,
        scheduler: DeliveryScheduler | None = None,
        rhythms: RhythmLoader | None = None,
    ) -> None:
        self.sessions = sessions
        self.ses = ses
        self.sns = sns
        self.sender = settings.ses_sender
        self.base_url = settings.public_base_url
        # Without a scheduler (API process, unit tests) every message goes at once, as before.
        self.scheduler = scheduler
        self.rhythms = rhythms
        self.bulk = BulkEmailSender(ses, self.sender)

    def send_many(self, requests: Sequence[NotificationRequest], threads: int = 8) -> NotificationOutcome:
        """Send every request whose key was not sent before; safe to call again with the same keys.

        With a scheduler, a non-urgent message outside its recipient's allowed hours is stored and sent later
        by the delivery workflow of its instant.
        """
        if not requests:
            return NotificationOutcome(0, 0, 0)
        if self.scheduler is None:
            return self._send_now(requests, threads)[0]
        return self._send_in_rhythm(requests, threads, activity_now())

    def _send_in_rhythm(
        self, requests: Sequence[NotificationRequest], threads: int, now: datetime
    ) -> NotificationOutcome:
        assert self.scheduler is not None
        minute = now.replace(second=0, microsecond=0)  # rhythms are in minutes; also keeps the cache hot
        keys = [r.key for r in requests]
        with self.sessions() as s:
            statuses = dict(
                s.exec(select(Notification.key, Notification.status).where(col(Notification.key).in_(keys))).all()
            )
            waiting = {
                k: _utc(d)
                for k, d in s.exec(
                    select(ScheduledNotification.key, ScheduledNotification.due_at).where(
                        col(ScheduledNotification.key).in_(keys), ScheduledNotification.status == "waiting"
                    )
                ).all()
            }
            todo = [r for r in requests if statuses.get(r.key) != "sent" and r.key not in waiting]
            quiet = [(r.recipient_kind, r.recipient_id) for r in todo if not is_urgent(r.template, r.urgent)]
            rhythms = self.rhythms(s, set(quiet)) if self.rhythms and quiet else {}
        now_list: list[NotificationRequest] = []
        later: list[tuple[NotificationRequest, datetime]] = []
        for r in todo:
            if is_urgent(r.template, r.urgent):
                now_list.append(r)
                continue
            rhythm = rhythms.get((r.recipient_kind, r.recipient_id, r.channel), DEFAULT_RHYTHM)
            try:
                due = due_at(minute, rhythm, r.channel, False)
            except ValueError:
                # a rhythm with no allowed minute in a week must not block the batch: the default applies
                log.warning("notification.rhythm_without_slot", key=r.key)
                due = due_at(minute, DEFAULT_RHYTHM, r.channel, False)
            if due <= minute:
                now_list.append(r)
            else:
                later.append((r, due.astimezone(UTC)))
        outcome = self._send_now(now_list, threads, sent_at=now)[0] if now_list else NotificationOutcome(0, 0, 0)
        if later:
            self._store(later, statuses)
        groups = group_by_instant((r.key, d) for r, d in later)
        instants = set(groups) | set(waiting.values())
        if instants:
            # one timer per distinct instant; also for messages stored by an earlier attempt of this activity
            self.scheduler.ensure(instants)
        if later:
            log.info("notifications.deferred", count=len(later), instants=len(groups))
        already = sum(1 for r in requests if statuses.get(r.key) == "sent")
        return NotificationOutcome(
            outcome.sent, outcome.already_sent + already, outcome.failed, scheduled=len(later) + len(waiting)
        )

    def _store(self, later: Sequence[tuple[NotificationRequest, datetime]], statuses: dict[str, str]) -> None:
        keys = [r.key for r, _ in later]
        with self.sessions() as s:
            # a key whose earlier delivery failed is stored again, not duplicated
            s.execute(update(Notification).where(col(Notification.key).in_(keys)).values(status="scheduled"))
            s.execute(delete(ScheduledNotification).where(col(ScheduledNotification.key).in_(keys)))
            insert_log_rows(s, rows_of(r for r, _ in later if r.key not in statuses), "scheduled")
            s.add_all(
                ScheduledNotification(
                    key=r.key,
                    due_at=due,
                    channel=r.channel,
                    template=r.template,
                    recipient_kind=r.recipient_kind,
                    recipient_id=r.recipient_id,
                    subject_ref=r.subject_ref,
                    urgent=r.urgent,
                    context_json=json.dumps(r.context, ensure_ascii=False, sort_keys=True),
                )
                for r, due in later
            )
            s.commit()

    def deliver_due(self, until: datetime, sent_at: datetime, limit: int) -> DeliverDueResult:
        """Send up to `limit` stored messages due by `until`; each is marked sent or failed, never sent twice."""
        until = _utc(until)
        due = (
            col(ScheduledNotification.status) == "waiting",
            col(ScheduledNotification.due_at) <= until,
        )
        with self.sessions() as s:
            rows = s.exec(
                select(ScheduledNotification)
                .where(*due)
                .order_by(col(ScheduledNotification.due_at), col(ScheduledNotification.id))
                .limit(limit)
            ).all()
            requests = [
                NotificationRequest(
                    r.key,
                    r.channel,
                    r.template,
                    r.recipient_kind,
                    r.recipient_id,
                    r.subject_ref,
                    json.loads(r.context_json),
                    r.urgent,
                )
                for r in rows
            ]
            wanted = still_wanted(s, requests)
            dropped = [r.key for r in requests if r not in wanted]
            if dropped:
                s.execute(
                    update(ScheduledNotification)
                    .where(col(ScheduledNotification.key).in_(dropped))
                    .values(status="cancelled")
                )
                s.execute(update(Notification).where(col(Notification.key).in_(dropped)).values(status="cancelled"))
                s.commit()
                log.info("notifications.no_longer_wanted", count=len(dropped))
            requests = wanted
        outcome, failed = (
            self._send_now(requests, sent_at=_utc(sent_at)) if requests else (NotificationOutcome(0, 0, 0), [])
        )
        with self.sessions() as s:
            keys = [r.key for r in requests]
            done = [k for k in keys if k not in failed]
            if done:
                s.execute(
                    update(ScheduledNotification)
                    .where(col(ScheduledNotification.key).in_(done))
                    .values(status="sent", sent_at=_utc(sent_at))
                )
            if failed:
                s.execute(
                    update(ScheduledNotification)
                    .where(col(ScheduledNotification.key).in_(failed))
                    .values(status="failed")
                )
            s.commit()
            remaining = s.exec(select(func.count()).select_from(ScheduledNotification).where(*due)).one()
        return DeliverDueResult(outcome.sent, outcome.failed, int(remaining))

    def _send_now(
        self, requests: Sequence[NotificationRequest], threads: int = 8, sent_at: datetime | None = None
    ) -> tuple[NotificationOutcome, list[str]]:
        """Send at once (no rhythm); returns the outcome and the keys that failed."""
        todo, contacts = self._reserve(requests)
        results: list[tuple[str, str | None]] = []
        if todo:
            single, bulk, unrenderable = self._split_bulk(todo, contacts)
            with SentMarker(self.sessions.engine, sent_at) as marker, ThreadPoolExecutor(threads) as pool:

                def send(r: NotificationRequest) -> tuple[str, str | None]:
                    return r.key, marker.after(r.key, self._deliver(r, contacts.get(r.key)))

                def send_chunk(chunk: Sequence[Rendered]) -> list[tuple[str, str | None]]:
                    out = self.bulk.send(chunk)
                    marker.after_many(out)  # as soon as SES took this request, before the next one goes
                    return out

                singles, chunked = pool.map(send, single), pool.map(send_chunk, chunks(bulk))
                results = [*unrenderable, *singles, *(kv for out in chunked for kv in out)]
        sent = [(k, pid) for k, pid in results if accepted(pid)]
        failed = [k for k, pid in results if not accepted(pid)]
        retryable = sum(1 for _, pid in results if pid == PROVIDER_UNAVAILABLE)
        channel_of = {r.key: r.channel for r in todo}
        for key, _ in sent:
            NOTIFICATIONS_SENT.labels(channel=channel_of[key]).inc()
        for key in failed:
            NOTIFICATIONS_FAILED.labels(channel=channel_of[key]).inc()
        if failed:
            with self.sessions() as s:
                s.execute(update(Notification).where(col(Notification.key).in_(failed)).values(status="failed"))
                lost = set(failed)
                self._keep_for_resend(s, [r for r in todo if r.key in lost], sent_at or activity_now())
                s.commit()
        return NotificationOutcome(len(sent), len(requests) - len(todo), len(failed), retryable=retryable), failed

    @staticmethod
    def _keep_for_resend(s: Session, failed: Sequence[NotificationRequest], at: datetime) -> None:
        """Keep a failed message's request (references only) so that an operator can resend it later."""
        keys = [r.key for r in failed]
        kept = set(s.exec(select(ScheduledNotification.key).where(col(ScheduledNotification.key).in_(keys))).all())
        s.add_all(
            ScheduledNotification(
                key=r.key,
                due_at=_utc(at),
                channel=r.channel,
                template=r.template,
                recipient_kind=r.recipient_kind,
                recipient_id=r.recipient_id,
                subject_ref=r.subject_ref,
                urgent=r.urgent,
                context_json=json.dumps(r.context, ensure_ascii=False, sort_keys=True),
                status="failed",
            )
            for r in failed
            if r.key not in kept
        )

    def _reserve(
        self, requests: Sequence[NotificationRequest]
    ) -> tuple[list[NotificationRequest], dict[str, Contact | None]]:
        keys = [r.key for r in requests]
        with self.sessions() as s:
            known = dict(
                s.exec(select(Notification.key, Notification.status).where(col(Notification.key).in_(keys))).all()
            )
            todo = [r for r in requests if known.get(r.key) != "sent"]
            # A key left "sending" by a crashed attempt is retried: the window where SES accepted but the
            # row was not yet marked is one UPDATE long (each message is marked as soon as it is sent).
            insert_log_rows(s, rows_of(r for r in todo if r.key not in known), "sending")
            contacts = resolve_contacts(s, todo)
            s.commit()
        return todo, contacts

    def _split_bulk(
        self, todo: Sequence[NotificationRequest], contacts: dict[str, Contact | None]
    ) -> tuple[list[NotificationRequest], list[Rendered], list[tuple[str, str | None]]]:
        """(sent one by one, e-mails rendered for bulk requests, keys whose message could not be rendered)."""
        emails = [r for r in todo if r.channel == "email" and (c := contacts.get(r.key)) is not None and c.email]
        if len(emails) < BULK_MIN:
            return list(todo), [], []
        bulk: list[Rendered] = []
        unrenderable: list[tuple[str, str | None]] = []
        for r in emails:
            contact = contacts[r.key]
            assert contact is not None and contact.email is not None
            try:
                subject, body = self._compose(r, contact)
            except Exception as err:
                log.warning("notification.failed", key=r.key, channel=r.channel, error=type(err).__name__)
                unrenderable.append((r.key, PROVIDER_UNAVAILABLE))
                continue
            bulk.append(Rendered(r.key, contact.email, subject, body))
        in_bulk = {r.key for r in emails}
        return [r for r in todo if r.key not in in_bulk], bulk, unrenderable

    def _compose(self, r: NotificationRequest, contact: Contact) -> tuple[str, str]:
        return render(r.template, r.channel, {"base_url": self.base_url, "name": contact.display_name, **r.context})

    def _deliver(self, r: NotificationRequest, contact: Contact | None) -> str | None:
        """The provider's message id; None when the person cannot be reached on the channel (final)."""
        try:
            if contact is None:
                log.warning("notification.no_contact", key=r.key)
                return None
            subject, body = self._compose(r, contact)
            if r.channel == "email" and contact.email:
                resp = self.ses.send_email(
                    Source=self.sender,
                    Destination={"ToAddresses": [contact.email]},
                    Message={
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
                    },
                )
                return str(resp["MessageId"])
            if r.channel == "sms" and contact.phone:
                resp = self.sns.publish(PhoneNumber=contact.phone, Message=body)
                return str(resp["MessageId"])
            log.warning("notification.channel_unavailable", key=r.key, channel=r.channel)
            return None
        except Exception as err:
            # logged without the address; the activity raises so that Temporal sends the same key again
            log.warning("notification.failed", key=r.key, channel=r.channel, error=type(err).__name__)
            return PROVIDER_UNAVAILABLE


def raise_if_retryable(outcome: NotificationOutcome) -> None:
    """Fail the activity when SES/SNS did not answer, so that Temporal retries it (sent keys are not sent again)."""
    if outcome.retryable:
        raise ApplicationError(
            f"{outcome.retryable} messages not delivered (provider unavailable); retrying", type="DeliveryUnavailable"
        )
