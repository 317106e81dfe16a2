"""A plan defaulted on its second missed instalment: the ladder resumes from where it stood."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from contracts.payment_plans import PlanDecisionRequest
from domain.dunning import InvoiceStatus
from domain.payment_plans import PlanStatus
from tests.workflows.conftest import BillingWorld, eventually, running_worker
from tests.workflows.payment_plan_steps import (
    ANSWER,
    CRECHE_AND_CANTINE,
    NOV,
    _issue,
    _keys,
    _operator,
    _plan,
    _until,
    ask_plan,
)
from ville.aws import aws_client
from workflows.payment_plan_clients import decide_payment_plan
from workflows.payment_plans import PaymentPlanWorkflow


async def test_plan_defaulted_on_second_miss_then_normal_ladder(
    billing_world: BillingWorld, billing_env: WorkflowEnvironment
) -> None:
    """Nothing paid: one reminder for the first miss, default at the second; the ladder's reminder and transfer
    then happen on their own days."""
    world, client = billing_world, billing_env.client
    family = world.add_family("Defaut", CRECHE_AND_CANTINE, NOV)
    operator_id = _operator(world)
    async with running_worker(client, world):
        # issued on 04/01/2027, due 25/02, reminder 08/03, transfer 12/04
        await _issue(client, world, "2026-11", "2027-01-04")
        invoice = world.invoice_of(family, "2026-11")
        ref = await ask_plan(billing_env, world, family, "2026-11", 3)
        # an adjusted count is validated by the workflow: 9 instalments are refused before anything is recorded
        try:
            await decide_payment_plan(client, ref, PlanDecisionRequest("adjust", ANSWER, operator_id, 9))
            raise AssertionError("9 instalments were accepted")
        except Exception as err:  # WorkflowUpdateFailedError carrying the validator's French message
            assert "entre 2 et 6" in str(err.__cause__ or err)
        result = await decide_payment_plan(client, ref, PlanDecisionRequest("adjust", ANSWER, operator_id, 2))
        assert len(result.instalments) == 2

        handle = client.get_workflow_handle_for(PaymentPlanWorkflow.run, ref)
        await billing_env.sleep(await _until(billing_env, "2027-03-01T09:00"))
        ended = await handle.result()
        assert ended.status == PlanStatus.DEFAULTED and ended.misses == 2
        assert _keys(world, "payment-plan-missed-") == [f"payment-plan-missed-1:{ref}"]  # one reminder, first miss
        assert _keys(world, "payment-plan-defaulted:") == [f"payment-plan-defaulted:{ref}"]
        row = _plan(world, ref)
        assert row.status == PlanStatus.DEFAULTED and [i["status"] for i in row.instalments] == ["missed"] * 2
        assert world.invoice_of(family, "2026-11").status is InvoiceStatus.ISSUED  # no ladder step yet

        await billing_env.sleep(await _until(billing_env, "2027-04-13T09:00"))
        await eventually(lambda: world.invoice_of(family, "2026-11").status is InvoiceStatus.TRANSFERRED)
        assert f"reminder_email:{invoice.number}" in _keys(world, "reminder_email:")
        export = (
            aws_client(world.settings, "s3")
            .get_object(Bucket=world.settings.s3_bucket, Key="tresor/2026-11/titres-de-recettes.csv")["Body"]
            .read()
        )
        assert invoice.number in export.decode()
        world.assert_ledger_consistent()
