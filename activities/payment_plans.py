"""Payment plan activities: messages, what the invoice stands at, the decision's row, the instalments' statuses."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.definition import defn
from activities.payments import PaymentActivities
from contracts.billing import IntentStatus
from contracts.contests import BILLING_TEAM
from contracts.payment_plans import (
    PaymentPlanActivity,
    PlanBasis,
    PlanNotice,
    PlanOutcome,
    PlanProgress,
    PlanProgressUpdate,
)
from domain.dunning import PAYABLE_STATUSES
from domain.payment_plans import Instalment, InstalmentStatus, PlanStatus
from services import billing_team, contests, payment_plans
from services.notifications import Notifier, raise_if_retryable
from ville.db import SessionFactory
from ville.models.billing import FamilyAccount, Invoice, MandateStatus
from ville.settings import Settings

log = structlog.get_logger(__name__)
QUICK_RESULT_SECONDS = 20  # a debit the bank answers at once (or an emulator) is recorded without a 2-day wait


class PaymentPlanActivities:
    """I/O of the payment plan workflow; each call is safe to repeat."""

    def __init__(
        self, sessions: SessionFactory, notifier: Notifier, settings: Settings, payments: PaymentActivities
    ) -> None:
        self.sessions = sessions
        self.notifier = notifier
        self.settings = settings
        self.payments = payments

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activities to register."""
        return [self.notify, self.basis, self.decide, self.progress, self.record_progress, self.debit_result]

    def _invoice(self, number: str) -> Invoice:
        with self.sessions() as s:
            invoice = payment_plans.invoice_by_number(s, number)
        if invoice is None:
            raise ApplicationError("unknown invoice", type="UnknownInvoice", non_retryable=True)
        return invoice

    @defn(name=PaymentPlanActivity.NOTIFY)
    def notify(self, notice: PlanNotice) -> int:
        """Send a plan message to the family's payer or to every billing operator (once per key, contact hours)."""
        ctx = {"subject": notice.subject, "body": notice.body, "number": notice.invoice_number}
        base = self.settings.public_base_url
        team = notice.audience == BILLING_TEAM
        ctx["url"] = f"{base}/operateur/echeanciers" if team else f"{base}/famille/factures/{notice.invoice_number}"
        with self.sessions() as s:
            requests = billing_team.notice_requests(
                s, audience=notice.audience, key=notice.key, template=notice.template, ref=notice.plan_id,
                account_id=notice.account_id, invoice_number=notice.invoice_number, context=ctx,
            )  # fmt: skip
        outcome = self.notifier.send_many(requests)
        raise_if_retryable(outcome)
        return len(requests)

    @defn(name=PaymentPlanActivity.BASIS)
    def basis(self, invoice_number: str) -> PlanBasis:
        """What remains on the invoice when a plan is approved, and whether it is still payable online."""
        invoice = self._invoice(invoice_number)
        return PlanBasis(invoice.status in PAYABLE_STATUSES, invoice.remaining_cents)

    @defn(name=PaymentPlanActivity.DECIDE)
    def decide(self, outcome: PlanOutcome) -> bool:
        """Record the decision and, when approved, the schedule (once)."""
        with self.sessions() as s:
            row = payment_plans.by_ref(s, outcome.plan_id)
            if row is None:
                raise ApplicationError("unknown plan", type="UnknownPlan", non_retryable=True)
            instalments = [Instalment(k, due, amount) for k, (due, amount) in enumerate(outcome.instalments, start=1)]
            recorded = payment_plans.record_decision(
                s,
                outcome.plan_id,
                PlanStatus(outcome.status),
                outcome.answer,
                outcome.operator_user_id,
                outcome.decided_on,
                instalments,
            )
        log.info("payment_plan.decided", plan=outcome.plan_id, status=outcome.status)
        return recorded

    @defn(name=PaymentPlanActivity.PROGRESS)
    def progress(self, invoice_number: str) -> PlanProgress:
        """Where the invoice stands: payable, what remains, what open contests hold, whether a mandate is active."""
        with self.sessions() as s:
            invoice = payment_plans.invoice_by_number(s, invoice_number)
            if invoice is None or invoice.id is None:
                raise ApplicationError("unknown invoice", type="UnknownInvoice", non_retryable=True)
            held = contests.held_by_invoice(s, [invoice.id]).get(invoice.id, 0)
            account = s.get_one(FamilyAccount, invoice.account_id)
            mandate = account.mandate_status is MandateStatus.active and bool(account.stripe_payment_method_id)
            return PlanProgress(invoice.status in PAYABLE_STATUSES, invoice.remaining_cents, held, mandate)

    @defn(name=PaymentPlanActivity.RECORD_PROGRESS)
    def record_progress(self, update: PlanProgressUpdate) -> None:
        """The instalments' statuses and the plan's status, for the family's page and the console."""
        with self.sessions() as s:
            payment_plans.record_progress(
                s,
                update.plan_id,
                PlanStatus(update.status),
                [InstalmentStatus(x) for x in update.instalment_statuses],
                update.misses,
            )

    @defn(name=PaymentPlanActivity.DEBIT_RESULT)
    def debit_result(self, payment_intent_id: str) -> IntentStatus:
        """A just-confirmed debit's status after a short wait for an immediate answer (else still processing)."""
        deadline = time.monotonic() + QUICK_RESULT_SECONDS
        status = self.payments.retrieve_intent(payment_intent_id)
        while status.status not in ("succeeded", "failed") and time.monotonic() < deadline:
            activity.heartbeat(payment_intent_id)
            time.sleep(0.5)  # polling Stripe, not synchronising a test: the answer may come later, and is then awaited
            status = self.payments.retrieve_intent(payment_intent_id)
        return status
