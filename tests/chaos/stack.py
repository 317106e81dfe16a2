# SQLModel columns are typed as their Python values, so SQL expressions do not type-check (as in activities/).
# mypy: disable-error-code="arg-type,call-overload,var-annotated"
"""What the chaos tests share: their own Temporal server and worker processes, a seeded world, the report table.

Real processes: a Temporal dev server on a SQLite file and the worker as a subprocess (`python worker.py`);
localstripe and moto are the session's emulators, reached directly or through fault proxies (tests/chaos/faults.py).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import stripe
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from domain.numbering import check_gapless
from domain.periods import BillingPeriod, period_from_key
from services.stripe_client import metadata_value
from stack import devstack
from stack.bootstrap import migrate
from stack.demo import PARIS, seed_demo
from tests.ses_mailbox import ses_messages
from ville.db import SessionFactory, make_engine
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

ROOT = Path(__file__).resolve().parents[2]
# A notification is delivered, or deferred to the recipient's next allowed moment (rhythm-aware delivery):
# at night most messages are "scheduled", never "sending" or "failed" once the processes are done.
DELIVERED = frozenset({"sent", "scheduled"})


class Stack:
    """The chaos test's own Temporal server and worker processes, and the record of injected faults.

    `stripe_api_base` / `aws_endpoint_url` point the worker at fault proxies instead of the emulators.
    """

    def __init__(
        self, settings: Settings, tmp: Path, stripe_api_base: str | None = None, aws_endpoint_url: str | None = None
    ) -> None:
        self.settings, self.tmp = settings, tmp
        self.stripe_api_base = stripe_api_base or settings.stripe_api_base or ""
        self.aws_endpoint_url = aws_endpoint_url or settings.aws_endpoint_url or ""
        self.port = devstack.free_port()
        self.temporal = devstack.temporal_dev_server(tmp / "temporal.db", self.port, None)
        self.temporal.log_file = tmp / "temporal.log"
        self.worker = self._worker()
        self.faults: list[tuple[str, str]] = []
        # e-mails a kill caught between SES taking them and their row being marked "sent": SES takes no
        # idempotency key, so the retry may send these again (and only these)
        self.in_flight: set[str] = set()
        self.started = time.monotonic()

    @property
    def address(self) -> str:
        """The dev server's address (for a client of this stack)."""
        return f"127.0.0.1:{self.port}"

    def _worker(self) -> devstack.Service:
        s = self.settings
        env = {
            "ENV": "test",
            # the invariants count e-mails sent now: rhythm-aware delivery would hold them until 08:00 at night
            "RHYTHM_DELIVERY": "false",
            "LOG_FORMAT": "json",
            "DATABASE_URL": s.database_url,
            "TEMPORAL_ADDRESS": self.address,
            "TASK_QUEUE": s.task_queue,
            "STRIPE_API_BASE": self.stripe_api_base,
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "S3_BUCKET": s.s3_bucket,
            "METRICS_PORT": str(devstack.free_port_pair()),
        }
        worker = devstack.Service("worker", [sys.executable, str(ROOT / "worker.py")], env=env)
        worker.log_file = self.tmp / "worker.log"
        return worker

    def start(self) -> None:
        """Start the dev server, then the worker, and return once the worker polls its task queue.

        The tests' own deadlines (invoices within 60 s...) measure the system under faults, not a Python process
        importing and connecting on a loaded machine: they start counting once the worker is up.
        """
        self.temporal.start()
        started = self._starts()
        self.worker.start()
        self._wait_started(started)

    def _starts(self) -> int:
        """How many workers have logged their start (the log file is shared by the successive workers)."""
        log = self.worker.log_file
        assert log is not None
        return log.read_text(errors="replace").count('"worker.started"') if log.exists() else 0

    def _wait_started(self, before: int) -> None:
        deadline = time.monotonic() + 300
        while self._starts() <= before:
            running = self.worker.proc is not None and self.worker.proc.poll() is None
            assert running, f"the worker exited:\n{self._log_tail()}"
            assert time.monotonic() < deadline, f"the worker did not start within 300 s:\n{self._log_tail()}"
            time.sleep(0.2)  # polling the worker's log for its "started" line, not waiting for a guessed duration

    def _log_tail(self, lines: int = 40) -> str:
        """The end of the workers' log: why a worker exited, in the test's failure report (CI keeps no files)."""
        log = self.worker.log_file
        text = log.read_text(errors="replace") if log is not None and log.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the worker, then the dev server."""
        self.worker.stop()
        self.temporal.stop()

    def kill_worker(self, when: str) -> None:
        """SIGKILL the worker's process group and start a new worker."""
        self.worker.kill()
        self.in_flight |= _sending_emails(self.settings.database_url)
        self.faults.append(("SIGKILL worker process group", f"{when} ({self.t()})"))
        started = self._starts()
        self.worker = self._worker().start()
        self._wait_started(started)  # the tests' deadlines after a kill count from the new worker's start

    def restart_temporal(self, when: str) -> None:
        """SIGKILL the dev server and start it again on the same SQLite file."""
        self.temporal.kill()
        self.temporal.start()
        self.faults.append(("SIGKILL + restart Temporal dev server (same SQLite file)", f"{when} ({self.t()})"))

    def record(self, fault: str, when: str) -> None:
        """Add a fault injected by the test itself (an emulator outage) to the report."""
        self.faults.append((fault, f"{when} ({self.t()})"))

    def elapsed(self) -> float:
        """Seconds since the stack was built."""
        return time.monotonic() - self.started

    def t(self) -> str:
        """Elapsed time as shown in the report."""
        return f"t={self.elapsed():.0f}s"


def _sending_emails(database_url: str) -> set[str]:
    """Keys of the e-mails reserved ("sending") and not marked: those a dead worker may have handed to SES."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as c:
            rows = c.execute(
                select(Notification.key).where(Notification.channel == "email", Notification.status == "sending")
            )
            return set(rows.scalars())
    finally:
        engine.dispose()


@dataclass
class ChaosWorld:
    """A fresh migrated database seeded with the demo data, on its own task queue."""

    settings: Settings
    engine: Engine
    sessions: SessionFactory
    today: date
    period: BillingPeriod


def seed_world(settings: Settings, url: str, families: int) -> ChaosWorld:
    """The new database `url` (SQLite or PostgreSQL, as `DB` says) seeded with `families` demo families (and the
    audit and referral demo data)."""
    migrate(url)  # a no-op on a database already migrated; kept so that a bare URL works too
    s = settings.model_copy(update={"database_url": url, "task_queue": f"chaos-{uuid.uuid4().hex[:8]}"})
    today = datetime.now(PARIS).date()
    assert seed_demo(s, families=families, today=today)
    engine = make_engine(url)
    with engine.connect() as c:
        first_day = c.execute(select(func.min(Attendance.day))).scalar_one()
    period = next(
        p for p in (period_from_key(f"{today.year - y}-{m:02d}") for y in (0, 1) for m in range(1, 12, 2))
        if p.start <= first_day <= p.end
    )  # fmt: skip
    return ChaosWorld(s, engine, SessionFactory(engine), today, period)


def print_table(faults: list[tuple[str, str]], invariants: list[str]) -> None:
    """The chaos report: what was injected and which invariants were checked (all held to get here)."""
    width = max(len(f) for f, _ in faults)
    lines = ["", "injected faults:", *(f"  {f:<{width}}  during: {w}" for f, w in faults), "invariants checked:"]
    lines += [f"  OK  {i}" for i in invariants]
    sys.stdout.write("\n".join(lines) + "\n")  # the chaos report (`make chaos` runs with -s)


# --- billing invariants ----------------------------------------------------------------------------


def invoice_count(engine: Engine, period_key: str) -> int:
    """Invoices of the period in the database."""
    with engine.connect() as c:
        return int(c.execute(select(func.count()).where(Invoice.period_key == period_key)).scalar_one())


def ses_count(settings: Settings) -> int:
    """Messages moto's SES accepted (read directly, never through a proxy)."""
    return len(ses_messages(settings.aws_endpoint_url))


def invoices(sessions: SessionFactory, period_key: str) -> list[Invoice]:
    """The period's invoices."""
    with sessions() as db:
        return list(db.execute(select(Invoice).where(Invoice.period_key == period_key)).scalars())


def payments_of(sessions: SessionFactory, number: str) -> list[Payment]:
    """The payments recorded against one invoice."""
    with sessions() as db:
        invoice_id = db.execute(select(Invoice.id).where(Invoice.number == number)).scalar_one()
        return list(db.execute(select(Payment).where(Payment.invoice_id == invoice_id)).scalars())


def check_cycle(
    engine: Engine,
    sessions: SessionFactory,
    s: Settings,
    period_key: str,
    ses_before: int,
    families: int,
    in_flight: Collection[str] = (),
) -> list[str]:
    """One invoice per family, gapless numbers, balanced ledger, one e-mail per key and per SES message."""
    checked: list[str] = []
    issued = invoices(sessions, period_key)
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
        issued_mail = c.execute(
            select(Notification.subject_ref, Notification.status).where(
                Notification.template == "invoice_issued", Notification.channel == "email"
            )
        ).all()
    assert len(attending) >= families * 0.5 and set(per_account) == attending
    assert set(per_account.values()) == {1}
    checked.append(f"one invoice per family with attendance ({len(attending)} families, {len(issued)} invoices)")
    assert check_gapless([i.number for i in issued]) == []
    checked.append("invoice numbers gapless (check_gapless)")
    checked.append(check_ledger(engine))
    email_invoices = {i.number for i in issued if i.account_id in email_accounts}
    per_invoice = Counter(ref for ref, _ in issued_mail)
    assert set(per_invoice) == email_invoices and set(per_invoice.values()) == {1}
    statuses = Counter(status for _, status in issued_mail)
    assert set(statuses) <= DELIVERED, statuses
    checked.append(
        f"one 'invoice issued' e-mail per e-mail-channel invoice ({len(email_invoices)}: "
        f"{statuses['sent']} sent, {statuses['scheduled']} deferred to the payer's allowed hours)"
    )
    checked += check_notifications(engine, s, ses_before, in_flight)
    return checked


def check_ledger(engine: Engine) -> str:
    """Debits equal credits overall and in every entry."""
    with engine.connect() as c:
        debit, credit = c.execute(
            select(func.sum(LedgerPosting.debit_cents), func.sum(LedgerPosting.credit_cents))
        ).one()
        unbalanced = c.execute(
            select(LedgerPosting.entry_id)
            .group_by(LedgerPosting.entry_id)
            .having(func.sum(LedgerPosting.debit_cents) != func.sum(LedgerPosting.credit_cents))
        ).all()
    assert debit == credit and not unbalanced
    return f"ledger balanced: debits {debit} == credits {credit}, every entry balanced"


SETTLE_S = 60.0  # a message already handed to SES (a receipt sent beside the payment's answer) is marked within ms


def check_notifications(engine: Engine, s: Settings, ses_before: int, in_flight: Collection[str] = ()) -> list[str]:
    """Notification keys unique, none left unsent, and moto received one e-mail per e-mail key sent.

    The one exception is SES's: it takes no idempotency key, so an e-mail a kill caught in flight (`in_flight`:
    reserved, not yet marked "sent" when the worker died) may reach moto twice; nothing else may.

    The database and moto are read one after the other while the system still runs (a receipt is sent beside
    the payment's answer): the two counts are compared on a quiet snapshot (moto's count the same before and
    after the database read, no message "sending"), re-read until then. A doubled or lost message never
    settles and fails with the last counts.
    """
    deadline = time.monotonic() + SETTLE_S
    while True:
        ses_first = ses_count(s) - ses_before
        with engine.connect() as c:
            dup_keys = c.execute(select(Notification.key).group_by(Notification.key).having(func.count() > 1)).all()
            unsent = c.execute(
                select(Notification.key, Notification.status).where(
                    Notification.channel != "post", col(Notification.status).not_in(DELIVERED)
                )
            ).all()
            sent_emails = int(
                c.execute(
                    select(func.count()).where(Notification.channel == "email", Notification.status == "sent")
                ).scalar_one()
            )
        ses_sent = ses_count(s) - ses_before
        settled = ses_first == ses_sent and sent_emails <= ses_sent <= sent_emails + len(in_flight)
        if (settled and not unsent) or time.monotonic() > deadline:
            break
        time.sleep(0.5)  # polling a bounded condition, not waiting for a guessed duration
    assert not dup_keys, dup_keys[:5]
    assert not unsent, unsent[:5]
    assert sent_emails <= ses_sent <= sent_emails + len(in_flight), (ses_sent, sent_emails, len(in_flight))
    again = ses_sent - sent_emails
    return [
        "notification keys unique; every e-mail/SMS notification 'sent' or 'scheduled' (quiet hours), none lost",
        f"moto SES messages == e-mail notifications sent ({sent_emails}) + {again} re-sent of the {len(in_flight)} "
        "a kill caught in flight",
    ]


def check_payment(sessions: SessionFactory, stripe_client: stripe.StripeClient, number: str) -> list[str]:
    """An interrupted card payment: one succeeded PaymentIntent, one succeeded Payment pointing at it."""
    intents = [
        pi
        for pi in stripe_client.v1.payment_intents.list(params={"limit": 100}).data
        if metadata_value(pi, "invoice_number") == number
    ]
    succeeded = [pi for pi in intents if pi.status == "succeeded"]
    assert len(succeeded) == 1, [(pi.id, pi.status) for pi in intents]
    rows = payments_of(sessions, number)
    assert len(rows) == 1 and rows[0].status is PaymentStatus.succeeded
    assert rows[0].stripe_payment_intent_id == succeeded[0].id
    return [f"payment interrupted by a kill: 1 succeeded PaymentIntent, 1 Payment row ({number})"]
