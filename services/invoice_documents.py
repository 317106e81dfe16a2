"""What is printed or sent of issued invoices: documents (with their lines) and the lighter delivery rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from documents.invoice import DocLine, InvoiceDocument
from domain.periods import BillingPeriod
from ville.models.billing import FamilyAccount, Invoice, InvoiceLine, Payer

IN_CHUNK = 500  # bounded IN lists, also on PostgreSQL


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the e-mail of an issued invoice says, and to whom it goes (no lines, no address)."""

    number: str
    account_id: int
    channel: str
    period_label: str
    amount_due_cents: int
    due_date: date


def payment_url(base_url: str, number: str) -> str:
    """Where a family pays an invoice."""
    return f"{base_url}/famille/factures/{number}"


def batch_deliveries(s: Session, period_key: str, lo: int, hi: int) -> list[Delivery]:
    """The batch's invoices as the e-mails need them, in number order: one query, plain columns."""
    rows = s.execute(
        select(
            Invoice.number,
            Invoice.account_id,
            Invoice.delivery_channel,
            Invoice.period_start,
            Invoice.period_end,
            Invoice.amount_due_cents,
            Invoice.due_date,
        )
        .where(*_in_batch(period_key, lo, hi))
        .order_by(Invoice.number)
    )
    labels: dict[tuple[date, date], str] = {}  # one period per batch: its label is computed once
    out = []
    for number, acc, channel, start, end, due_cents, due in rows:
        label = labels.get((start, end)) or labels.setdefault((start, end), BillingPeriod(start, end).label_fr)
        out.append(Delivery(number, acc, _channel(channel), label, due_cents, due))
    return out


def batch_documents(
    s: Session, period_key: str, lo: int, hi: int, base_url: str, channel: str | None = None
) -> list[tuple[str, str, InvoiceDocument]]:
    """(number, delivery channel, document) of the batch's invoices (only `channel`'s if given), in number order."""
    where = _in_batch(period_key, lo, hi)
    if channel is not None:
        where.append(Invoice.delivery_channel == channel)
    rows = s.execute(_document_rows().where(*where).order_by(Invoice.number)).all()
    lines = _lines_by_invoice(s, [r[0] for r in rows])
    return [(r[1], _channel(r[2]), _document(r, lines, base_url)) for r in rows]


def invoice_document(s: Session, number: str, base_url: str) -> InvoiceDocument | None:
    """The document of one invoice (rendered on demand from its immutable data)."""
    row = s.execute(_document_rows().where(Invoice.number == number)).first()
    if row is None:
        return None
    return _document(row, _lines_by_invoice(s, [row[0]]), base_url)


def _in_batch(period_key: str, lo: int, hi: int) -> list[Any]:
    return [Invoice.period_key == period_key, Invoice.account_id > lo, Invoice.account_id <= hi]


def _channel(value: Any) -> str:
    return str(getattr(value, "value", value))


def _document_rows() -> Any:
    """An invoice's printed columns with the account's ref and the payer's name and address (one query)."""
    return (
        select(
            Invoice.id,
            Invoice.number,
            Invoice.delivery_channel,
            Invoice.period_start,
            Invoice.period_end,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.tranche,
            Invoice.lines_total_cents,
            Invoice.previous_unpaid_cents,
            Invoice.credit_applied_cents,
            Invoice.amount_due_cents,
            FamilyAccount.ref,
            Payer.first_name,
            Payer.last_name,
            Payer.address,
        )
        .join(FamilyAccount, FamilyAccount.id == Invoice.account_id)
        .join(Payer, Payer.account_id == Invoice.account_id)
    )


def _lines_by_invoice(s: Session, ids: Sequence[int]) -> dict[int, list[DocLine]]:
    out: dict[int, list[DocLine]] = defaultdict(list)
    for i in range(0, len(ids), IN_CHUNK):
        for iid, *fields in s.execute(
            select(
                InvoiceLine.invoice_id,
                InvoiceLine.child_first_name,
                InvoiceLine.label,
                InvoiceLine.quantity,
                InvoiceLine.unit_price_cents,
                InvoiceLine.amount_cents,
            )
            .where(InvoiceLine.invoice_id.in_(ids[i : i + IN_CHUNK]))
            .order_by(InvoiceLine.id)
        ):
            out[iid].append(DocLine(*fields))
    return out


def _document(row: Any, lines: dict[int, list[DocLine]], base_url: str) -> InvoiceDocument:
    (iid, number, _, start, end, issued, due, tranche, total, unpaid, credit, due_cents, ref, first, last, address) = (
        row
    )
    return InvoiceDocument(
        number=number,
        account_ref=ref,
        period_label=BillingPeriod(start, end).label_fr,
        issue_date=issued,
        due_date=due,
        payer_name=f"{first} {last}",
        payer_address=address,
        tranche=tranche,
        lines=tuple(lines.get(iid, ())),
        lines_total_cents=total,
        previous_unpaid_cents=unpaid,
        credit_applied_cents=credit,
        amount_due_cents=due_cents,
        payment_url=payment_url(base_url, number),
    )
