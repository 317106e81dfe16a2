# SQLModel columns are typed as their Python values, so SQL expressions do not type-check (as in activities/).
# mypy: disable-error-code="arg-type,call-overload,var-annotated"
"""Crash test: the worker is SIGKILLed twice mid-issue and Temporal restarts once; nothing is lost or doubled.

Real processes: a Temporal dev server on a SQLite file, the worker as a subprocess (`python worker.py`),
localstripe and moto. 300 demo families are billed in batches of 20; after the faults the cycle must reach
`awaiting_due_date` with exactly one invoice per family, gapless numbers, a balanced ledger and one e-mail
per invoice. Then a card payment is interrupted by a kill: one PaymentIntent charged, one Payment recorded.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import stripe
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from activities.payment_store import PaymentStore
from activities.payments import PaymentActivities
from activities.stripe_client import metadata_value
from domain.numbering import check_gapless
from domain.periods import period_from_key
from tests.workflows.conftest import GOOD_CARD, eventually
from ville import devstack
from ville.bootstrap import migrate
from ville.db import SessionFactory, make_engine
from ville.demo import PARIS, seed_demo
from ville.ids import billing_cycle_id
from ville.models.billing import (
    Attendance,
    DeliveryChannel,
    FamilyAccount,
    Invoice,
    LedgerPosting,
    Notification,
    Payment,
    PaymentStatus,
)
from ville.settings import Settings
from ville.temporal import connect
from workflows.billing import BillingCycleWorkflow
from workflows.billing_types import BillingCycleInput, CardPaymentRequest, CyclePhase
from workflows.clients import pay_invoice_by_card

ROOT = Path(__file__).resolve().parents[2]
FAMILIES, BATCH = 300, 20
log = logging.getLogger(__name__)


class Stack:
    """The chaos test's own Temporal server and worker processes, and the record of injected faults."""

    def __init__(self, settings: Settings, tmp: Path) -> None:
        self.settings, self.tmp = settings, tmp
        self.port = devstack.free_port()
        self.temporal = devstack.temporal_dev_server(tmp / "temporal.db", self.port, None)
        self.temporal.log_file = tmp / "temporal.log"
        self.worker = self._worker()
        self.faults: list[tuple[str, str]] = []
        self.started = time.monotonic()

    def _worker(self) -> devstack.Service:
        s = self.settings
        env = {
            "ENV": "test",
            "LOG_FORMAT": "json",
            "DATABASE_URL": s.database_url,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.port}",
            "TASK_QUEUE": s.task_queue,
            "STRIPE_API_BASE": s.stripe_api_base or "",
            "AWS_ENDPOINT_URL": s.aws_endpoint_url or "",
            "S3_BUCKET": s.s3_bucket,
            "METRICS_PORT": str(devstack.free_port()),
        }
        worker = devstack.Service("worker", [sys.executable, str(ROOT / "worker.py")], env=env)
        worker.log_file = self.tmp / "worker.log"
        return worker

    def kill_worker(self, when: str) -> None:
        self.worker.kill()
        self.faults.append(("SIGKILL worker process group", f"{when} (t={self.elapsed():.0f}s)"))
        self.worker = self._worker().start()

    def restart_temporal(self, when: str) -> None:
        self.temporal.kill()
        self.temporal.start()
        self.faults.append(
            ("SIGKILL + restart Temporal dev server (same SQLite file)", f"{when} (t={self.elapsed():.0f}s)")
        )

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _count(engine: Engine, period_key: str) -> int:
    with engine.connect() as c:
        return int(c.execute(select(func.count()).where(Invoice.period_key == period_key)).scalar_one())


def _ses_count(settings: Settings) -> int:
    data = httpx.get(f"{settings.aws_endpoint_url}/moto-api/data.json", timeout=10).json()
    return len(data.get("ses", {}).get("Message", []))


async def test_billing_survives_worker_and_server_crashes(
    settings: Settings, stripe_client: stripe.StripeClient, tmp_path: Path
) -> None:
    """Two worker SIGKILLs mid-issue, one Temporal restart, one kill during a card payment: invariants hold."""
    url = f"sqlite:///{tmp_path / 'chaos.db'}"
    migrate(url)
    s = settings.model_copy(update={"database_url": url, "task_queue": f"chaos-{uuid.uuid4().hex[:8]}"})
    today = datetime.now(PARIS).date()
    assert seed_demo(s, families=FAMILIES, today=today)
    engine = make_engine(url)
    sessions = SessionFactory(engine)
    with engine.connect() as c:
        period_key = c.execute(select(func.min(Attendance.day))).scalar_one()
    period = next(
        p for p in (period_from_key(f"{today.year - y}-{m:02d}") for y in (0, 1) for m in range(1, 12, 2))
        if p.start <= period_key <= p.end
    )  # fmt: skip
    stack = Stack(s, tmp_path)
    stack.temporal.start()
    stack.worker.start()
    ses_before = _ses_count(s)
    try:
        client = await connect(s.model_copy(update={"temporal_address": f"127.0.0.1:{stack.port}"}))
        handle = await client.start_workflow(
            BillingCycleWorkflow.run,
            BillingCycleInput(period.key, batch_size=BATCH, parallelism=2, issue_date=today.isoformat()),
            id=billing_cycle_id(period.key),
            task_queue=s.task_queue,
        )
        await eventually(lambda: _count(engine, period.key) >= BATCH, timeout=60)
        first = _count(engine, period.key)
        stack.kill_worker(f"issuing, {first} invoices in the database")
        await eventually(lambda: _count(engine, period.key) >= first + BATCH, timeout=60)
        second = _count(engine, period.key)
        stack.kill_worker(f"issuing, {second} invoices in the database")
        stack.restart_temporal(f"after the second worker restart, {_count(engine, period.key)} invoices")

        async def phase() -> bool:
            return (await handle.query(BillingCycleWorkflow.progress)).phase is CyclePhase.AWAITING_DUE_DATE

        await eventually(phase, timeout=90)
        invariants = _check_cycle(engine, sessions, s, period.key, ses_before)
        invariants.append(f"cycle reached awaiting_due_date at t={stack.elapsed():.0f}s")

        # a card payment in flight when the worker dies
        invoice = next(i for i in _invoices(sessions, period.key) if i.amount_due_cents > 0)
        payments = PaymentActivities(stripe_client, PaymentStore(sessions))
        pm = stripe_client.v1.payment_methods.create(
            params={"type": "card", "card": {"number": GOOD_CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
        )
        stripe_client.v1.payment_methods.attach(
            pm.id, params={"customer": payments.ensure_customer(invoice.account_id)}
        )
        request = CardPaymentRequest(str(pm.id), invoice.amount_due_cents)
        attempt = asyncio.create_task(pay_invoice_by_card(client, s.task_queue, invoice.number, request))
        await eventually(lambda: bool(_payments_of(sessions, invoice.number)), timeout=30)
        stack.kill_worker(f"card payment of {invoice.number} in flight")
        result = await asyncio.wait_for(attempt, timeout=90)
        assert result.status == "succeeded", result
        invariants += _check_payment(sessions, stripe_client, invoice.number)
        invariants.append(f"payment outcome known at t={stack.elapsed():.0f}s")
    finally:
        stack.worker.stop()
        stack.temporal.stop()
        engine.dispose()

    _print_table(stack.faults, invariants)


def _invoices(sessions: SessionFactory, period_key: str) -> list[Invoice]:
    with sessions() as db:
        return list(db.execute(select(Invoice).where(Invoice.period_key == period_key)).scalars())


def _payments_of(sessions: SessionFactory, number: str) -> list[Payment]:
    with sessions() as db:
        invoice_id = db.execute(select(Invoice.id).where(Invoice.number == number)).scalar_one()
        return list(db.execute(select(Payment).where(Payment.invoice_id == invoice_id)).scalars())


def _check_cycle(engine: Engine, sessions: SessionFactory, s: Settings, period_key: str, ses_before: int) -> list[str]:
    checked: list[str] = []
    invoices = _invoices(sessions, period_key)
    with engine.connect() as c:
        attending = set(c.execute(select(Attendance.account_id).distinct()).scalars())
        per_account = dict(
            c.execute(
                select(Invoice.account_id, func.count())
                .where(Invoice.period_key == period_key)
                .group_by(Invoice.account_id)
            ).all()
        )
        email_accounts = set(
            c.execute(select(FamilyAccount.id).where(FamilyAccount.delivery_channel == DeliveryChannel.email)).scalars()
        )
        debit, credit = c.execute(
            select(func.sum(LedgerPosting.debit_cents), func.sum(LedgerPosting.credit_cents))
        ).one()
        unbalanced = c.execute(
            select(LedgerPosting.entry_id)
            .group_by(LedgerPosting.entry_id)
            .having(func.sum(LedgerPosting.debit_cents) != func.sum(LedgerPosting.credit_cents))
        ).all()
        dup_keys = c.execute(select(Notification.key).group_by(Notification.key).having(func.count() > 1)).all()
        issued_mail = set(
            c.execute(
                select(Notification.subject_ref).where(
                    Notification.template == "invoice_issued",
                    Notification.channel == "email",
                    Notification.status == "sent",
                )
            ).scalars()
        )
        sent_emails = int(
            c.execute(
                select(func.count()).where(Notification.channel == "email", Notification.status == "sent")
            ).scalar_one()
        )
    assert len(attending) >= FAMILIES * 0.5 and set(per_account) == attending
    assert set(per_account.values()) == {1}
    checked.append(f"one invoice per family with attendance ({len(attending)} families, {len(invoices)} invoices)")
    assert check_gapless([i.number for i in invoices]) == []
    checked.append("invoice numbers gapless (check_gapless)")
    assert debit == credit and not unbalanced
    checked.append(f"ledger balanced: debits {debit} == credits {credit}, every entry balanced")
    assert not dup_keys
    checked.append("notification keys unique")
    email_invoices = {i.number for i in invoices if i.account_id in email_accounts}
    assert issued_mail == email_invoices
    checked.append(f"one 'invoice issued' e-mail per e-mail-channel invoice ({len(email_invoices)})")
    assert _ses_count(s) - ses_before == sent_emails
    checked.append(f"moto SES messages == e-mail notifications sent ({sent_emails})")
    return checked


def _check_payment(sessions: SessionFactory, stripe_client: stripe.StripeClient, number: str) -> list[str]:
    intents = [
        pi
        for pi in stripe_client.v1.payment_intents.list(params={"limit": 100}).data
        if metadata_value(pi, "invoice_number") == number
    ]
    succeeded = [pi for pi in intents if pi.status == "succeeded"]
    assert len(succeeded) == 1, [(pi.id, pi.status) for pi in intents]
    rows = _payments_of(sessions, number)
    assert len(rows) == 1 and rows[0].status is PaymentStatus.succeeded
    assert rows[0].stripe_payment_intent_id == succeeded[0].id
    return [f"payment interrupted by a kill: 1 succeeded PaymentIntent, 1 Payment row ({number})"]


def _print_table(faults: list[tuple[str, str]], invariants: list[str]) -> None:
    width = max(len(f) for f, _ in faults)
    lines = ["", "injected faults:", *(f"  {f:<{width}}  during: {w}" for f, w in faults), "invariants checked:"]
    lines += [f"  OK  {i}" for i in invariants]
    sys.stdout.write("\n".join(lines) + "\n")  # the chaos report (`make chaos` runs with -s)
