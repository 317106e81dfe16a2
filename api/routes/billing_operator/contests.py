"""Contests (réclamations) for billing operators: the queue, and the decision on one contest."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import FailureError
from temporalio.service import RPCError

from api.audit_log import audit
from api.deps import SessionDep, TemporalDep
from api.errors import error_responses, field_error, temporal_refusal
from api.routes.family.contests import contest_out, today_paris
from api.schemas.contests import DecisionIn, DecisionOut, QueueItem
from api.security import BillingOperator, Principal, not_found
from contracts.contests import ContestDecisionRequest
from domain.contests import ContestStatus, age_in_days, escalation_date
from services import contests
from ville.models.contests import InvoiceContest
from workflows.contest_clients import decide_contest

router = APIRouter(prefix="/api/billing/contests", tags=["billing"])
CLOSED = "Cette réclamation est déjà close."


def queue_item(row: InvoiceContest, today: date) -> QueueItem:
    """A queue line: the contest with its age and whether its deadline has passed."""
    base = contest_out(row).model_dump()
    return QueueItem(
        **base, age_days=age_in_days(row.opened_on, today), overdue=today >= escalation_date(row.opened_on)
    )


@router.get("")
def contest_queue(principal: BillingOperator, session: SessionDep) -> list[QueueItem]:
    """Open contests, nearest deadline first, with their age in days and whether they are overdue."""
    today = today_paris()
    return [queue_item(c, today) for c in contests.open_queue(session)]


async def decide_for_operator(
    session: Session, temporal: Client, principal: Principal, ref: str, body: DecisionIn
) -> DecisionOut:
    """Hand the decision to the contest's workflow, then journal it with the operator's reason."""
    row = contests.by_ref(session, ref)
    if row is None:
        raise not_found()
    if row.decided_at is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, CLOSED)
    req = ContestDecisionRequest(body.kind.value, body.answer, principal.user_id, dict(body.amounts_by_activity))
    try:
        result = await decide_contest(temporal, ref, req)
    except WorkflowUpdateFailedError as err:
        message = err.cause.message if isinstance(err.cause, FailureError) else "Décision impossible."
        raise field_error("body", message) from None
    except RPCError as err:
        raise temporal_refusal(err, CLOSED) from err
    audit(session, principal, "contest.decide", ref, body.reason)
    return DecisionOut(id=ref, status=ContestStatus(result.status), credited_cents=result.credited_cents)


@router.post("/{ref}/decision", responses=error_responses(404, 409, 422))
async def decide(
    ref: Annotated[str, Path(max_length=60)],
    body: DecisionIn,
    principal: BillingOperator,
    session: SessionDep,
    temporal: TemporalDep,
) -> DecisionOut:
    """Accept (in full or in part) or refuse a contest; an accepted amount becomes a credit note."""
    return await decide_for_operator(session, temporal, principal, ref, body)
