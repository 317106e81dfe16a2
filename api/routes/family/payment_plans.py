"""A family asks to pay one of its invoices in instalments, and reads its plans."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses, field_error, temporal_refusal
from api.routes.family.invoices import own_invoice
from api.schemas.payment_plans import PlanOut, PlanRequestIn, plan_out
from api.security import FamilyUser, Principal
from contracts.payment_plans import PaymentPlanInput
from domain.calendar import PARIS
from domain.payment_plans import PlanRefused
from services import payment_plans
from ville.models.payment_plans import PaymentPlan
from workflows.payment_plan_clients import start_payment_plan

router = APIRouter(tags=["echeanciers"])
UNAVAILABLE = "Demande impossible pour le moment, réessayez dans quelques minutes."


def today_paris() -> date:
    """The City's today (plan dates are Paris days)."""
    return datetime.now(PARIS).date()


async def ask_for_family(
    session: Session, temporal: Client, task_queue: str, principal: Principal, number: str, body: PlanRequestIn
) -> PaymentPlan:
    """Record the request (404 for another family's invoice), then start its workflow."""
    invoice = own_invoice(session, principal, number)
    row = payment_plans.new_request(session, invoice, body.count, body.reason, today_paris())
    inp = PaymentPlanInput(row.ref, row.invoice_number, row.account_id, row.asked_count, row.requested_on)
    try:
        await start_payment_plan(temporal, task_queue, inp)
    except RPCError as err:
        payment_plans.withdraw(session, row.ref)  # nothing waits for it: the family may try again
        raise temporal_refusal(err, UNAVAILABLE) from err
    return row


@router.post("/api/family/invoices/{number}/payment-plan", status_code=201, responses=error_responses(404, 422))
async def ask_payment_plan(
    number: str,
    body: PlanRequestIn,
    principal: FamilyUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> PlanOut:
    """Ask to pay one's own invoice in 2 to 6 monthly instalments, with a reason."""
    try:
        row = await ask_for_family(session, temporal, settings.task_queue, principal, number, body)
    except PlanRefused as err:
        raise field_error(f"body.{err.field}", err.message_fr) from None
    return plan_out(row)


@router.get("/api/family/payment-plans")
def my_payment_plans(principal: FamilyUser, session: SessionDep) -> list[PlanOut]:
    """The family's payment plans with their instalments, newest first."""
    assert principal.family_account_id is not None
    return [plan_out(p) for p in payment_plans.of_account(session, principal.family_account_id)]
