"""Notifications by e-mail (SES), SMS (SNS) and post: each sent once per key, logged, in French."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import update
from sqlmodel import Session, col, select
from temporalio import activity

from ville.db import SessionFactory
from ville.metrics import NOTIFICATIONS_FAILED, NOTIFICATIONS_SENT
from ville.models.billing import Notification
from ville.settings import Settings

log = structlog.get_logger(__name__)
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # plain-text messages; HTML pages have their own autoescaping environment
    keep_trailing_newline=False,
)


@dataclass(frozen=True)
class Contact:
    """Where to reach a person; resolved inside the activity so it never enters workflow history."""

    email: str | None
    phone: str | None
    display_name: str


@dataclass(frozen=True)
class NotificationRequest:
    """A message to send once: recipients are references, context holds no personal data."""

    key: str
    channel: str  # email | sms
    template: str
    recipient_kind: str
    recipient_id: int
    subject_ref: str
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NotificationOutcome:
    """How many messages of a call were sent now, or had been sent before."""

    sent: int
    already_sent: int
    failed: int


# Each process registers how to find the contact behind a recipient kind (payer, inspector, partner...).
RecipientResolver = Callable[[Session, int], Contact | None]
RESOLVERS: dict[str, RecipientResolver] = {}


def register_resolver(kind: str) -> Callable[[RecipientResolver], RecipientResolver]:
    """Decorator registering the contact resolver of a recipient kind."""

    def wrap(fn: RecipientResolver) -> RecipientResolver:
        RESOLVERS[kind] = fn
        return fn

    return wrap


def render(template: str, channel: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of a template; the first line of an e-mail template is its subject."""
    text = TEMPLATES.get_template(f"{template}.{channel}.txt").render(**context).strip()
    if channel == "email":
        subject, _, body = text.partition("\n")
        return subject.removeprefix("Objet :").strip(), body.strip()
    return "", text


class Notifier:
    """Sends messages through SES/SNS; reserves each key first so that a retry never sends twice."""

    def __init__(self, sessions: SessionFactory, ses: Any, sns: Any, settings: Settings) -> None:
        self.sessions = sessions
        self.ses = ses
        self.sns = sns
        self.sender = settings.ses_sender
        self.base_url = settings.public_base_url

    def send_many(self, requests: Sequence[NotificationRequest], threads: int = 8) -> NotificationOutcome:
        """Send every request whose key was not sent before; safe to call again with the same keys."""
        if not requests:
            return NotificationOutcome(0, 0, 0)
        todo, contacts = self._reserve(requests)
        results: list[tuple[str, str | None]] = []
        if todo:
            with ThreadPoolExecutor(max_workers=min(threads, len(todo))) as pool:
                results = list(pool.map(lambda r: (r.key, self._deliver(r, contacts.get(r.key))), todo))
        sent = [(k, pid) for k, pid in results if pid is not None]
        failed = [k for k, pid in results if pid is None]
        channel_of = {r.key: r.channel for r in todo}
        for key, _ in sent:
            NOTIFICATIONS_SENT.labels(channel=channel_of[key]).inc()
        for key in failed:
            NOTIFICATIONS_FAILED.labels(channel=channel_of[key]).inc()
        with self.sessions() as s:
            for key, provider_id in sent:
                s.execute(
                    update(Notification)
                    .where(col(Notification.key) == key)
                    .values(status="sent", provider_id=provider_id)
                )
            if failed:
                s.execute(update(Notification).where(col(Notification.key).in_(failed)).values(status="failed"))
            s.commit()
        return NotificationOutcome(len(sent), len(requests) - len(todo), len(failed))

    def _reserve(
        self, requests: Sequence[NotificationRequest]
    ) -> tuple[list[NotificationRequest], dict[str, Contact | None]]:
        keys = [r.key for r in requests]
        with self.sessions() as s:
            done = set(
                s.exec(
                    select(Notification.key).where(col(Notification.key).in_(keys), Notification.status == "sent")
                ).all()
            )
            known = set(s.exec(select(Notification.key).where(col(Notification.key).in_(keys))).all())
            todo = [r for r in requests if r.key not in done]
            # A key left "sending" by a crashed attempt is retried: the window where SES accepted
            # but the row was not yet marked is a few milliseconds.
            s.add_all(
                Notification(
                    key=r.key, channel=r.channel, template=r.template, subject_ref=r.subject_ref, status="sending"
                )
                for r in todo
                if r.key not in known
            )
            contacts = {r.key: self._contact(s, r) for r in todo}
            s.commit()
        return todo, contacts

    @staticmethod
    def _contact(s: Session, r: NotificationRequest) -> Contact | None:
        resolver = RESOLVERS.get(r.recipient_kind)
        if resolver is None:
            raise ValueError(f"no contact resolver for {r.recipient_kind!r}")
        return resolver(s, r.recipient_id)

    def _deliver(self, r: NotificationRequest, contact: Contact | None) -> str | None:
        try:
            if contact is None:
                log.warning("notification.no_contact", key=r.key)
                return None
            ctx = {"base_url": self.base_url, "name": contact.display_name, **r.context}
            subject, body = render(r.template, r.channel, ctx)
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
            # logged without the address; the workflow may resend the same key later
            log.warning("notification.failed", key=r.key, channel=r.channel, error=type(err).__name__)
            return None


class NotificationActivities:
    """Notification activities shared by the three processes."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    @activity.defn
    def send_notifications(self, requests: list[NotificationRequest]) -> NotificationOutcome:
        """Send a batch of messages, each at most once per key."""
        outcome = self.notifier.send_many(requests)
        if outcome.failed:
            log.info("notifications.partial", sent=outcome.sent, failed=outcome.failed)
        return outcome
