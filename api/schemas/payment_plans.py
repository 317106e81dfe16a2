"""Payment plans (échéanciers): what families send and read, what the billing team decides."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints

from domain.payment_plans import (
    MAX_INSTALMENTS,
    MIN_INSTALMENTS,
    TEXT_MAX,
    TEXT_MIN,
    DecisionKind,
    InstalmentStatus,
    PlanStatus,
)
from ville.models.payment_plans import PaymentPlan


def _json_int(value: object) -> object:
    # a count is a JSON integer: a string or a boolean is refused, never coerced
    if isinstance(value, str | bool):
        raise ValueError("un nombre entier JSON est attendu")
    return value


Count = Annotated[int, Field(ge=MIN_INSTALMENTS, le=MAX_INSTALMENTS), BeforeValidator(_json_int)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=TEXT_MIN, max_length=TEXT_MAX)]


class PlanRequestIn(BaseModel):
    """A family asks to pay an invoice in monthly instalments."""

    count: Count = Field(description="nombre d'échéances mensuelles, de 2 à 6")
    reason: Text = Field(description="motif de la demande, 10 à 2000 caractères")


class InstalmentOut(BaseModel):
    """One instalment of a plan."""

    seq: int
    due_on: date
    amount_cents: int
    status: InstalmentStatus


class PlanOut(BaseModel):
    """A plan as its family and the billing team see it."""

    id: str
    invoice_number: str
    asked_count: int
    reason: str
    status: PlanStatus
    requested_on: date
    answer: str | None
    approved_on: date | None
    total_cents: int
    misses: int
    instalments: list[InstalmentOut]


class PlanDecisionIn(BaseModel):
    """The billing operator's decision: a written answer to the family, a reason for the journal."""

    kind: DecisionKind
    count: Count | None = Field(default=None, description="nombre d'échéances (ajustement)")
    answer: Text
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)] = Field(
        description="motif, pour le journal des opérateurs"
    )


class PlanDecisionOut(BaseModel):
    """What the decision did."""

    id: str
    status: PlanStatus
    instalments: list[InstalmentOut]


def plan_out(row: PaymentPlan) -> PlanOut:
    """The public view of a plan row."""
    return PlanOut(
        id=row.ref,
        invoice_number=row.invoice_number,
        asked_count=row.asked_count,
        reason=row.reason,
        status=PlanStatus(row.status),
        requested_on=row.requested_on,
        answer=row.answer,
        approved_on=row.approved_on,
        total_cents=row.total_cents,
        misses=row.misses,
        instalments=[InstalmentOut.model_validate(i) for i in row.instalments],
    )
