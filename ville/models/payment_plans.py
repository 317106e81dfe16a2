"""Payment plans (échéanciers): one row per plan, owned by services/payment_plans.py."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from ville.models.common import opt_ts_field, ts_field


class PaymentPlan(SQLModel, table=True):
    """A family's request to pay an invoice in monthly instalments, the billing team's decision, and its course."""

    __tablename__ = "payment_plan"
    __table_args__ = (UniqueConstraint("invoice_id", "seq", name="uq_payment_plan_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, max_length=60)  # `payment-plan-<invoice number>-<seq>`, the workflow id
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    invoice_number: str = Field(index=True, max_length=20)
    account_id: int = Field(foreign_key="family_account.id", index=True)
    seq: int
    asked_count: int
    reason: str = Field(max_length=2000)
    status: str = Field(default="requested", index=True, max_length=20)  # domain.payment_plans.PlanStatus
    requested_on: date
    decided_at: datetime | None = opt_ts_field()
    decided_by: int | None = None  # user id of the billing operator
    answer: str | None = Field(default=None, max_length=2000)
    approved_on: date | None = None
    total_cents: int = 0  # what remained on the invoice at the approval
    # [{"seq", "due_on" (ISO), "amount_cents", "status"}], statuses updated by the workflow after each check
    instalments: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    misses: int = 0
    ended_at: datetime | None = opt_ts_field()
    created_at: datetime = ts_field()
