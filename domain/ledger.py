"""Double-entry ledger: accounts, postings, journal entries and their builders (amounts in cents)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from domain.money import Cents
from domain.payments import PaymentMethod

CASH_STRIPE = "cash:stripe"
CASH_COUNTER = "cash:counter"
CASH_CESU = "cash:cesu"  # CESU titles awaiting reimbursement by the issuing centre
TRESOR_TRANSFER = "tresor_transfer"

_CASH_BY_METHOD = {
    PaymentMethod.CARD: CASH_STRIPE,
    PaymentMethod.SEPA_DEBIT: CASH_STRIPE,
    PaymentMethod.CESU: CASH_CESU,
    PaymentMethod.CHEQUE: CASH_COUNTER,
    PaymentMethod.CASH_COUNTER: CASH_COUNTER,
}


def receivable_account(account_ref: str) -> str:
    """What the family owes: ``receivable:<account_ref>``."""
    return f"receivable:{account_ref}"


def credit_account(account_ref: str) -> str:
    """What the City owes the family (overpayments): ``credit:<account_ref>``."""
    return f"credit:{account_ref}"


def revenue_account(activity_code: str) -> str:
    """Revenue of an activity: ``revenue:<activity_code>``."""
    return f"revenue:{activity_code}"


def cash_account_for(method: PaymentMethod) -> str:
    """Cash account receiving a payment method; credit notes move no cash (use entry_for_credit_note)."""
    try:
        return _CASH_BY_METHOD[method]
    except KeyError:
        raise ValueError(f"{method} moves no cash") from None


class EntryKind(StrEnum):
    """What a journal entry records."""

    INVOICE = "invoice"
    PAYMENT = "payment"
    REFUND = "refund"
    CREDIT_NOTE = "credit_note"
    TRANSFER = "transfer"
    OVERPAYMENT_CREDIT = "overpayment_credit"
    CREDIT_APPLICATION = "credit_application"


class UnbalancedEntry(ValueError):
    """A journal entry breaks double-entry rules."""


@dataclass(frozen=True, slots=True)
class Posting:
    """One side of an entry on one account; exactly one of debit/credit is positive."""

    account: str
    debit_cents: Cents = 0
    credit_cents: Cents = 0


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A balanced set of postings; ``key`` is unique and makes recording idempotent."""

    key: str
    kind: EntryKind
    postings: tuple[Posting, ...]

    def validate(self) -> JournalEntry:
        """Return self, or raise UnbalancedEntry (unbalanced, negative, empty sides, < 2 postings)."""
        if not self.key:
            raise UnbalancedEntry("entry key is empty")
        if len(self.postings) < 2:
            raise UnbalancedEntry(f"{self.key}: at least two postings are required")
        for p in self.postings:
            if p.debit_cents < 0 or p.credit_cents < 0 or (p.debit_cents > 0) == (p.credit_cents > 0):
                raise UnbalancedEntry(f"{self.key}: {p.account} needs exactly one positive side")
        debits = sum(p.debit_cents for p in self.postings)
        credits = sum(p.credit_cents for p in self.postings)
        if debits != credits:
            raise UnbalancedEntry(f"{self.key}: debits {debits} != credits {credits}")
        return self


def _by_activity(amounts: Mapping[str, Cents], debit: bool) -> list[Posting]:
    postings = []
    for code, amount in sorted(amounts.items()):
        if amount < 0:
            raise UnbalancedEntry(f"negative amount for {code}")
        if amount:
            account = revenue_account(code)
            postings.append(Posting(account, debit_cents=amount) if debit else Posting(account, credit_cents=amount))
    return postings


def _transfer(key: str, kind: EntryKind, debit_account: str, credit_acc: str, amount: Cents) -> JournalEntry:
    return JournalEntry(
        key, kind, (Posting(debit_account, debit_cents=amount), Posting(credit_acc, credit_cents=amount))
    ).validate()


def entry_for_invoice(invoice_number: str, account_ref: str, lines_by_activity: Mapping[str, Cents]) -> JournalEntry:
    """Invoice issued: debit the family's receivable, credit each activity's revenue."""
    revenue = _by_activity(lines_by_activity, debit=False)
    total = sum(p.credit_cents for p in revenue)
    postings = (Posting(receivable_account(account_ref), debit_cents=total), *revenue)
    return JournalEntry(f"invoice:{invoice_number}", EntryKind.INVOICE, postings).validate()


def entry_for_payment(payment_ref: str, account_ref: str, method: PaymentMethod, amount_cents: Cents) -> JournalEntry:
    """Payment received (the whole amount, excess included): debit cash, credit receivable."""
    return _transfer(
        f"payment:{payment_ref}",
        EntryKind.PAYMENT,
        cash_account_for(method),
        receivable_account(account_ref),
        amount_cents,
    )


def entry_for_overpayment_credit(payment_ref: str, account_ref: str, amount_cents: Cents) -> JournalEntry:
    """Excess of a payment kept as the family's credit: debit receivable, credit ``credit:<ref>``."""
    return _transfer(
        f"overpayment:{payment_ref}",
        EntryKind.OVERPAYMENT_CREDIT,
        receivable_account(account_ref),
        credit_account(account_ref),
        amount_cents,
    )


def entry_for_credit_application(invoice_number: str, account_ref: str, amount_cents: Cents) -> JournalEntry:
    """Credit used on a new invoice: debit ``credit:<ref>``, credit receivable."""
    return _transfer(
        f"credit-applied:{invoice_number}",
        EntryKind.CREDIT_APPLICATION,
        credit_account(account_ref),
        receivable_account(account_ref),
        amount_cents,
    )


def entry_for_refund(
    refund_ref: str,
    account_ref: str,
    method: PaymentMethod,
    amount_cents: Cents,
    *,
    from_credit: bool = False,
) -> JournalEntry:
    """Money paid back: debit receivable (or the family's credit), credit cash."""
    source = credit_account(account_ref) if from_credit else receivable_account(account_ref)
    return _transfer(f"refund:{refund_ref}", EntryKind.REFUND, source, cash_account_for(method), amount_cents)


def entry_for_credit_note(
    credit_note_ref: str, account_ref: str, amounts_by_activity: Mapping[str, Cents]
) -> JournalEntry:
    """Credit note (avoir): debit each activity's revenue, credit the family's receivable."""
    revenue = _by_activity(amounts_by_activity, debit=True)
    total = sum(p.debit_cents for p in revenue)
    postings = (*revenue, Posting(receivable_account(account_ref), credit_cents=total))
    return JournalEntry(f"credit-note:{credit_note_ref}", EntryKind.CREDIT_NOTE, postings).validate()


def entry_for_transfer(invoice_number: str, account_ref: str, amount_cents: Cents) -> JournalEntry:
    """Unpaid balance handed to the Trésor Public: debit ``tresor_transfer``, credit receivable."""
    return _transfer(
        f"transfer:{invoice_number}",
        EntryKind.TRANSFER,
        TRESOR_TRANSFER,
        receivable_account(account_ref),
        amount_cents,
    )


def balance(entries: Iterable[JournalEntry], account: str) -> Cents:
    """Debits minus credits on ``account``: receivable > 0 is owed by the family, credit < 0 owed to it."""
    return sum(p.debit_cents - p.credit_cents for e in entries for p in e.postings if p.account == account)


def balances(entries: Iterable[JournalEntry]) -> dict[str, Cents]:
    """Debits minus credits per account, sorted by account; the values always sum to zero."""
    totals: dict[str, Cents] = {}
    for entry in entries:
        for p in entry.postings:
            totals[p.account] = totals.get(p.account, 0) + p.debit_cents - p.credit_cents
    return dict(sorted(totals.items()))
