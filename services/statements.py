"""The yearly statement's reads: what a family account paid each calendar year, and its children."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC

from sqlmodel import Session, col, select

from domain.calendar import PARIS
from domain.payments import PaymentMethod
from domain.statement import PaidLine, Settlement, net_of_refund
from ville.models.billing import Child, InvoiceLine, Payment, PaymentAllocation, PaymentStatus

# money that did not leave the family's pocket in the year is not "paid" for the tax credit
_NOT_PAID = frozenset({PaymentMethod.CREDIT_NOTE})


def _paid_year(payment: Payment) -> int | None:
    settled = payment.settled_at
    if settled is None:
        return None
    aware = settled.replace(tzinfo=UTC) if settled.tzinfo is None else settled
    return aware.astimezone(PARIS).year


def settlements(session: Session, account_id: int) -> dict[int, list[Settlement]]:
    """Each year's settlements of the account: payment shares per invoice, net of refunds, with the lines."""
    rows = session.exec(
        select(PaymentAllocation, Payment)
        .join(Payment, col(Payment.id) == col(PaymentAllocation.payment_id))
        .where(
            Payment.account_id == account_id,
            col(Payment.status).in_([PaymentStatus.succeeded, PaymentStatus.refunded]),
        )
    ).all()
    invoice_ids = {a.invoice_id for a, _ in rows}
    lines: dict[int, list[PaidLine]] = defaultdict(list)
    if invoice_ids:
        for ln in session.exec(select(InvoiceLine).where(col(InvoiceLine.invoice_id).in_(invoice_ids))):
            lines[ln.invoice_id].append(PaidLine(ln.child_ref, ln.activity_code, ln.amount_cents))
    years: dict[int, list[Settlement]] = defaultdict(list)
    for allocation, payment in rows:
        year = _paid_year(payment)
        if year is None or payment.method in _NOT_PAID:
            continue
        amount = net_of_refund(allocation.amount_cents, payment.amount_cents, payment.refunded_cents)
        years[year].append(Settlement(amount, lines[allocation.invoice_id]))
    return years


def children(session: Session, account_id: int | None) -> Sequence[Child]:
    """The account's children, eldest first."""
    return session.exec(select(Child).where(Child.account_id == account_id).order_by(col(Child.birth_date))).all()
