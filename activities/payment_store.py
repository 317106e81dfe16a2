"""Recording payments: allocation over open invoices, ledger postings, SEPA rules — idempotent by key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from activities.billing_store import OPEN_STATUSES, credit_balances, post_entries
from domain import ledger
from domain.allocation import allocate_fifo
from domain.dunning import PAYABLE_STATUSES, InvoiceStatus, remaining, status_after_payment
from domain.payments import (
    DEFAULT_OVERPAYMENT_TOLERANCE_CENTS,
    OverpaymentRefused,
    PaymentMethod,
    apply_refund,
    cesu_eligible_cents,
    check_cesu_payment,
)
from domain.sepa import MandateStatus as SepaStatus
from domain.sepa import SepaState, after_debit_result
from ville.db import SessionFactory
from ville.metrics import PAYMENTS_FAILED, record_payment_collected
from ville.models.billing import (
    FamilyAccount,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    MandateStatus,
    Payment,
    PaymentAllocation,
    PaymentStatus,
)


class InvoiceNotPayable(Exception):
    """The invoice cannot be paid online (transferred, cancelled or already paid)."""

    def __init__(self, message_fr: str) -> None:
        super().__init__(message_fr)
        self.message_fr = message_fr


@dataclass(frozen=True)
class SettleOutcome:
    """What recording one payment changed."""

    newly_recorded: bool
    invoice_status: InvoiceStatus
    remaining_cents: int
    credit_cents: int


# built once, columns only: the invoice page asks this on every view (see api/routes/billing_family.py); the
# statuses are inlined in the SQL, so no IN list is expanded per execution
OPEN_UP_TO = select(Invoice.amount_due_cents, Invoice.previous_unpaid_cents, Invoice.paid_cents).where(
    Invoice.account_id == bindparam("account_id"),
    Invoice.status.in_(bindparam("open_statuses", sorted(OPEN_STATUSES), literal_execute=True)),
    Invoice.id <= bindparam("invoice_id"),
)


def payable_cents(s: Session, invoice: Invoice) -> int:
    """What the family owes up to this invoice: its own remaining plus older open invoices (recalled)."""
    open_older = s.execute(OPEN_UP_TO, {"account_id": invoice.account_id, "invoice_id": invoice.id})
    return sum(remaining(due, previous, paid) for due, previous, paid in open_older)


def not_payable_reason(status: InvoiceStatus) -> str | None:
    """Why an invoice in this status cannot be paid online (French, shown as is), or None."""
    if status is InvoiceStatus.TRANSFERRED:
        return (
            "Cette facture a été transmise au Trésor Public : elle ne peut plus être payée en ligne. "
            "Le paiement se fait désormais auprès du centre des finances publiques indiqué sur l'avis reçu."
        )
    if status not in PAYABLE_STATUSES:
        return "Cette facture est déjà réglée."
    return None


def ensure_payable(invoice: Invoice) -> None:
    """Refuse payment on a transferred, cancelled or settled invoice, with the page's French message."""
    reason = not_payable_reason(invoice.status)
    if reason is not None:
        raise InvoiceNotPayable(reason)


class PaymentStore:
    """Payments in the database; every method can run twice with the same key and change nothing more."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    def invoice(self, number: str) -> Invoice | None:
        """One invoice by number."""
        with self.sessions() as s:
            return s.execute(select(Invoice).where(Invoice.number == number)).scalar_one_or_none()

    def settle(self, payment_key: str) -> SettleOutcome:
        """Apply a succeeded payment: allocate oldest-first, post the ledger, keep the excess as credit."""
        with self.sessions() as s, s.begin():
            payment = s.execute(select(Payment).where(Payment.key == payment_key).with_for_update()).scalar_one()
            invoice = s.get_one(Invoice, payment.invoice_id)
            account = s.get_one(FamilyAccount, payment.account_id)
            if payment.status is not PaymentStatus.pending:
                return SettleOutcome(False, invoice.status, invoice.remaining_cents, self._credit(s, account))
            open_invoices = list(
                s.execute(
                    select(Invoice)
                    .where(Invoice.account_id == account.id, Invoice.status.in_(OPEN_STATUSES))
                    .order_by(Invoice.id)
                ).scalars()
            )
            # the paid invoice first settles what it recalled, then itself, then later ones
            open_invoices.sort(key=lambda i: (i.id > invoice.id, i.id))
            alloc = allocate_fifo([i.remaining_cents for i in open_invoices], payment.amount_cents)
            for inv, applied in zip(open_invoices, alloc.applied, strict=True):
                if applied:
                    inv.paid_cents += applied
                    inv.status = status_after_payment(inv.own_due_cents, inv.paid_cents)
                    s.add(PaymentAllocation(payment_id=payment.id, invoice_id=inv.id, amount_cents=applied))
            entries = [ledger.entry_for_payment(payment.key, account.ref, payment.method, payment.amount_cents)]
            if alloc.leftover_cents:
                entries.append(ledger.entry_for_overpayment_credit(payment.key, account.ref, alloc.leftover_cents))
            post_entries(s, entries)
            payment.status = PaymentStatus.succeeded
            payment.settled_at = datetime.now(UTC)
            record_payment_collected(payment.method.value, payment.amount_cents)
            if payment.method is PaymentMethod.SEPA_DEBIT:
                self._sepa_result(account, success=True)
            s.flush()
            return SettleOutcome(True, invoice.status, invoice.remaining_cents, self._credit(s, account))

    def fail(self, payment_key: str, reason: str) -> tuple[bool, bool]:
        """Record a failed attempt; returns (newly recorded, mandate still active)."""
        with self.sessions() as s, s.begin():
            payment = s.execute(select(Payment).where(Payment.key == payment_key).with_for_update()).scalar_one()
            account = s.get_one(FamilyAccount, payment.account_id)
            if payment.status is not PaymentStatus.pending:
                return False, account.mandate_status is MandateStatus.active
            payment.status = PaymentStatus.failed
            payment.failure_reason = reason[:120]
            PAYMENTS_FAILED.labels(reason=reason[:40]).inc()
            if payment.method is PaymentMethod.SEPA_DEBIT:
                self._sepa_result(account, success=False)
            return True, account.mandate_status is MandateStatus.active

    @staticmethod
    def _sepa_result(account: FamilyAccount, success: bool) -> None:
        if account.mandate_status is not MandateStatus.active:
            return
        state = after_debit_result(SepaState(account.ref, SepaStatus.ACTIVE, account.sepa_rejections), success)
        account.sepa_rejections = state.consecutive_rejections
        if state.status is SepaStatus.SUSPENDED:
            account.mandate_status = MandateStatus.suspended

    @staticmethod
    def _credit(s: Session, account: FamilyAccount) -> int:
        return credit_balances(s, [account.ref]).get(account.ref, 0)

    def new_payment(
        self,
        key: str,
        invoice_number: str,
        method: PaymentMethod,
        amount_cents: int,
        reference: str | None = None,
        tolerance_cents: int = DEFAULT_OVERPAYMENT_TOLERANCE_CENTS,
    ) -> Payment:
        """Create (once per key) a pending payment after checking the amount against the rules."""
        with self.sessions() as s, s.begin():
            existing = s.execute(select(Payment).where(Payment.key == key)).scalar_one_or_none()
            if existing is not None:
                return existing
            invoice = s.execute(select(Invoice).where(Invoice.number == invoice_number).with_for_update()).scalar_one()
            ensure_payable(invoice)
            if amount_cents <= 0:
                raise ValueError("amount must be positive")
            due = payable_cents(s, invoice)
            if amount_cents - due > tolerance_cents:
                raise OverpaymentRefused(
                    f"Le montant dépasse le reste à payer de plus de {tolerance_cents // 100} € : refusé."
                )
            if method is PaymentMethod.CESU:
                self._check_cesu(s, invoice, amount_cents)
            payment = Payment(
                key=key,
                invoice_id=invoice.id,
                account_id=invoice.account_id,
                method=method,
                amount_cents=amount_cents,
                reference=reference,
            )
            s.add(payment)
            s.flush()
            return payment

    @staticmethod
    def _check_cesu(s: Session, invoice: Invoice, amount_cents: int) -> None:
        lines = s.execute(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).scalars().all()
        eligible = cesu_eligible_cents(lines)
        already = s.execute(
            select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
                Payment.invoice_id == invoice.id,
                Payment.method == PaymentMethod.CESU,
                Payment.status == PaymentStatus.succeeded,
            )
        ).scalar_one()
        check_cesu_payment(eligible, already, amount_cents)

    def attach_intent(self, key: str, payment_intent_id: str) -> None:
        """Remember the PaymentIntent of a payment (before confirming it, so a retry never charges twice)."""
        with self.sessions() as s, s.begin():
            payment = s.execute(select(Payment).where(Payment.key == key)).scalar_one()
            if payment.stripe_payment_intent_id is None:
                payment.stripe_payment_intent_id = payment_intent_id

    def by_intent(self, payment_intent_id: str) -> Payment | None:
        """The payment that owns a PaymentIntent."""
        with self.sessions() as s:
            return s.execute(
                select(Payment).where(Payment.stripe_payment_intent_id == payment_intent_id)
            ).scalar_one_or_none()

    def payment(self, payment_id: int) -> Payment:
        """One payment by id."""
        with self.sessions() as s:
            return s.get_one(Payment, payment_id)

    def refund_recorded(self, refund_key: str) -> bool:
        """Whether a refund with this key is already in the ledger."""
        with self.sessions() as s:
            return self._entry_exists(s, f"refund:{refund_key}")

    def record_refund(self, payment_id: int, amount_cents: int, refund_key: str) -> Payment:
        """Refund part of a payment: ledger entry from the family's credit when it has some, else receivable."""
        with self.sessions() as s, s.begin():
            payment = s.get_one(Payment, payment_id, with_for_update=True)
            account = s.get_one(FamilyAccount, payment.account_id)
            from_credit = self._credit(s, account) >= amount_cents
            entry = ledger.entry_for_refund(
                refund_key, account.ref, payment.method, amount_cents, from_credit=from_credit
            )
            if self._entry_exists(s, entry.key):
                return payment
            apply_refund(payment.amount_cents, payment.refunded_cents, amount_cents)
            post_entries(s, [entry])
            payment.refunded_cents += amount_cents
            if not from_credit:
                self._reopen(s, payment, amount_cents)
            return payment

    @staticmethod
    def _reopen(s: Session, payment: Payment, amount_cents: int) -> None:
        # money given back on a settled invoice makes it due again, newest allocation first
        allocations = s.execute(
            select(PaymentAllocation)
            .where(PaymentAllocation.payment_id == payment.id)
            .order_by(PaymentAllocation.invoice_id.desc())
        ).scalars()
        left = amount_cents
        for a in allocations:
            inv = s.get_one(Invoice, a.invoice_id)
            take = min(left, a.amount_cents, inv.paid_cents)
            inv.paid_cents -= take
            inv.status = status_after_payment(inv.own_due_cents, inv.paid_cents)
            left -= take
            if not left:
                break

    @staticmethod
    def _entry_exists(s: Session, key: str) -> bool:
        return s.execute(select(LedgerEntry.id).where(LedgerEntry.key == key)).first() is not None

    def credit_note(self, key: str, invoice_number: str, amounts_by_activity: dict[str, int]) -> Payment:
        """An avoir on an invoice: revenue reversed, the invoice settled by that amount."""
        total = sum(amounts_by_activity.values())
        payment = self.new_payment(key, invoice_number, PaymentMethod.CREDIT_NOTE, total)
        with self.sessions() as s, s.begin():
            account = s.get_one(FamilyAccount, payment.account_id)
            entry = ledger.entry_for_credit_note(key, account.ref, amounts_by_activity)
            if not self._entry_exists(s, entry.key):
                post_entries(s, [entry])
        self._settle_without_cash(key)
        return payment

    def _settle_without_cash(self, key: str) -> None:
        # a credit note settles like a payment but moves no cash: its ledger entry is the avoir itself
        with self.sessions() as s, s.begin():
            payment = s.execute(select(Payment).where(Payment.key == key).with_for_update()).scalar_one()
            if payment.status is not PaymentStatus.pending:
                return
            invoice = s.get_one(Invoice, payment.invoice_id)
            applied = min(invoice.remaining_cents, payment.amount_cents)
            invoice.paid_cents += applied
            invoice.status = status_after_payment(invoice.own_due_cents, invoice.paid_cents)
            s.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount_cents=applied))
            payment.status = PaymentStatus.succeeded
            payment.settled_at = datetime.now(UTC)
