"""Reads of invoices and payments for the API: a family's own, an operator's search, the billed periods."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, bindparam, case, func
from sqlmodel import Session, col, select

from domain.dunning import InvoiceStatus
from ville.models.billing import FamilyAccount, Invoice, InvoiceLine, Payment

# what a line shows (the API's LineOut has these fields, in this order)
LINE_COLUMNS = ("child_first_name", "activity_code", "label", "quantity", "unit_price_cents", "amount_cents")

# The families' most viewed reads, built once: SQLAlchemy memoizes a statement's cache key on the object, and
# computing it for a statement built per request was a third of these pages' SQL time (bench/pages.py)
INVOICE_BY_NUMBER = select(Invoice).where(Invoice.number == bindparam("number"))
INVOICES_OF_ACCOUNT = (
    select(Invoice).where(Invoice.account_id == bindparam("account_id")).order_by(col(Invoice.id).desc())
)
LINES_OF_INVOICE = (
    select(*(getattr(InvoiceLine, name) for name in LINE_COLUMNS))
    .where(InvoiceLine.invoice_id == bindparam("invoice_id"))
    .order_by(col(InvoiceLine.id))
)


def by_number(session: Session, number: str) -> Invoice | None:
    """The invoice with this number, whoever's it is."""
    invoice: Invoice | None = session.execute(INVOICE_BY_NUMBER, {"number": number}).scalars().first()
    return invoice


def of_account(session: Session, account_id: int | None) -> list[Invoice]:
    """The account's invoices, newest first."""
    return list(session.execute(INVOICES_OF_ACCOUNT, {"account_id": account_id}).scalars())


def lines(session: Session, invoice_id: int | None) -> Sequence[RowMapping]:
    """The invoice's lines (LINE_COLUMNS), in their order."""
    return session.execute(LINES_OF_INVOICE, {"invoice_id": invoice_id}).mappings().all()


def search(
    session: Session,
    period_key: str | None,
    status: InvoiceStatus | None,
    account_ref: str | None,
    limit: int,
    offset: int,
) -> Sequence[Invoice]:
    """Invoices by period, status and account, in number order."""
    q = select(Invoice)
    if period_key:
        q = q.where(Invoice.period_key == period_key)
    if status:
        q = q.where(Invoice.status == status)
    if account_ref:
        q = q.join(FamilyAccount, col(FamilyAccount.id) == Invoice.account_id).where(FamilyAccount.ref == account_ref)
    return session.exec(q.order_by(col(Invoice.number)).limit(limit).offset(offset)).all()


def payments_of_account(session: Session, account_id: int | None) -> Sequence[tuple[Payment, str]]:
    """The account's payments with their invoice's number, newest first."""
    return session.exec(
        select(Payment, Invoice.number)
        .join(Invoice, col(Invoice.id) == Payment.invoice_id)
        .where(Payment.account_id == account_id)
        .order_by(col(Payment.id).desc())
    ).all()


def payment(session: Session, payment_id: int) -> Payment | None:
    """One payment by id."""
    return session.get(Payment, payment_id)


def billed_periods(session: Session, limit: int = 12) -> list[str]:
    """The most recent periods with issued invoices, newest first."""
    rows = session.exec(
        select(Invoice.period_key)
        .group_by(col(Invoice.period_key))
        .order_by(col(Invoice.period_key).desc())
        .limit(limit)
    ).all()
    return list(rows)


def counts_per_period(session: Session, keys: Sequence[str]) -> dict[str, Any]:
    """How many invoices each of these periods has (a period without any is absent)."""
    return dict(
        session.exec(
            select(Invoice.period_key, func.count())
            .where(col(Invoice.period_key).in_(keys))
            .group_by(col(Invoice.period_key))
        ).all()
    )


@dataclass
class InvoiceTotals:
    """Amounts of a period's invoices (cancelled ones left out)."""

    invoices: int = 0
    billed_cents: int = 0
    paid_cents: int = 0
    overdue_cents: int = 0
    overdue: int = 0
    transferred_cents: int = 0
    transferred: int = 0


def period_totals(session: Session, period_key: str) -> InvoiceTotals:
    """One SQL aggregation over the period's invoices: billed (carried-over debt left out), paid, overdue..."""
    own_due = col(Invoice.amount_due_cents) - col(Invoice.previous_unpaid_cents)
    remaining = own_due - col(Invoice.paid_cents)
    overdue = col(Invoice.status) == InvoiceStatus.OVERDUE
    transferred = col(Invoice.status) == InvoiceStatus.TRANSFERRED
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(own_due), 0),
            func.coalesce(func.sum(col(Invoice.paid_cents)), 0),
            func.coalesce(func.sum(case((overdue, remaining), else_=0)), 0),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
            func.coalesce(func.sum(case((transferred, remaining), else_=0)), 0),
            func.coalesce(func.sum(case((transferred, 1), else_=0)), 0),
        ).where(Invoice.period_key == period_key, Invoice.status != InvoiceStatus.CANCELLED)
    ).one()
    return InvoiceTotals(*(int(v) for v in row))
