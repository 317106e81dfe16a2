"""Rhythm-aware delivery on the time-skipping server: messages wait durably for their recipient's allowed hours."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import activities.billing  # noqa: F401  (registers which deferred invoice reminders are still wanted)
from activities.notifications import NotificationActivities
from contracts.delivery import NotificationDeliveryResult
from domain.calendar import holiday_name
from domain.dunning import InvoiceStatus
from domain.rhythm import PARIS
from services.delivery import TemporalDeliveryScheduler, load_rhythms, waiting_notifications
from services.notification_registry import Contact, register_resolver
from services.notifications import NotificationOutcome, NotificationRequest, Notifier
from tests.ses_mailbox import ses_messages
from tests.workflows.rhythm_remind import RemindWorkflow
from ville.aws import aws_client
from ville.db import SessionFactory
from ville.ids import notification_delivery_id
from ville.models.billing import FamilyAccount, Invoice, Notification
from ville.models.rhythm import ContactRhythm, ScheduledNotification
from ville.settings import Settings
from ville.temporal import data_converter
from workflows.delivery import NotificationDeliveryWorkflow

BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
KIND = "rhythm_test_person"
PHONE = "+33699990000"


@register_resolver(KIND)
def _contact(s: Any, person_id: int) -> Contact:
    return Contact(f"rythme-{person_id}@familles.example", PHONE, f"Personne {person_id}")


@dataclass
class Stack:
    """The time-skipping server, its worker's task queue and the database the notifier writes."""

    env: WorkflowEnvironment
    task_queue: str
    sessions: SessionFactory
    settings: Settings

    async def now(self) -> datetime:
        return (await self.env.get_current_time()).astimezone(UTC)

    async def advance_to(self, at: datetime) -> None:
        delta = at - await self.now()
        assert delta > timedelta(0), f"the test clock is already past {at}"
        await self.env.sleep(delta)

    async def remind(self, *requests: NotificationRequest) -> NotificationOutcome:
        # no automatic skipping here: the clock must not run to a pending delivery timer while the sender runs
        with self.env.auto_time_skipping_disabled():
            return await self.env.client.execute_workflow(
                RemindWorkflow.run,
                list(requests),
                id=f"remind-{uuid.uuid4().hex[:8]}",
                task_queue=self.task_queue,
            )

    async def delivery_at(self, at: datetime) -> NotificationDeliveryResult:
        """Move the server's clock to `at` (its timer fires then), and wait for the delivery workflow of `at`."""
        handle = self.env.client.get_workflow_handle_for(NotificationDeliveryWorkflow.run, notification_delivery_id(at))
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await self.advance_to(at)
        return await handle.result()

    def notification(self, key: str) -> Notification:
        with self.sessions() as s:
            return s.exec(select(Notification).where(Notification.key == key)).one()

    def sent_at(self, key: str) -> datetime:
        n = self.notification(key)
        assert n.status == "sent", f"{key} is {n.status}"
        return n.sent_at.replace(tzinfo=UTC) if n.sent_at.tzinfo is None else n.sent_at

    def emails_to(self, person_id: int) -> int:
        address = f"rythme-{person_id}@familles.example"
        return sum(address in json.dumps(m) for m in ses_messages(self.settings.aws_endpoint_url))


@pytest.fixture(scope="module")
async def stack(settings: Settings, sessions: SessionFactory) -> AsyncIterator[Stack]:
    """Its own time-skipping server (this module moves the clock by days), a worker with the real notifier."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=data_converter(settings)
    )
    task_queue = f"rhythm-{uuid.uuid4().hex[:8]}"
    async with _worker(env, task_queue, settings, sessions):
        yield Stack(env, task_queue, sessions, settings)
    await env.shutdown()


@asynccontextmanager
async def _worker(
    env: WorkflowEnvironment, task_queue: str, settings: Settings, sessions: SessionFactory
) -> AsyncIterator[None]:
    notifier = Notifier(
        sessions,
        aws_client(settings, "ses"),
        aws_client(settings, "sns"),
        settings,
        TemporalDeliveryScheduler(env.client, task_queue),
        load_rhythms,
    )
    activities = NotificationActivities(notifier)
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[RemindWorkflow, NotificationDeliveryWorkflow],
            activities=[activities.send_notifications, activities.deliver_due_notifications],
            activity_executor=executor,
        ):
            yield


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).astimezone(UTC)


def reminder(person_id: int, channel: str = "email", template: str = "invoice_reminder") -> NotificationRequest:
    ctx = {"number": f"FF-2026-{person_id:06d}", "amount": "12,30 €", "url": "https://example.invalid/f"}
    key = f"rhythm-test:{uuid.uuid4().hex[:10]}:{channel}"
    return NotificationRequest(key, channel, template, KIND, person_id, ctx["number"], ctx)


def _new_person() -> int:
    return uuid.uuid4().int % 1_000_000_000


def _next_day(after: date, ok: Any) -> date:
    d = after + timedelta(days=1)
    while not ok(d):
        d += timedelta(days=1)
    return d


@pytest.fixture
def session(sessions: SessionFactory) -> Iterator[Session]:
    with sessions() as s:
        yield s


async def test_a_reminder_due_at_22_30_is_sent_at_8_the_next_morning_an_urgent_one_at_once(stack: Stack) -> None:
    today = (await stack.now()).astimezone(PARIS).date()
    evening = paris(today + timedelta(days=1), 22, 30)
    await stack.advance_to(evening)
    person = _new_person()

    late = reminder(person)
    outcome = await stack.remind(late)
    assert outcome == NotificationOutcome(sent=0, already_sent=0, failed=0, scheduled=1)
    assert stack.notification(late.key).status == "scheduled"
    assert stack.emails_to(person) == 0

    # at 23:00 a payment receipt (the family is waiting for it) and a flagged message go at once
    await stack.advance_to(paris(today + timedelta(days=1), 23, 0))
    receipt, flagged = reminder(person, template="payment_receipt"), reminder(person)
    flagged = NotificationRequest(**{**flagged.__dict__, "urgent": True})
    assert await stack.remind(receipt, flagged) == NotificationOutcome(2, 0, 0)
    for key in (receipt.key, flagged.key):
        assert stack.sent_at(key) - paris(today + timedelta(days=1), 23, 0) < timedelta(minutes=1)
    assert stack.emails_to(person) == 2

    morning = paris(today + timedelta(days=2), 8, 0)
    done = await stack.delivery_at(morning)
    assert done.sent >= 1
    sent = stack.sent_at(late.key)
    assert morning <= sent < morning + timedelta(minutes=1)
    assert sent.astimezone(PARIS).time().replace(second=0, microsecond=0) == time(8, 0)
    assert stack.emails_to(person) == 3
    # sending the same key again sends nothing more
    assert await stack.remind(late) == NotificationOutcome(0, 1, 0)


async def test_a_reminder_held_overnight_is_dropped_if_the_invoice_is_paid_before_8(
    stack: Stack, session: Session
) -> None:
    now = await stack.now()
    day = _next_day(now.astimezone(PARIS).date(), lambda d: d.weekday() < 4 and paris(d, 22) > now)
    account = FamilyAccount(ref=f"FA-R{uuid.uuid4().hex[:8]}", arrondissement=11)
    session.add(account)
    session.flush()
    assert account.id is not None
    invoices = []
    for n in range(2):
        invoice = Invoice(
            number=f"FR-{uuid.uuid4().hex[:12]}",
            account_id=account.id,
            period_key=f"1999-{2 * n + 1:02d}",
            period_start=day,
            period_end=day,
            issue_date=day,
            due_date=day,
            tranche=3,
            lines_total_cents=4_000,
            amount_due_cents=4_000,
            status=InvoiceStatus.OVERDUE,
        )
        session.add(invoice)
        invoices.append(invoice)
    session.commit()
    await stack.advance_to(paris(day, 22, 0))
    person = _new_person()
    paid, unpaid = (NotificationRequest(**{**reminder(person).__dict__, "subject_ref": i.number}) for i in invoices)
    assert (await stack.remind(paid, unpaid)).scheduled == 2

    # the family pays the first invoice during the night
    invoices[0].paid_cents, invoices[0].status = 4_000, InvoiceStatus.PAID
    session.add(invoices[0])
    session.commit()

    morning = paris(day + timedelta(days=1), 8, 0)
    done = await stack.delivery_at(morning)
    assert done.sent == 1
    assert stack.notification(paid.key).status == "cancelled"
    assert morning <= stack.sent_at(unpaid.key) < morning + timedelta(minutes=1)
    assert stack.emails_to(person) == 1


async def test_an_sms_due_on_sunday_goes_on_monday_at_8(stack: Stack) -> None:
    now = await stack.now()
    sunday = _next_day(
        now.astimezone(PARIS).date(),
        lambda d: d.weekday() == 6 and holiday_name(d + timedelta(days=1)) is None and paris(d, 10) > now,
    )
    await stack.advance_to(paris(sunday, 10, 0))
    person = _new_person()
    sms, email = reminder(person, "sms"), reminder(person, "email")
    outcome = await stack.remind(sms, email)
    assert (outcome.sent, outcome.scheduled) == (1, 1)  # an e-mail on Sunday morning is fine
    assert stack.notification(sms.key).status == "scheduled"

    monday_8 = paris(sunday + timedelta(days=1), 8, 0)
    await stack.delivery_at(monday_8)
    sent = stack.sent_at(sms.key)
    assert monday_8 <= sent < monday_8 + timedelta(minutes=1)
    assert stack.notification(sms.key).provider_id is not None  # SNS accepted it


async def test_a_persons_own_window_is_respected(stack: Stack, session: Session) -> None:
    now = await stack.now()
    day = _next_day(now.astimezone(PARIS).date(), lambda d: d.weekday() < 5 and paris(d, 9) > now)
    lunch_only, anyone = _new_person(), _new_person()
    # a night-shift parent: quiet in the morning, reachable at lunch time only
    session.add(
        ContactRhythm(
            person_kind=KIND,
            person_id=lunch_only,
            channel="email",
            quiet_start=time(21, 0),
            quiet_end=time(11, 0),
            preferred_windows="12:15-13:30",
        )
    )
    session.commit()
    await stack.advance_to(paris(day, 9, 0))
    own, default = reminder(lunch_only), reminder(anyone)
    outcome = await stack.remind(own, default)
    assert (outcome.sent, outcome.scheduled) == (1, 1)
    assert stack.sent_at(default.key) - paris(day, 9, 0) < timedelta(minutes=1)

    # the operators' count says one message waits, and when it goes
    waiting = {w.due_at: w.count for w in waiting_notifications(session)}
    assert waiting.get(paris(day, 12, 15)) == 1

    await stack.delivery_at(paris(day, 12, 15))
    sent = stack.sent_at(own.key)
    assert paris(day, 12, 15) <= sent < paris(day, 12, 16)
    assert stack.emails_to(lunch_only) == 1
    row = session.exec(select(ScheduledNotification).where(col(ScheduledNotification.key) == own.key)).one()
    session.refresh(row)
    assert row.status == "sent"
    handle = stack.env.client.get_workflow_handle(notification_delivery_id(paris(day, 12, 15)))
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_a_night_batch_costs_one_timer_per_distinct_instant_not_per_family(
    stack: Stack, session: Session
) -> None:
    now = await stack.now()
    day = _next_day(now.astimezone(PARIS).date(), lambda d: d.weekday() < 4 and paris(d, 23) > now)
    families = [_new_person() for _ in range(120)]
    early = families[:3]
    for person in early:
        session.add(
            ContactRhythm(
                person_kind=KIND, person_id=person, channel="email", quiet_start=time(22, 0), quiet_end=time(6, 30)
            )
        )
    session.commit()
    await stack.advance_to(paris(day, 23, 0))
    outcome = await stack.remind(*(reminder(p) for p in families))
    assert (outcome.sent, outcome.scheduled) == (0, 120)

    at_6_30, at_8 = paris(day + timedelta(days=1), 6, 30), paris(day + timedelta(days=1), 8, 0)
    assert (await stack.delivery_at(at_6_30)).sent == 3
    assert (await stack.delivery_at(at_8)).sent == 117
    handle = stack.env.client.get_workflow_handle(notification_delivery_id(at_8))
    events = [e async for e in handle.fetch_history_events()]
    assert sum(e.HasField("timer_started_event_attributes") for e in events) == 1
    assert sum(e.HasField("activity_task_scheduled_event_attributes") for e in events) == 1
