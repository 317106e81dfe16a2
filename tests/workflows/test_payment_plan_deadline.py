"""A plan request left without an answer is granted as asked at the service deadline; a late decision is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from contracts.payment_plans import PlanDecisionRequest
from domain.calendar import PARIS
from domain.dunning import InvoiceStatus
from domain.payment_plans import SILENCE_ANSWER, PlanStatus, decision_deadline
from tests.workflows.conftest import BillingWorld, eventually, running_worker
from tests.workflows.payment_plan_steps import (
    ANSWER,
    CRECHE_AND_CANTINE,
    SEPT,
    _issue,
    _keys,
    _operator,
    _plan,
    ask_plan,
)
from workflows.payment_plan_clients import decide_payment_plan, payment_plan_state
from workflows.payment_plans import PaymentPlanWorkflow


async def test_an_unanswered_request_is_granted_at_the_deadline(
    billing_world: BillingWorld, billing_env: WorkflowEnvironment
) -> None:
    """No decision within 15 business days: the plan is approved as asked, the family told, the invoice held."""
    world, client = billing_world, billing_env.client
    family = world.add_family("Silence", CRECHE_AND_CANTINE, SEPT)
    operator_id = _operator(world)
    async with running_worker(client, world):
        await _issue(client, world, "2026-09", "2026-11-02")
        invoice = world.invoice_of(family, "2026-09")
        ref = await ask_plan(billing_env, world, family, "2026-09", 4)
        await eventually(lambda: bool(_keys(world, "payment-plan-to-review:")))
        asked_on = (await billing_env.get_current_time()).astimezone(PARIS).date()
        deadline = decision_deadline(asked_on)

        # the day before the deadline nothing is decided yet
        before = datetime.combine(deadline - timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
        await billing_env.sleep(before - await billing_env.get_current_time())
        assert (await payment_plan_state(client, ref)).status == PlanStatus.REQUESTED

        await billing_env.sleep(timedelta(days=1, hours=2))
        await eventually(lambda: _plan(world, ref).status == PlanStatus.APPROVED)
        row = _plan(world, ref)
        assert row.answer == SILENCE_ANSWER and row.decided_by is None
        assert len(row.instalments) == 4 and sum(i["amount_cents"] for i in row.instalments) == invoice.remaining_cents
        assert _keys(world, "payment-plan-decided:") == [f"payment-plan-decided:{ref}"]
        assert world.invoice_of(family, "2026-09").status is not InvoiceStatus.TRANSFERRED

        # an operator's answer after the deadline is refused: the request is already granted
        with pytest.raises(WorkflowUpdateFailedError):
            await decide_payment_plan(client, ref, PlanDecisionRequest("refuse", ANSWER, operator_id))
        assert _plan(world, ref).status == PlanStatus.APPROVED
        await client.get_workflow_handle_for(PaymentPlanWorkflow.run, ref).terminate("fin du test")
