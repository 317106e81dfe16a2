"""Contest (réclamation) activities: messages, status changes, the decision's credit note, the held-back transfer."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlmodel import select
from temporalio.exceptions import ApplicationError

from activities.definition import defn
from contracts.contests import (
    BILLING_TEAM,
    CREDIT_REFUSED,
    ContestNotice,
    ContestOutcome,
    ContestStatusChange,
    HeldTransfer,
    HeldTransferQuery,
)
from domain import ledger
from domain.contests import ContestStatus, resume_transfer_on
from domain.dunning import DunningKind, InvoiceStatus, default_ladder
from domain.money_guard import CreditNoteRefused
from domain.payments import PaymentRefused
from services import billing_team, contests, payment_plans
from services.billing import OPEN_STATUSES, post_entries
from services.money_guard import lock_account_of_invoice
from services.notifications import Notifier, raise_if_retryable
from services.payments import InvoiceNotPayable, PaymentStore
from ville.db import SessionFactory
from ville.metrics import CONTESTS_DECIDED
from ville.models.billing import FamilyAccount, Invoice
from ville.settings import Settings

log = structlog.get_logger(__name__)


def contest_credit_key(contest_id: str) -> str:
    """The credit note's idempotency key: one avoir per contest, however often the activity runs."""
    return f"credit-note:{contest_id}"


class ContestActivities:
    """I/O of the contest workflow; each call is safe to repeat."""

    def __init__(
        self, sessions: SessionFactory, notifier: Notifier, payments: PaymentStore, s3: Any, settings: Settings
    ):
        self.sessions = sessions
        self.notifier = notifier
        self.payments = payments
        self.s3 = s3
        self.settings = settings

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activities to register."""
        return [self.notify_contest, self.mark_contest, self.decide_contest, self.held_transfer, self.transfer_held]

    @defn(name="notify_contest")
    def notify_contest(self, notice: ContestNotice) -> int:
        """Send a contest message to the family's payer or to every billing operator (once per key)."""
        ctx = {"subject": notice.subject, "body": notice.body, "number": notice.invoice_number}
        if notice.audience != BILLING_TEAM:
            ctx["url"] = f"{self.settings.public_base_url}/famille/factures/{notice.invoice_number}"
        with self.sessions() as s:
            requests = billing_team.notice_requests(
                s, audience=notice.audience, key=notice.key, template=notice.template, ref=notice.contest_id,
                account_id=notice.account_id, invoice_number=notice.invoice_number, context=ctx,
            )  # fmt: skip
        outcome = self.notifier.send_many(requests)
        raise_if_retryable(outcome)
        return len(requests)

    @defn(name="mark_contest")
    def mark_contest(self, change: ContestStatusChange) -> None:
        """Record that an undecided contest was reminded or escalated."""
        with self.sessions() as s:
            contests.mark(s, change.contest_id, ContestStatus(change.status), change.reminded)

    @defn(name="decide_contest")
    def decide_contest(self, outcome: ContestOutcome) -> bool:
        """The accepted amount as a credit note (single money path, per-account lock), then the decision's row."""
        if outcome.credited:
            try:
                self.payments.credit_note(
                    contest_credit_key(outcome.contest_id), outcome.invoice_number, dict(outcome.credited)
                )
            except (InvoiceNotPayable, CreditNoteRefused, PaymentRefused) as err:
                raise ApplicationError(err.message_fr, type=CREDIT_REFUSED, non_retryable=True) from err
        with self.sessions() as s:
            recorded = contests.record_decision(
                s,
                outcome.contest_id,
                ContestStatus(outcome.status),
                dict(outcome.credited),
                outcome.answer,
                outcome.operator_user_id,
            )
        if recorded:
            CONTESTS_DECIDED.labels(status=outcome.status).inc()
        log.info("contest.decided", contest=outcome.contest_id, status=outcome.status)
        return recorded

    @defn(name="held_transfer")
    def held_transfer(self, req: HeldTransferQuery) -> HeldTransfer:
        """After a decision: the day an invoice held back from its cycle's transfer is transferred, if unpaid."""
        invoice_number, today = req.invoice_number, req.today
        with self.sessions() as s:
            invoice = s.exec(select(Invoice).where(Invoice.number == invoice_number)).one()
            ids = [invoice.id] if invoice.id else []
            held = contests.held_by_invoice(s, ids) or payment_plans.holding(s, ids)  # a kept plan holds it too
        transfer = next(step for step in default_ladder() if step.kind is DunningKind.TRANSFER_TRESOR)
        transfer_on = transfer.on(invoice.due_date)
        if invoice.status not in OPEN_STATUSES or invoice.remaining_cents <= 0 or held or transfer_on > today:
            return HeldTransfer(invoice_number, None)  # settled, still contested, or the cycle transfers it itself
        return HeldTransfer(invoice_number, resume_transfer_on(transfer_on, today))

    @defn(name="transfer_held")
    def transfer_held(self, invoice_number: str) -> bool:
        """Transfer one invoice to the Trésor Public if it is still unpaid and no contest holds it."""
        with self.sessions() as s, s.begin():
            lock_account_of_invoice(s, invoice_number)
            invoice = s.exec(select(Invoice).where(Invoice.number == invoice_number)).one()
            assert invoice.id is not None
            if invoice.status not in OPEN_STATUSES or invoice.remaining_cents <= 0:
                return False
            if contests.held_by_invoice(s, [invoice.id]) or payment_plans.holding(s, [invoice.id]):
                return False
            account = s.get_one(FamilyAccount, invoice.account_id)
            buf = io.StringIO()
            w = csv.writer(buf, delimiter=";")
            w.writerow(["numero_facture", "compte", "montant_centimes", "date_echeance"])
            w.writerow([invoice.number, account.ref, invoice.remaining_cents, invoice.due_date.isoformat()])
            # the period's export is already written: a late title gets its own file beside it
            self.s3.put_object(
                Bucket=self.settings.s3_bucket,
                Key=f"tresor/{invoice.period_key}/titres-de-recettes-{invoice.number}.csv",
                Body=buf.getvalue().encode(),
                ContentType="text/csv",
            )
            post_entries(s, [ledger.entry_for_transfer(invoice.number, account.ref, invoice.remaining_cents)])
            invoice.status = InvoiceStatus.TRANSFERRED
            invoice.transferred_at = datetime.now(UTC)
            s.add(invoice)
        log.info("contest.held_invoice_transferred", invoice=invoice_number)
        return True
