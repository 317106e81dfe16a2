"""The operators' audit log: every operator action is recorded with who, what, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from sqlmodel import Session, col, select

from api.security import Principal
from ville.models.people import OperatorAuditLog, UserAccount

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


@dataclass(frozen=True)
class JournalEntry:
    """One line of the audit log, with the name of the person who acted (None when the account is gone)."""

    at: datetime
    actor_user_id: int
    actor_name: str | None
    action: str
    target: str
    reason: str


def journal(session: Session, limit: int) -> list[JournalEntry]:
    """The latest operator actions, newest first, each with its actor's name (one query)."""
    rows = session.exec(
        select(OperatorAuditLog, UserAccount.display_name)
        .join(UserAccount, col(UserAccount.id) == col(OperatorAuditLog.actor_user_id), isouter=True)
        .order_by(col(OperatorAuditLog.id).desc())
        .limit(limit)
    ).all()
    return [JournalEntry(r.at, r.actor_user_id, name, r.action, r.target, r.reason) for r, name in rows]
