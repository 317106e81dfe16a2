"""Recording payments: allocation over open invoices, ledger postings, SEPA rules — idempotent by key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from domain import ledger
from domain.allocation import allocate_fifo
from domain.dunning import PAYABLE_STATUSES, InvoiceStatus, remaining
from domain.money_guard import MAX_CARRIED_CREDIT_CENTS, LineAmount, check_credit_note, check_overpayment, fingerprint
from domain.payments import (
    PaymentMethod,
    apply_refund,
    cesu_eligible_cents,
    check_cesu_payment,
)
from domain.sepa import SepaState, after_debit_result
from services.billing import OPEN_STATUSES, credit_balances, post_entries
from services.money_guard import add_paid, claim_key, lock_account_of_invoice, lock_account_of_payment, once_per_key
from ville.db import SessionFactory
from ville.metrics import PAYMENTS_FAILED, record_payment_collected
from ville.models.billing import (
    FamilyAccount,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    LedgerPosting,
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


# built once, columns only: the invoice page asks this on every view (see api/routes/family/invoices.py); the
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


@dataclass(frozen=True)
class MoneyOutcome:
    """A money change asked by an operator: the payment it concerns and whether this call recorded it."""

    payment_id: int
    newly_recorded: bool
    refunded_cents: int = 0


class PaymentStore:
    """Payments in the database; every method can run twice with the same key and change nothing more.

    Every method that moves money takes the account's money lock first (services/money_guard.py).
    """

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    def invoice(self, number: str) -> Invoice | None:
        """One invoice by number."""
        with self.sessions() as s:
            return s.execute(select(Invoice).where(Invoice.number == number)).scalar_one_or_none()

    def settle(self, payment_key: str) -> SettleOutcome:
        """Apply a succeeded payment: allocate oldest-first, post the ledger, keep the excess as credit."""
        with self.sessions() as s, s.begin():
            lock_account_of_payment(s, key=payment_key)
            payment = s.execute(select(Payment).where(Payment.key == payment_key)).scalar_one()
            invoice = s.get_one(Invoice, payment.invoice_id)
            account = s.get_one(FamilyAccount, payment.account_id)
            if payment.status is not PaymentStatus.pending:
                return SettleOutcome(False, invoice.status, invoice.remaining_cents, self._credit(s, account))
            self._allocate(s, payment, invoice, account)
            return SettleOutcome(True, invoice.status, invoice.remaining_cents, self._credit(s, account))

    @staticmethod
    def _allocate(s: Session, payment: Payment, invoice: Invoice, account: FamilyAccount) -> None:
        # money already received is always recorded: what the open invoices cannot take becomes credit
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
                add_paid(s, inv, applied)
                s.add(PaymentAllocation(payment_id=payment.id, invoice_id=inv.id, amount_cents=applied))
        entries = [ledger.entry_for_payment(payment.key, account.ref, payment.method, payment.amount_cents)]
        if alloc.leftover_cents:
            entries.append(ledger.entry_for_overpayment_credit(payment.key, account.ref, alloc.leftover_cents))
        post_entries(s, entries)
        payment.status = PaymentStatus.succeeded
        payment.settled_at = datetime.now(UTC)
        record_payment_collected(payment.method.value, payment.amount_cents)
        if payment.method is PaymentMethod.SEPA_DEBIT:
            PaymentStore._sepa_result(account, success=True)
        s.flush()

    def fail(self, payment_key: str, reason: str) -> tuple[bool, bool]:
        """Record a failed attempt; returns (newly recorded, mandate still active)."""
        with self.sessions() as s, s.begin():
            lock_account_of_payment(s, key=payment_key)
            payment = s.execute(select(Payment).where(Payment.key == payment_key)).scalar_one()
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
        state = after_debit_result(SepaState(account.ref, MandateStatus.active, account.sepa_rejections), success)
        account.sepa_rejections = state.consecutive_rejections
        if state.status is MandateStatus.suspended:
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
        tolerance_cents: int = MAX_CARRIED_CREDIT_CENTS,
    ) -> Payment:
        """Create (once per key) a pending payment after checking the amount against the rules."""
        with self.sessions() as s, s.begin():
            lock_account_of_invoice(s, invoice_number)
            existing = s.execute(select(Payment).where(Payment.key == key)).scalar_one_or_none()
            if existing is not None:
                return existing
            return self._pending(s, key, invoice_number, method, amount_cents, reference, tolerance_cents)

    def _pending(
        self,
        s: Session,
        key: str,
        invoice_number: str,
        method: PaymentMethod,
        amount_cents: int,
        reference: str | None,
        tolerance_cents: int = MAX_CARRIED_CREDIT_CENTS,
    ) -> Payment:
        # under the account's money lock: what is due is read after every earlier change was committed
        invoice = s.execute(select(Invoice).where(Invoice.number == invoice_number)).scalar_one()
        ensure_payable(invoice)
        check_overpayment(amount_cents, payable_cents(s, invoice), tolerance_cents)
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

    def record_counter_payment(
        self, key: str, invoice_number: str, method: PaymentMethod, amount_cents: int, reference: str | None
    ) -> MoneyOutcome:
        """A payment received at the counter, checked and settled in one transaction under the money lock."""
        fp = fingerprint("counter", invoice_number, method.value, amount_cents, reference or "")

        def change() -> MoneyOutcome:
            with self.sessions() as s, s.begin():
                lock_account_of_invoice(s, invoice_number)
                if not claim_key(s, key, fp):
                    return MoneyOutcome(self._payment_id(s, key), False)
                payment = self._pending(s, key, invoice_number, method, amount_cents, reference)
                invoice = s.get_one(Invoice, payment.invoice_id)
                self._allocate(s, payment, invoice, s.get_one(FamilyAccount, payment.account_id))
                assert payment.id is not None
                return MoneyOutcome(payment.id, True)

        return once_per_key(change)

    @staticmethod
    def _payment_id(s: Session, key: str) -> int:
        return int(s.execute(select(Payment.id).where(Payment.key == key)).scalar_one())

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

    def record_refund(self, payment_id: int, amount_cents: int, refund_key: str) -> MoneyOutcome:
        """Refund part of a payment: ledger entry from the family's credit when it has some, else receivable."""
        fp = fingerprint("refund", payment_id, amount_cents)

        def change() -> MoneyOutcome:
            with self.sessions() as s, s.begin():
                lock_account_of_payment(s, payment_id=payment_id)
                payment = s.get_one(Payment, payment_id)
                account = s.get_one(FamilyAccount, payment.account_id)
                from_credit = self._credit(s, account) >= amount_cents
                entry = ledger.entry_for_refund(
                    refund_key, account.ref, payment.method, amount_cents, from_credit=from_credit
                )
                # a refund recorded before keys were bound to their content has its entry but no key row
                if not claim_key(s, f"refund:{refund_key}", fp) or self._entry_exists(s, entry.key):
                    return MoneyOutcome(payment_id, False, payment.refunded_cents)
                apply_refund(payment.amount_cents, payment.refunded_cents, amount_cents)
                post_entries(s, [entry])
                payment.refunded_cents += amount_cents
                if not from_credit:
                    self._reopen(s, payment, amount_cents)
                return MoneyOutcome(payment_id, True, payment.refunded_cents)

        return once_per_key(change)

    @staticmethod
    def _reopen(s: Session, payment: Payment, amount_cents: int) -> None:
        # money given back on a settled invoice makes it due again, newest allocation first; the allocation
        # shrinks with it, so an invoice's allocations always sum to its paid amount
        allocations = s.execute(
            select(PaymentAllocation)
            .where(PaymentAllocation.payment_id == payment.id)
            .order_by(PaymentAllocation.invoice_id.desc())
        ).scalars()
        left = amount_cents
        for a in allocations:
            inv = s.get_one(Invoice, a.invoice_id)
            take = min(left, a.amount_cents, inv.paid_cents)
            if take:
                add_paid(s, inv, -take)
                a.amount_cents -= take
            left -= take
            if not left:
                break

    @staticmethod
    def _entry_exists(s: Session, key: str) -> bool:
        return s.execute(select(LedgerEntry.id).where(LedgerEntry.key == key)).first() is not None

    def credit_note(self, key: str, invoice_number: str, amounts_by_activity: dict[str, int]) -> MoneyOutcome:
        """An avoir on an invoice: revenue of its own activities reversed, the invoice settled by that amount."""
        fp = fingerprint("credit-note", invoice_number, sorted(amounts_by_activity.items()))

        def change() -> MoneyOutcome:
            with self.sessions() as s, s.begin():
                lock_account_of_invoice(s, invoice_number)
                if not claim_key(s, key, fp):
                    return MoneyOutcome(self._payment_id(s, key), False)
                invoice = s.execute(select(Invoice).where(Invoice.number == invoice_number)).scalar_one()
                ensure_payable(invoice)
                check_credit_note(self._lines(s, invoice), self._credited(s, invoice), amounts_by_activity)
                total = sum(amounts_by_activity.values())
                payment = self._pending(s, key, invoice_number, PaymentMethod.CREDIT_NOTE, total, None)
                account = s.get_one(FamilyAccount, payment.account_id)
                # a credit note settles like a payment but moves no cash: its ledger entry is the avoir itself
                applied = min(invoice.remaining_cents, total)
                if applied:
                    add_paid(s, invoice, applied)
                    s.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount_cents=applied))
                entries = [ledger.entry_for_credit_note(key, account.ref, amounts_by_activity)]
                if total > applied:
                    entries.append(ledger.entry_for_overpayment_credit(key, account.ref, total - applied))
                post_entries(s, entries)
                payment.status = PaymentStatus.succeeded
                payment.settled_at = datetime.now(UTC)
                s.flush()
                assert payment.id is not None
                return MoneyOutcome(payment.id, True)

        return once_per_key(change)

    @staticmethod
    def _lines(s: Session, invoice: Invoice) -> list[LineAmount]:
        rows = s.execute(
            select(InvoiceLine.activity_code, InvoiceLine.amount_cents).where(InvoiceLine.invoice_id == invoice.id)
        ).all()
        return [LineAmount(code, amount) for code, amount in rows]

    @staticmethod
    def _credited(s: Session, invoice: Invoice) -> dict[str, int]:
        # what earlier credit notes on this invoice reversed, per activity (from their ledger entries)
        keys = s.execute(
            select(Payment.key).where(
                Payment.invoice_id == invoice.id,
                Payment.method == PaymentMethod.CREDIT_NOTE,
                Payment.status == PaymentStatus.succeeded,
            )
        ).scalars()
        entry_keys = [f"credit-note:{k}" for k in keys]
        if not entry_keys:
            return {}
        rows = s.execute(
            select(LedgerPosting.account, func.sum(LedgerPosting.debit_cents))
            .join(LedgerEntry, LedgerEntry.id == LedgerPosting.entry_id)
            .where(LedgerEntry.key.in_(entry_keys), LedgerPosting.account.startswith("revenue:"))
            .group_by(LedgerPosting.account)
        ).all()
        return {account.removeprefix("revenue:"): int(total) for account, total in rows}
