"""The operators' audit log: every operator action is recorded with who, what, when and why."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from sqlmodel import Session

from api.security import Principal
from ville.models.people import OperatorAuditLog

MOTIF_MIN = 3


class OperatorReason(BaseModel):
    """Why the operator acts: required, it goes to the audit log."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=MOTIF_MIN, max_length=500)] = Field(
        examples=["Demande de la direction des familles"]
    )


def audit(session: Session, principal: Principal, action: str, target: str, reason: str = "") -> None:
    """Record an operator action (who, what, when, why)."""
    session.add(OperatorAuditLog(actor_user_id=principal.user_id, action=action, target=target, reason=reason))
    session.commit()
