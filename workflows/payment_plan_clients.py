"""Client-side calls into the payment plan workflow, shared by the API, the pages and the tests."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from contracts.payment_plans import PaymentPlanInput, PaymentPlanView, PlanDecisionRequest, PlanDecisionResult
from domain.payment_plans import PlanStatus
from ville.temporal import SA_BUSINESS_STATUS
from workflows.payment_plans import PaymentPlanWorkflow


async def start_payment_plan(client: Client, task_queue: str, inp: PaymentPlanInput) -> None:
    """Start the plan's workflow (its id is the plan's reference); starting twice is harmless."""
    await client.start_workflow(
        PaymentPlanWorkflow.run,
        inp,
        id=inp.plan_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes([SearchAttributePair(SA_BUSINESS_STATUS, PlanStatus.REQUESTED.value)]),
    )


async def decide_payment_plan(client: Client, plan_id: str, req: PlanDecisionRequest) -> PlanDecisionResult:
    """Hand the operator's decision to the workflow; answers once it is recorded (validator errors in French)."""
    handle = client.get_workflow_handle_for(PaymentPlanWorkflow.run, plan_id)
    return await handle.execute_update(PaymentPlanWorkflow.decide, req)


async def payment_plan_state(client: Client, plan_id: str) -> PaymentPlanView:
    """The workflow's view of a plan."""
    handle = client.get_workflow_handle_for(PaymentPlanWorkflow.run, plan_id)
    return await handle.query(PaymentPlanWorkflow.state)
