"""Stripe activities: customers, PaymentIntents created once and confirmed once, reconciliation, refunds."""

from __future__ import annotations

from typing import Any

import stripe
import structlog
from sqlalchemy import select
from temporalio.exceptions import ApplicationError

from activities.definition import defn
from contracts.billing import IntentRequest, IntentStatus, PaymentActivity, RecordedPayment
from domain.payments import PaymentMethod, PaymentRefused
from services.payments import InvoiceNotPayable, MoneyOutcome, PaymentStore
from services.stripe_client import stripe_refusals
from services.stripe_payments import StripePayments
from ville.models.billing import FamilyAccount, Invoice, MandateStatus

log = structlog.get_logger(__name__)
_FINAL_FAILURES = {"canceled", "requires_payment_method"}


def _status(pi: Any) -> IntentStatus:
    status = pi.status
    failure = None
    if status in _FINAL_FAILURES:
        err = getattr(pi, "last_payment_error", None)
        failure = (
            (getattr(err, "decline_code", None) or getattr(err, "code", None) or "payment_failed")
            if err
            else "payment_failed"
        )
        status = "failed"
    return IntentStatus(pi.id, status, failure)


class PaymentActivities:
    """Payments through Stripe; our database makes them exactly-once even where Stripe would not."""

    def __init__(self, stripe_client: stripe.StripeClient, store: PaymentStore) -> None:
        self.stripe = stripe_client
        self.store = store
        self.payments = StripePayments(stripe_client, store)

    def ensure_customer(self, account_id: int) -> str:
        """The account's Stripe customer, created once (see `StripePayments.ensure_customer`)."""
        return self.payments.ensure_customer(account_id)

    @defn(name=PaymentActivity.CREATE_INTENT)
    def create_intent(self, req: IntentRequest) -> str:
        """Create the attempt's PaymentIntent once and remember it before anything can charge it."""
        key = f"{req.method}:{req.invoice_number}:{req.attempt}"
        try:
            payment = self.store.new_payment(key, req.invoice_number, PaymentMethod(req.method), req.amount_cents)
        except (PaymentRefused, InvoiceNotPayable) as err:
            raise ApplicationError(err.message_fr, type=type(err).__name__, non_retryable=True) from err
        if payment.stripe_payment_intent_id:
            return payment.stripe_payment_intent_id
        customer = self.ensure_customer(payment.account_id)
        pm = req.payment_method_id or self._mandate_method(payment.account_id)
        params: dict[str, Any] = {
            "amount": payment.amount_cents,
            "currency": "eur",
            "customer": customer,
            "payment_method": pm,
            "payment_method_types": [req.method],
            "metadata": {"invoice_number": req.invoice_number, "payment_key": key},
        }
        try:
            pi = self.stripe.v1.payment_intents.create(params=params, options={"idempotency_key": key})
        except stripe.InvalidRequestError as err:
            # a request Stripe refuses will be refused again: fail the attempt, do not retry it
            raise ApplicationError("Paiement impossible.", type="StripeInvalidRequest", non_retryable=True) from err
        self.store.attach_intent(key, pi.id)
        return str(pi.id)

    def _mandate_method(self, account_id: int) -> str:
        with self.store.sessions() as s:
            pm = s.execute(
                select(FamilyAccount.stripe_payment_method_id).where(FamilyAccount.id == account_id)
            ).scalar_one()
        if not pm:
            raise ApplicationError("no SEPA mandate on this account", type="NoMandate", non_retryable=True)
        return str(pm)

    @defn(name=PaymentActivity.CONFIRM_INTENT)
    def confirm_intent(self, payment_intent_id: str) -> IntentStatus:
        """Confirm the PaymentIntent unless it already moved on (a retry never charges twice)."""
        with stripe_refusals():
            pi = self.stripe.v1.payment_intents.retrieve(payment_intent_id)
            if pi.status != "requires_confirmation":
                return _status(pi)
            try:
                pi = self.stripe.v1.payment_intents.confirm(
                    payment_intent_id, options={"idempotency_key": f"confirm-{payment_intent_id}"}
                )
            except stripe.CardError:
                pi = self.stripe.v1.payment_intents.retrieve(payment_intent_id)
            return _status(pi)

    @defn(name=PaymentActivity.RETRIEVE_INTENT)
    def retrieve_intent(self, payment_intent_id: str) -> IntentStatus:
        """Ask Stripe where a PaymentIntent stands (reconciliation of a missed webhook)."""
        with stripe_refusals():  # an intent Stripe does not know is a final failure, not retried forever
            return _status(self.stripe.v1.payment_intents.retrieve(payment_intent_id))

    @defn(name=PaymentActivity.RECORD_INTENT_OUTCOME)
    def record_intent_outcome(self, status: IntentStatus) -> RecordedPayment:
        """Record a final outcome in the database and ledger (idempotent)."""
        payment = self.store.by_intent(status.payment_intent_id)
        if payment is None:
            raise ApplicationError("unknown PaymentIntent", type="UnknownIntent", non_retryable=True)
        if status.status == "succeeded":
            out = self.store.settle(payment.key)
            log.info("payment.settled", payment_key=payment.key, new=out.newly_recorded)
            return RecordedPayment(out.newly_recorded, out.invoice_status.value, out.remaining_cents)
        if status.status == "failed":
            new, mandate_active = self.store.fail(payment.key, status.failure_code or "payment_failed")
            invoice = self._invoice(payment.invoice_id)
            return RecordedPayment(new, invoice.status.value, invoice.remaining_cents, mandate_active)
        raise ApplicationError(f"not a final status: {status.status}", type="NotFinal", non_retryable=True)

    def _invoice(self, invoice_id: int) -> Invoice:
        with self.store.sessions() as s:
            return s.get_one(Invoice, invoice_id)

    @defn(name=PaymentActivity.ACCOUNT_OF)
    def account_of(self, invoice_number: str) -> int:
        """The account id of an invoice (a reference, so no personal data enters the history)."""
        invoice = self.store.invoice(invoice_number)
        if invoice is None:
            raise ApplicationError("unknown invoice", type="UnknownInvoice", non_retryable=True)
        return invoice.account_id

    @defn(name=PaymentActivity.MANDATE_ACTIVE)
    def mandate_active(self, invoice_number: str) -> bool:
        """Whether the invoice's family still has an active SEPA mandate."""
        with self.store.sessions() as s:
            return bool(
                s.execute(
                    select(FamilyAccount.mandate_status == MandateStatus.active)
                    .join(Invoice, Invoice.account_id == FamilyAccount.id)
                    .where(Invoice.number == invoice_number)
                ).scalar_one()
            )

    def refund(self, payment_id: int, amount_cents: int, refund_key: str) -> MoneyOutcome:
        """Refund a payment once per key (see `StripePayments.refund`)."""
        return self.payments.refund(payment_id, amount_cents, refund_key)

    @defn(name=PaymentActivity.INVOICE_REMAINING)
    def invoice_remaining(self, invoice_number: str) -> int:
        """What is still to pay on the invoice itself (0 once settled or transferred)."""
        invoice = self.store.invoice(invoice_number)
        if invoice is None:
            raise ApplicationError("unknown invoice", type="UnknownInvoice", non_retryable=True)
        return 0 if invoice.status.value in ("paid", "transferred", "cancelled") else invoice.remaining_cents
