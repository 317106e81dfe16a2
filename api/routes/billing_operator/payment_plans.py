"""Payment plans for the billing team: the requests and running plans, and the decision on a request.

(Meant for `api/routes/billing_operator/payment_plans.py` once `api/routes/billing_operator.py` is a package.)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.audit_log import audit
from api.deps import SessionDep, TemporalDep
from api.errors import error_responses
from api.schemas.payment_plans import InstalmentOut, PlanDecisionIn, PlanDecisionOut, PlanOut, plan_out
from api.security import BillingOperator, Principal, not_found
from api.workflow_updates import Refusals, refused
from contracts.payment_plans import PlanDecisionRequest
from domain.payment_plans import InstalmentStatus, PlanStatus
from services import payment_plans
from workflows.payment_plan_clients import decide_payment_plan

router = APIRouter(tags=["echeanciers"])
CLOSED = "Cette demande d'échéancier a déjà reçu une décision."
REFUSALS = Refusals(closed=CLOSED)


@router.get("/api/billing/payment-plans")
def payment_plan_queue(principal: BillingOperator, session: SessionDep) -> list[PlanOut]:
    """Plans asked for (awaiting a decision, oldest first), then plans running."""
    return [plan_out(p) for p in payment_plans.queue(session)]


async def decide_for_operator(
    session: Session, temporal: Client, principal: Principal, ref: str, body: PlanDecisionIn
) -> PlanDecisionOut:
    """Hand the decision to the plan's workflow, then journal it with the operator's reason."""
    row = payment_plans.by_ref(session, ref)
    if row is None:
        raise not_found()
    if row.decided_at is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, CLOSED)
    req = PlanDecisionRequest(body.kind.value, body.answer, principal.user_id, body.count)
    try:
        result = await decide_payment_plan(temporal, ref, req)
    except (WorkflowUpdateFailedError, RPCError) as err:
        refused(err, REFUSALS)
    audit(session, principal, "payment_plan.decide", ref, body.reason)
    instalments = [
        InstalmentOut(seq=k, due_on=due, amount_cents=amount, status=InstalmentStatus.UPCOMING)
        for k, (due, amount) in enumerate(result.instalments, start=1)
    ]
    return PlanDecisionOut(id=ref, status=PlanStatus(result.status), instalments=instalments)


@router.post("/api/billing/payment-plans/{ref}/decision", responses=error_responses(404, 409, 422))
async def decide_payment_plan_route(
    ref: Annotated[str, Path(max_length=60)],
    body: PlanDecisionIn,
    principal: BillingOperator,
    session: SessionDep,
    temporal: TemporalDep,
) -> PlanDecisionOut:
    """Approve, adjust the number of instalments, or refuse a plan request, with a written answer."""
    return await decide_for_operator(session, temporal, principal, ref, body)
