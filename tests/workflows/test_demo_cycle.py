"""`ville dev`'s first start issues the demo period through the real BillingCycleWorkflow (README's walk-through)."""

from __future__ import annotations

from datetime import date

from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from contracts.billing import CyclePhase
from stack.billing_demo import billing_period_to_seed
from stack.demo import seed_demo
from stack.demo_cycle import start_demo_cycle
from tests.workflows.conftest import BillingWorld, eventually, running_worker
from ville.ids import billing_cycle_id
from ville.models.billing import Invoice, InvoiceStatus
from ville.models.people import UserAccount
from workflows.billing import BillingCycleWorkflow

TODAY = date(2025, 11, 15)  # demo period 2025-09: a period no other test bills on the shared dev server
FAMILY = "famille1@demo.paris.fr"


async def test_first_start_issues_the_demo_period_through_the_cycle(
    billing_world: BillingWorld, local_env: WorkflowEnvironment
) -> None:
    world, client = billing_world, local_env.client
    assert seed_demo(world.settings, families=12, today=TODAY)
    period = billing_period_to_seed(TODAY)
    assert period.key == "2025-09"
    async with running_worker(client, world):
        first = await start_demo_cycle(client, world.settings, TODAY)
        again = await start_demo_cycle(client, world.settings, TODAY)  # a restart during the issue phase
        assert first == again == billing_cycle_id(period.key)
        handle = client.get_workflow_handle_for(BillingCycleWorkflow.run, first)

        async def issued() -> bool:
            return (await handle.query(BillingCycleWorkflow.progress)).phase == CyclePhase.AWAITING_DUE_DATE

        await eventually(issued, timeout=120)
        runs = [wf async for wf in client.list_workflows(f"WorkflowId = '{first}'")]
        assert len(runs) == 1  # the second start kept the running cycle
        with world.sessions() as s:
            account_id = s.exec(select(UserAccount.family_account_id).where(UserAccount.email == FAMILY)).one()
            invoice = s.exec(
                select(Invoice).where(Invoice.account_id == account_id, Invoice.period_key == period.key)
            ).one()
        assert invoice.status == InvoiceStatus.ISSUED
        assert invoice.amount_due_cents > 0
        # the next start finds the period issued and leaves it alone
        assert await start_demo_cycle(client, world.settings, TODAY) is None
        await handle.terminate("test over")  # the cycle would wait for the due date on the shared dev server
