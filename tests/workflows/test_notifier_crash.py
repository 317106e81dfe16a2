"""A worker dying in the middle of a batch of e-mails: the retry sends only what was not sent (real moto SES).

SES takes no idempotency key, so the notifier marks each message "sent" as soon as SES accepted it. Before,
the whole batch was marked after its last message: a crash in between left every message already sent as
"sending", and the activity's retry sent them all again (found by `tests/chaos`: 200 SES messages for 199
e-mails).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlmodel import col, select

from contracts.audit_names import RecipientKind
from services.bulk_email import BULK_CHUNK, BULK_MIN
from services.notifications import NotificationRequest, Notifier
from tests.ses_mailbox import ses_messages
from ville.aws import aws_client
from ville.db import SessionFactory
from ville.models.audit import AuditBody, AuditInspector
from ville.models.billing import Notification
from ville.settings import Settings

MESSAGES = 6
CRASH_AT = 3  # the third SES call never returns: the process "dies" there


class WorkerKilled(BaseException):
    """Stands for SIGKILL in the middle of `send_email` (not an Exception: nothing may catch it)."""


class DyingSes:
    """The real moto SES client, except that call number `crash_at` kills the "process"."""

    def __init__(self, ses: Any, crash_at: int | None) -> None:
        self.ses, self.crash_at, self.calls = ses, crash_at, 0

    def send_email(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.crash_at is not None and self.calls >= self.crash_at:
            raise WorkerKilled  # and nothing after it either: the process is gone
        return self.ses.send_email(**kwargs)

    def send_bulk_templated_email(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.crash_at is not None and self.calls >= self.crash_at:
            raise WorkerKilled
        return self.ses.send_bulk_templated_email(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ses, name)


def _inspector(sessions: SessionFactory, tag: str) -> int:
    with sessions() as s:
        body = AuditBody(name=f"Organisme {tag}", accreditation="COFRAC (test)", contact_email=f"org-{tag}@test.fr")
        s.add(body)
        s.flush()
        assert body.id is not None
        inspector = AuditInspector(ref=f"K{tag}", body_id=body.id, display_name="Inspecteur", email=f"k-{tag}@test.fr",
                                   capacity=5, arrondissements=[12], conflict_site_refs=[])  # fmt: skip
        s.add(inspector)
        s.commit()
        assert inspector.id is not None
        return inspector.id


CONTEXT = {"task_id": "1", "site_name": "Mairie", "site_type": "Mairie", "arrondissement": "12", "mode": "Visite",
           "window_start": "01/01/2032", "window_end": "20/01/2032", "due_on": "15/01/2032"}  # fmt: skip


def _requests(tag: str, inspector_id: int, count: int) -> list[NotificationRequest]:
    return [
        NotificationRequest(
            f"crash-{tag}-{i}", "email", "audit_task_reminder", RecipientKind.INSPECTOR, inspector_id, tag, CONTEXT
        )
        for i in range(count)
    ]


def test_a_crash_mid_batch_sends_no_message_twice(settings: Settings, sessions: SessionFactory) -> None:
    tag = uuid.uuid4().hex[:6]
    inspector_id = _inspector(sessions, tag)
    assert MESSAGES < BULK_MIN  # this batch goes message by message
    requests = _requests(tag, inspector_id, MESSAGES)
    ses, sns = aws_client(settings, "ses"), aws_client(settings, "sns")

    dying = DyingSes(ses, CRASH_AT)
    with pytest.raises(WorkerKilled):
        Notifier(sessions, dying, sns, settings).send_many(requests, threads=1)
    sent_before_crash = CRASH_AT - 1

    retry = DyingSes(ses, None)  # the activity's retry, in a new process
    outcome = Notifier(sessions, retry, sns, settings).send_many(requests, threads=1)

    assert retry.calls == MESSAGES - sent_before_crash  # only the message in flight and those after it
    assert (outcome.sent, outcome.already_sent) == (MESSAGES - sent_before_crash, sent_before_crash)
    with sessions() as s:
        statuses = s.exec(select(Notification.status).where(col(Notification.key).startswith(f"crash-{tag}-"))).all()
    assert sorted(statuses) == ["sent"] * MESSAGES


def test_a_crash_between_bulk_requests_sends_no_message_twice(settings: Settings, sessions: SessionFactory) -> None:
    """Bulk sending (50 e-mails per SES request): the requests SES took before the crash are not sent again."""
    tag = uuid.uuid4().hex[:6]
    inspector_id = _inspector(sessions, tag)
    messages = 2 * BULK_CHUNK + 20  # three requests: 50, 50, 20
    requests = _requests(tag, inspector_id, messages)
    ses, sns = aws_client(settings, "ses"), aws_client(settings, "sns")

    dying = DyingSes(ses, 2)  # the second bulk request never returns
    with pytest.raises(WorkerKilled):
        Notifier(sessions, dying, sns, settings).send_many(requests, threads=1)

    retry = DyingSes(ses, None)
    outcome = Notifier(sessions, retry, sns, settings).send_many(requests, threads=1)

    assert retry.calls == 2  # the request in flight (50) and the last one (20), in bulk again
    assert (outcome.sent, outcome.already_sent) == (messages - BULK_CHUNK, BULK_CHUNK)
    with sessions() as s:
        rows = s.exec(select(Notification).where(col(Notification.key).startswith(f"crash-{tag}-"))).all()
    assert sorted(n.status for n in rows) == ["sent"] * messages
    assert len({n.provider_id for n in rows}) == messages  # SES's own id for each recipient
    mailbox = [
        m for m in ses_messages(settings.aws_endpoint_url) if f"k-{tag}@test.fr" in m["destinations"]["ToAddresses"]
    ]
    assert len(mailbox) == messages  # each e-mail reached SES exactly once
    assert all("Mairie" in m["body"] and m["subject"] for m in mailbox)
