"""The `payment_plan` table: the only code that reads and writes it (API, activities, dunning and metrics alike)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, func
from sqlmodel import Session, col, select

from domain.dunning import PAYABLE_STATUSES
from domain.payment_plans import (
    HOLDING_STATUSES,
    Instalment,
    InstalmentStatus,
    PlanStatus,
    check_request,
)
from ville.ids import payment_plan_id
from ville.models.billing import Invoice
from ville.models.payment_plans import PaymentPlan

_HOLDING = sorted(s.value for s in HOLDING_STATUSES)


def new_request(session: Session, invoice: Invoice, count: int, reason: str, today: date) -> PaymentPlan:
    """Record a family's request (status requested) with the next sequence of its invoice; PlanRefused when a
    rule of domain.payment_plans fails."""
    assert invoice.id is not None
    plans = list(session.exec(select(PaymentPlan).where(PaymentPlan.invoice_id == invoice.id)).all())
    checked_count, text = check_request(
        payable=invoice.status in PAYABLE_STATUSES,
        remaining_cents=invoice.remaining_cents,
        plan_in_progress=any(p.status in _HOLDING for p in plans),
        defaulted_before=any(p.status == PlanStatus.DEFAULTED for p in plans),
        count=count,
        reason=reason,
    )
    seq = max((p.seq for p in plans), default=0) + 1
    row = PaymentPlan(
        ref=payment_plan_id(invoice.number, seq),
        invoice_id=invoice.id,
        invoice_number=invoice.number,
        account_id=invoice.account_id,
        seq=seq,
        asked_count=checked_count,
        reason=text,
        status=PlanStatus.REQUESTED.value,
        requested_on=today,
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def withdraw(session: Session, ref: str) -> None:
    """Delete a request whose workflow could not be started (nothing else refers to it yet)."""
    row = by_ref(session, ref)
    if row is not None and row.decided_at is None:
        session.delete(row)
        session.commit()


def by_ref(session: Session, ref: str) -> PaymentPlan | None:
    """One plan by its reference."""
    return session.exec(select(PaymentPlan).where(PaymentPlan.ref == ref)).first()


# the invoice page asks this on every view: built once (SQLAlchemy memoizes the cache key on the statement object)
_OF_INVOICE = (
    select(PaymentPlan)
    .where(PaymentPlan.account_id == bindparam("account_id"))
    .where(PaymentPlan.invoice_number == bindparam("invoice_number"))
    .order_by(col(PaymentPlan.id).desc())
)


def of_account(session: Session, account_id: int, invoice_number: str | None = None) -> list[PaymentPlan]:
    """A family's plans, newest first (of one invoice when given)."""
    if invoice_number is not None:
        params = {"account_id": account_id, "invoice_number": invoice_number}
        return list(session.execute(_OF_INVOICE, params).scalars())
    q = select(PaymentPlan).where(PaymentPlan.account_id == account_id)
    return list(session.exec(q.order_by(col(PaymentPlan.id).desc())).all())


def queue(session: Session) -> list[PaymentPlan]:
    """Plans asked for or running: requests awaiting a decision first, oldest first."""
    rows = session.exec(
        select(PaymentPlan).where(col(PaymentPlan.status).in_(_HOLDING)).order_by(col(PaymentPlan.id))
    ).all()
    return sorted(rows, key=lambda p: p.status != PlanStatus.REQUESTED)


def holding(session: Any, invoice_ids: Iterable[int]) -> set[int]:
    """Invoices (ids) a plan asked for or kept holds back from reminders and from the transfer."""
    ids = list(invoice_ids)
    if not ids:
        return set()
    rows = session.execute(
        select(PaymentPlan.invoice_id).where(
            col(PaymentPlan.invoice_id).in_(ids), col(PaymentPlan.status).in_(_HOLDING)
        )
    ).scalars()
    return set(rows)


def holding_invoice_ids() -> Select[tuple[int]]:
    """The ids of the invoices plans hold, as a subquery (the billing cycle's SEPA debits skip them)."""
    return select(PaymentPlan.invoice_id).where(col(PaymentPlan.status).in_(_HOLDING))  # type: ignore[return-value]


def instalment_rows(instalments: Sequence[Instalment], statuses: Sequence[InstalmentStatus]) -> list[dict[str, Any]]:
    """The JSON kept on the row for the family's page."""
    return [
        {"seq": i.seq, "due_on": i.due_on.isoformat(), "amount_cents": i.amount_cents, "status": s.value}
        for i, s in zip(instalments, statuses, strict=True)
    ]


def record_decision(
    session: Session,
    ref: str,
    status: PlanStatus,
    answer: str,
    operator_user_id: int | None,
    decided_on: date,
    instalments: Sequence[Instalment],
) -> bool:
    """Record the decision once (the schedule when approved); False when it was already recorded (a retry)."""
    row = by_ref(session, ref)
    if row is None:
        raise LookupError(ref)
    if row.decided_at is not None:
        return False
    row.status = status.value
    row.answer = answer
    row.decided_by = operator_user_id
    row.decided_at = datetime.now(UTC)
    if status is PlanStatus.APPROVED:
        row.approved_on = decided_on
        row.total_cents = sum(i.amount_cents for i in instalments)
        row.instalments = instalment_rows(instalments, [InstalmentStatus.UPCOMING] * len(instalments))
    else:
        row.ended_at = row.decided_at
    session.add(row)
    session.commit()
    return True


def record_progress(
    session: Session, ref: str, status: PlanStatus, statuses: Sequence[InstalmentStatus], misses: int
) -> None:
    """The instalments' statuses after a check, and the plan's status (ended once completed or defaulted)."""
    row = by_ref(session, ref)
    if row is None:
        raise LookupError(ref)
    row.instalments = [{**i, "status": s.value} for i, s in zip(row.instalments, statuses, strict=True)]
    row.misses = misses
    if row.status != status.value and status not in HOLDING_STATUSES:
        row.ended_at = datetime.now(UTC)
    row.status = status.value
    session.add(row)
    session.commit()


def counts(session: Session) -> dict[str, int]:
    """Plans per status (metrics)."""
    rows = session.exec(select(PaymentPlan.status, func.count()).group_by(col(PaymentPlan.status))).all()
    return {status: int(n) for status, n in rows}


def invoice_by_number(session: Session, number: str) -> Invoice | None:
    """The plan's invoice."""
    return session.exec(select(Invoice).where(Invoice.number == number)).first()
