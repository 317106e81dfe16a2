"""A plan of three SEPA instalments kept: no reminder, no transfer at due+45, the plan completes."""

from __future__ import annotations

from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from contracts.payment_plans import PLAN_ATTEMPT_BASE, PlanDecisionRequest
from domain.dunning import InvoiceStatus
from domain.payment_plans import InstalmentStatus, PlanStatus
from domain.payments import PaymentMethod
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
from ville.aws import aws_client
from ville.models.billing import Payment
from workflows.payment_plan_clients import decide_payment_plan, payment_plan_state
from workflows.payment_plans import PaymentPlanWorkflow


async def test_plan_of_three_kept_by_sepa_never_transferred(
    billing_world: BillingWorld, billing_env: WorkflowEnvironment
) -> None:
    """Three SEPA instalments debited on their days: no reminder, no transfer at due+45, the plan completes."""
    world, client = billing_world, billing_env.client
    family = world.add_family("Plan", CRECHE_AND_CANTINE, SEPT)
    other = world.add_family("Autre", CRECHE_AND_CANTINE, SEPT)
    world.sepa_mandate(family)
    operator_id = _operator(world)
    async with running_worker(client, world):
        await _issue(client, world, "2026-09", "2026-11-02")
        invoice = world.invoice_of(family, "2026-09")
        ref = await ask_plan(billing_env, world, family, "2026-09", 3)
        assert ref == f"payment-plan-{invoice.number}-1"
        await eventually(lambda: bool(_keys(world, "payment-plan-to-review:")))
        result = await decide_payment_plan(client, ref, PlanDecisionRequest("approve", ANSWER, operator_id))
        assert result.status == PlanStatus.APPROVED and len(result.instalments) == 3
        assert sum(amount for _, amount in result.instalments) == invoice.remaining_cents
        row = _plan(world, ref)
        assert row.status == PlanStatus.APPROVED and row.total_cents == invoice.remaining_cents

        # the due date's SEPA debit of the cycle skips the planned invoice; the ladder and the transfer skip it too
        await billing_env.sleep(await _until(billing_env, "2027-02-12T09:00"))
        await eventually(lambda: world.invoice_of(other, "2026-09").status is InvoiceStatus.TRANSFERRED)
        planned = world.invoice_of(family, "2026-09")
        assert planned.status is not InvoiceStatus.TRANSFERRED
        assert not [k for k in _keys(world, "reminder_") if invoice.number in k]
        state = await payment_plan_state(client, ref)
        # the second instalment was debited on 08/02; it is checked on 15/02
        assert state.status == PlanStatus.APPROVED and state.instalment_statuses[0] == InstalmentStatus.PAID

        handle = client.get_workflow_handle_for(PaymentPlanWorkflow.run, ref)
        await billing_env.sleep(await _until(billing_env, "2027-03-20T09:00"))
        ended = await handle.result()
        assert ended.status == PlanStatus.COMPLETED and ended.misses == 0
        assert world.invoice_of(family, "2026-09").status is InvoiceStatus.PAID
        with world.sessions() as s:
            debits = s.exec(select(Payment).where(Payment.invoice_id == invoice.id).order_by(col(Payment.id))).all()
        assert [p.key for p in debits] == [f"sepa_debit:{invoice.number}:{PLAN_ATTEMPT_BASE + k}" for k in (1, 2, 3)]
        assert all(p.method is PaymentMethod.SEPA_DEBIT for p in debits)
        assert [p.amount_cents for p in debits] == [a for _, a in result.instalments]
        assert _plan(world, ref).status == PlanStatus.COMPLETED
        assert [i["status"] for i in _plan(world, ref).instalments] == ["paid"] * 3
        assert _keys(world, "payment-plan-completed:") == [f"payment-plan-completed:{ref}"]
        export = (
            aws_client(world.settings, "s3")
            .get_object(Bucket=world.settings.s3_bucket, Key="tresor/2026-09/titres-de-recettes.csv")["Body"]
            .read()
        )
        assert invoice.number not in export.decode()
        world.assert_ledger_consistent()
