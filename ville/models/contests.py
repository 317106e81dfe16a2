"""Contests (réclamations) of invoice lines: one row per contest, owned by services/contests.py."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from ville.models.common import opt_ts_field, ts_field


class InvoiceContest(SQLModel, table=True):
    """A family's contest of one or more lines of an invoice, and the billing team's decision."""

    __tablename__ = "invoice_contest"
    __table_args__ = (UniqueConstraint("invoice_id", "seq", name="uq_invoice_contest_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, max_length=60)  # `contest-<invoice number>-<seq>`, the workflow id
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    invoice_number: str = Field(index=True, max_length=20)
    account_id: int = Field(foreign_key="family_account.id", index=True)
    seq: int
    reason: str = Field(max_length=40)  # domain.contests.ContestReason
    text: str = Field(max_length=2000)
    lines: dict[str, int] = Field(sa_column=Column(JSON, nullable=False))  # contested cents per activity
    contested_cents: int
    status: str = Field(default="open", index=True, max_length=20)  # domain.contests.ContestStatus
    opened_on: date
    deadline: date
    document_key: str | None = Field(default=None, max_length=200)
    document_type: str | None = Field(default=None, max_length=40)
    reminded: bool = False
    escalated_at: datetime | None = opt_ts_field()
    decided_at: datetime | None = opt_ts_field()
    decided_by: int | None = None  # user id of the billing operator
    answer: str | None = Field(default=None, max_length=2000)
    credited: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    credited_cents: int = 0
    created_at: datetime = ts_field()
