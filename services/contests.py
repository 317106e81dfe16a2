"""The `invoice_contest` table: the only code that reads and writes it (API, activities and dunning alike)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from domain.contests import (
    OPEN_STATUSES,
    ContestReason,
    ContestRefused,
    ContestStatus,
    check_text,
    contested_lines,
    review_deadline,
)
from domain.dunning import PAYABLE_STATUSES
from ville.ids import contest_id
from ville.models.billing import Invoice, InvoiceLine
from ville.models.contests import InvoiceContest

_OPEN = sorted(s.value for s in OPEN_STATUSES)
NOT_CONTESTABLE = "Cette facture ne peut plus être contestée en ligne (réglée, annulée ou transmise au Trésor Public)."


@dataclass(frozen=True)
class Document:
    """A document the family attached: its key (drawn by the server) and its type (found in its bytes)."""

    key: str
    content_type: str


def line_amounts(session: Session, invoice: Invoice) -> dict[str, int]:
    """The invoice's amount per activity code (lines of several children summed)."""
    rows = session.exec(
        select(InvoiceLine.activity_code, func.sum(InvoiceLine.amount_cents))
        .where(InvoiceLine.invoice_id == invoice.id)
        .group_by(InvoiceLine.activity_code)
    ).all()
    return {code: int(total) for code, total in rows}


def open_contests_of_invoice(session: Session, invoice_id: int) -> list[InvoiceContest]:
    """Contests of an invoice still awaiting a decision."""
    return list(
        session.exec(
            select(InvoiceContest).where(InvoiceContest.invoice_id == invoice_id, col(InvoiceContest.status).in_(_OPEN))
        ).all()
    )


def new_contest(
    session: Session,
    invoice: Invoice,
    codes: Iterable[str],
    reason: ContestReason,
    text: str,
    document: Document | None,
    today: date,
) -> InvoiceContest:
    """Record a contest (status open) with the next sequence of its invoice; ContestRefused when a rule fails."""
    assert invoice.id is not None
    if invoice.status not in PAYABLE_STATUSES:
        raise ContestRefused("invoice", NOT_CONTESTABLE)
    body = check_text("text", text, "Explication")
    busy = {code for c in open_contests_of_invoice(session, invoice.id) for code in c.lines}
    amounts = contested_lines(line_amounts(session, invoice), codes, busy)
    seq = (
        session.exec(select(func.max(InvoiceContest.seq)).where(InvoiceContest.invoice_id == invoice.id)).one() or 0
    ) + 1
    row = InvoiceContest(
        ref=contest_id(invoice.number, seq),
        invoice_id=invoice.id,
        invoice_number=invoice.number,
        account_id=invoice.account_id,
        seq=seq,
        reason=reason.value,
        text=body,
        lines=amounts,
        contested_cents=sum(amounts.values()),
        status=ContestStatus.OPEN.value,
        opened_on=today,
        deadline=review_deadline(today),
        document_key=document.key if document else None,
        document_type=document.content_type if document else None,
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def withdraw(session: Session, ref: str) -> None:
    """Delete a contest whose workflow could not be started (nothing else refers to it yet)."""
    row = by_ref(session, ref)
    if row is not None and row.decided_at is None:
        session.delete(row)
        session.commit()


def by_ref(session: Session, ref: str) -> InvoiceContest | None:
    """One contest by its reference."""
    return session.exec(select(InvoiceContest).where(InvoiceContest.ref == ref)).first()


# the invoice page asks this on every view: built once (SQLAlchemy memoizes the cache key on the statement object)
_OF_INVOICE = (
    select(InvoiceContest)
    .where(InvoiceContest.account_id == bindparam("account_id"))
    .where(InvoiceContest.invoice_number == bindparam("invoice_number"))
    .order_by(col(InvoiceContest.id).desc())
)


def of_account(session: Session, account_id: int, invoice_number: str | None = None) -> list[InvoiceContest]:
    """A family's contests, newest first (of one invoice when given)."""
    if invoice_number is not None:
        params = {"account_id": account_id, "invoice_number": invoice_number}
        return list(session.execute(_OF_INVOICE, params).scalars())
    q = select(InvoiceContest).where(InvoiceContest.account_id == account_id)
    return list(session.exec(q.order_by(col(InvoiceContest.id).desc())).all())


def open_queue(session: Session) -> list[InvoiceContest]:
    """Every contest awaiting a decision, the nearest deadline first."""
    q = select(InvoiceContest).where(col(InvoiceContest.status).in_(_OPEN))
    return list(session.exec(q.order_by(col(InvoiceContest.deadline), col(InvoiceContest.id))).all())


def held_by_invoice(session: Session, invoice_ids: Iterable[int]) -> dict[int, int]:
    """Cents open contests hold back from dunning, per invoice id (absent: nothing held)."""
    ids = list(invoice_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(InvoiceContest.invoice_id, func.sum(InvoiceContest.contested_cents))
        .where(col(InvoiceContest.invoice_id).in_(ids), col(InvoiceContest.status).in_(_OPEN))
        .group_by(col(InvoiceContest.invoice_id))
    ).all()
    return {invoice_id: int(total) for invoice_id, total in rows}


def mark(session: Session, ref: str, status: ContestStatus, reminded: bool = False) -> None:
    """Record the reminder or the escalation of an undecided contest (a decided one is left as it is)."""
    row = by_ref(session, ref)
    if row is None or row.decided_at is not None:
        return
    if reminded:
        row.reminded = True
    if status is ContestStatus.ESCALATED and row.escalated_at is None:
        row.escalated_at = datetime.now(UTC)
    row.status = status.value
    session.add(row)
    session.commit()


def record_decision(
    session: Session, ref: str, status: ContestStatus, credited: dict[str, int], answer: str, operator_user_id: int
) -> bool:
    """Record the decision once; False when it was already recorded (a retried activity)."""
    row = by_ref(session, ref)
    if row is None:
        raise LookupError(ref)
    if row.decided_at is not None:
        return False
    row.status = status.value
    row.credited = dict(credited)
    row.credited_cents = sum(credited.values())
    row.answer = answer
    row.decided_by = operator_user_id
    row.decided_at = datetime.now(UTC)
    session.add(row)
    session.commit()
    return True


def open_ages(session: Session, today: date) -> list[int]:
    """Age in days of every open contest (metrics)."""
    opened = session.exec(select(InvoiceContest).where(col(InvoiceContest.status).in_(_OPEN))).all()
    return [max(0, (today - c.opened_on).days) for c in opened]
