"""Request and response models of contests (réclamations): the family's view, the billing team's queue."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints

from domain.contests import ContestReason, ContestStatus, DecisionKind
from domain.money_guard import MAX_MONEY_BODY_CENTS


class ContestOut(BaseModel):
    """A contest as its family and the billing team see it."""

    id: str
    invoice_number: str
    reason: ContestReason
    reason_label: str
    text: str
    lines: dict[str, int]
    contested_cents: int
    status: ContestStatus
    opened_on: date
    deadline: date
    has_document: bool
    answer: str | None
    credited_cents: int


class QueueItem(ContestOut):
    """An open contest in the billing team's queue."""

    age_days: int
    overdue: bool


def _json_int(value: object) -> object:
    # an amount is a JSON integer: a string or a boolean is refused, never coerced
    if isinstance(value, str | bool):
        raise ValueError("un montant en centimes est un nombre entier JSON")
    return value


class DecisionIn(BaseModel):
    """The billing operator's decision: a written answer to the family, a reason for the journal."""

    kind: DecisionKind
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=2000)]
    amounts_by_activity: dict[
        Annotated[str, StringConstraints(max_length=40)],
        Annotated[int, Field(ge=0, le=MAX_MONEY_BODY_CENTS), BeforeValidator(_json_int)],
    ] = Field(default_factory=dict, max_length=20, description="montants accordés (acceptation partielle)")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)] = Field(
        description="motif, pour le journal des opérateurs"
    )


class DecisionOut(BaseModel):
    """What the decision did."""

    id: str
    status: ContestStatus
    credited_cents: int
