"""One writer per family account's money: the row every money change locks first, the guarded paid amount, keys.

Every change of money on an invoice (counter payment, card/SEPA outcome, credit note, refund, credit applied by
the cycle) runs in one transaction whose FIRST statement is a conditional UPDATE of the family account's
`money_version`. That UPDATE takes the row lock on PostgreSQL and the database write lock on SQLite (as the
first statement of a deferred transaction it waits on the busy timeout, never fails on a stale snapshot), so
the reads that follow see every earlier change and no other change can slip in before the commit: the same
SQL on both databases, no dialect branch. The account, not the invoice, is the unit because one payment settles
the account's open invoices oldest first and the family's credit is one ledger account.

As a second line, the paid amount moves only through `add_paid`: a compare-and-set UPDATE whose WHERE clause
keeps 0 <= paid <= own due; a change that would break it touches no row and raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from domain.dunning import status_after_payment
from domain.money_guard import allocation_fits, check_same_operation
from ville.models.billing import FamilyAccount, IdempotencyKey, Invoice, Payment

T = TypeVar("T")


class MoneyGuardViolation(RuntimeError):
    """A change would allocate more than the invoice's own due (or less than nothing): never written."""


def lock_account(s: Session, account_id: int | ColumnElement[Any]) -> int:
    """Take the account's money lock (first statement of the transaction); returns the account id."""
    locked = s.execute(
        update(FamilyAccount)
        .where(FamilyAccount.id == account_id)
        .values(money_version=FamilyAccount.money_version + 1)
        .returning(FamilyAccount.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if locked is None:
        raise LookupError("no such account")
    return int(locked)


def lock_account_of_invoice(s: Session, number: str) -> int:
    """The money lock of the account owning invoice `number` (LookupError when it does not exist)."""
    return lock_account(s, select(Invoice.account_id).where(Invoice.number == number).scalar_subquery())


def lock_account_of_payment(s: Session, *, key: str | None = None, payment_id: int | None = None) -> int:
    """The money lock of the account a payment belongs to."""
    q = select(Payment.account_id).where(Payment.key == key if key is not None else Payment.id == payment_id)
    return lock_account(s, q.scalar_subquery())


def lock_accounts_range(s: Session, lo: int, hi: int) -> None:
    """The money locks of accounts lo < id <= hi (a billing batch applying credit), in one statement."""
    s.execute(
        update(FamilyAccount)
        .where(FamilyAccount.id > lo, FamilyAccount.id <= hi)
        .values(money_version=FamilyAccount.money_version + 1)
        .execution_options(synchronize_session=False)
    )


_OWN_DUE = case(
    (
        Invoice.amount_due_cents > Invoice.previous_unpaid_cents,
        Invoice.amount_due_cents - Invoice.previous_unpaid_cents,
    ),
    else_=0,
)


def add_paid(s: Session, invoice: Invoice, delta_cents: int) -> None:
    """Move an invoice's paid amount by `delta` and its status with it, only within 0..own due (checked in SQL)."""
    if not allocation_fits(invoice.own_due_cents, invoice.paid_cents, delta_cents):
        raise MoneyGuardViolation(f"invoice {invoice.id}: {invoice.paid_cents} + {delta_cents} out of bounds")
    new_paid = invoice.paid_cents + delta_cents
    new_status = status_after_payment(invoice.own_due_cents, new_paid)
    changed = s.execute(
        update(Invoice)
        .where(
            Invoice.id == invoice.id,
            Invoice.paid_cents == invoice.paid_cents,  # compare-and-set: a stale read touches no row
            Invoice.paid_cents + delta_cents >= 0,
            Invoice.paid_cents + delta_cents <= _OWN_DUE,
        )
        .values(paid_cents=Invoice.paid_cents + delta_cents, status=new_status)
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:
        raise MoneyGuardViolation(f"invoice {invoice.id}: paid amount changed underneath or out of bounds")
    set_committed_value(invoice, "paid_cents", new_paid)
    set_committed_value(invoice, "status", new_status)


def claim_key(s: Session, key: str, fingerprint: str) -> bool:
    """Bind an idempotency key to its content: True the first time, False on a replay, IdempotencyConflict else."""
    stored = s.get(IdempotencyKey, key)
    if stored is not None:
        check_same_operation(stored.fingerprint, fingerprint)
        return False
    s.add(IdempotencyKey(key=key, fingerprint=fingerprint))
    s.flush()
    return True


def once_per_key(change: Callable[[], T]) -> T:
    """Run a money change; if another account's transaction claimed the same key meanwhile, run it once more
    (it then sees the key: a replay or a conflict)."""
    try:
        return change()
    except IntegrityError:
        return change()
