"""The operators' journal (audit log), for billing operators."""

from __future__ import annotations

from datetime import UTC

from fastapi import APIRouter

from api.deps import Limit, SessionDep
from api.security import BillingOperator
from services import operator_journal

router = APIRouter(prefix="/api/billing", tags=["billing"])


@router.get("/journal")
def audit_log(principal: BillingOperator, session: SessionDep, limit: Limit = 100) -> list[dict[str, str]]:
    """The operators' audit log, newest first."""
    return [
        {
            "at": r.at.astimezone(UTC).isoformat(),
            "actor": str(r.actor_user_id),
            "action": r.action,
            "target": r.target,
            "reason": r.reason,
        }
        for r in operator_journal.latest(session, limit)
    ]
