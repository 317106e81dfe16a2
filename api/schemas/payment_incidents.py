"""Request and response models of the payment incidents list (payment workflows in trouble)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.audit_log import OperatorReason


class PaymentIncident(BaseModel):
    """One payment workflow run in trouble and what the operator can do about it."""

    invoice_number: str
    workflow_id: str
    run_id: str
    state: str = Field(examples=["bloqué", "En échec"])
    since: datetime | None
    detail: str = Field(examples=["retrieve_intent : tentative 7"])
    action: str = Field(examples=["arret", "classement"])


class IncidentAction(OperatorReason):
    """The run acted on (a later run of the same invoice is not touched) and why."""

    run_id: str = Field(min_length=1, max_length=64)
