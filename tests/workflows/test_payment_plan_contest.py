"""A contest opened on an invoice already in a plan: the plan goes on on the uncontested rest."""

from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from contracts.contests import ContestDecisionRequest
from contracts.payment_plans import PlanDecisionRequest
from domain.dunning import InvoiceStatus
from domain.payment_plans import InstalmentStatus, PlanStatus, missing, schedule
from domain.payments import PaymentMethod
from services.payments import PaymentStore
from tests.workflows.conftest import BillingWorld, eventually, running_worker
from tests.workflows.payment_plan_steps import (
    ANSWER,
    CRECHE_AND_CANTINE,
    SEPT,
    _issue,
    _keys,
    _operator,
    _plan,
    _until,
    ask_plan,
)
from tests.workflows.test_contests import open_contest
from workflows.payment_plan_clients import decide_payment_plan, payment_plan_state
from workflows.payment_plans import PaymentPlanWorkflow


async def test_contest_on_an_invoice_in_a_plan(billing_world: BillingWorld, billing_env: WorkflowEnvironment) -> None:
    """The plan goes on on the uncontested rest; the contest's credit note covers it like a payment."""
    world, client = billing_world, billing_env.client
    family = world.add_family("PlanContest", CRECHE_AND_CANTINE, SEPT)
    operator_id = _operator(world)
    store = PaymentStore(world.sessions)
    async with running_worker(client, world):
        await _issue(client, world, "2026-09", "2026-11-02")
        invoice = world.invoice_of(family, "2026-09")
        ref = await ask_plan(billing_env, world, family, "2026-09", 3)
        result = await decide_payment_plan(client, ref, PlanDecisionRequest("approve", ANSWER, operator_id))
        contest = await open_contest(billing_env, world, family, ["cantine"])
        held, total = contest.contested_cents, invoice.remaining_cents
        row = _plan(world, ref)
        plan = schedule(total, 3, row.approved_on or row.requested_on)
        assert [(i.due_on, i.amount_cents) for i in plan] == [tuple(x) for x in result.instalments]

        # first notice (a week before 07/01): what the uncontested rest allows of the first instalment
        await billing_env.sleep(await _until(billing_env, "2027-01-01T09:00"))
        first = missing(plan, 1, 0, held)
        assert first > 0
        await eventually(lambda: bool(_keys(world, "payment-plan-notice-1:")))
        store.record_counter_payment("plan-test-1", invoice.number, PaymentMethod.CHEQUE, first, "CHQ-1")

        # the contest is accepted in full: its credit note covers the plan like a payment
        await client.get_workflow_handle(contest.ref).execute_update(
            "decide", ContestDecisionRequest("accept_full", "Repas déduits, absence signalée.", operator_id)
        )
        await billing_env.sleep(await _until(billing_env, "2027-02-02T09:00"))
        state = await payment_plan_state(client, ref)
        assert state.status == PlanStatus.APPROVED and state.misses == 0
        assert state.instalment_statuses[0] == InstalmentStatus.PAID
        second = missing(plan, 2, first + held, 0)
        if second:
            store.record_counter_payment("plan-test-2", invoice.number, PaymentMethod.CHEQUE, second, "CHQ-2")
        third = missing(plan, 3, first + held + second, 0)
        await billing_env.sleep(await _until(billing_env, "2027-03-02T09:00"))
        store.record_counter_payment("plan-test-3", invoice.number, PaymentMethod.CHEQUE, third, "CHQ-3")

        # the whole rest paid before the third instalment: the plan notices it within a week
        await billing_env.sleep(await _until(billing_env, "2027-03-20T09:00"))
        ended = await client.get_workflow_handle_for(PaymentPlanWorkflow.run, ref).result()
        assert ended.status == PlanStatus.COMPLETED and ended.misses == 0
        paid = world.invoice_of(family, "2026-09")
        assert paid.status is InvoiceStatus.PAID and paid.remaining_cents == 0
        assert first + second + third + held == total
        assert (await client.get_workflow_handle(contest.ref).describe()).status is WorkflowExecutionStatus.COMPLETED
        world.assert_ledger_consistent()
