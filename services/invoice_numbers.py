"""Invoice numbers: a gapless sequence per year, taken in the transaction that issues the invoices."""

from __future__ import annotations

import secrets

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain.numbering import assign_numbers
from ville.models.billing import Invoice, InvoiceCounter


def take_numbers(s: Session, year: int, count: int) -> list[str]:
    """The next `count` numbers of `year`; the counter row stays locked until `s` commits or rolls back."""
    # The counter moves in the same transaction as the invoices: a rollback gives the numbers back, so the
    # sequence stays gapless; the row update serialises concurrent batches. One upsert: on PostgreSQL two first
    # batches of a year (UPDATE found no row, then both INSERT) raced into a unique violation (found by
    # tests/chaos on PostgreSQL); the conflict clause waits for the other and adds.
    upsert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    updated = s.execute(
        upsert(InvoiceCounter)
        .values(year=year, next_seq=1 + count)
        .on_conflict_do_update(index_elements=["year"], set_={"next_seq": InvoiceCounter.next_seq + count})
        .returning(InvoiceCounter.next_seq)
    ).scalar_one()
    return assign_numbers(year, updated - count, count)


def provisional_number() -> str:
    """An invoice's number until `number_invoices`, never committed: random, so that no other transaction's
    provisional number (another period's cycle, a retried batch) makes an insert wait on the unique index."""
    return "~" + secrets.token_hex(9)


def number_invoices(s: Session, ids: list[int], numbers: list[str]) -> None:
    """Replace the provisional numbers of the invoices `ids` by `numbers` (same order)."""
    invoice = Invoice.__table__
    s.execute(
        invoice.update().where(invoice.c.id == bindparam("iid")).values(number=bindparam("num")),
        [{"iid": iid, "num": number} for iid, number in zip(ids, numbers, strict=True)],
    )
