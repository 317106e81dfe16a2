"""The billing scenario on a worker without a workflow cache: every workflow task replays the whole history.

With `max_cached_workflows=0` a workflow that decides differently on replay (set iteration order, clock,
randomness, a query mutating state) fails its task at once instead of months later after a worker restart.
The histories this run leaves are then replayed once more by the Replayer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from contracts.billing import BillingCycleInput, CyclePhase
from domain.dunning import InvoiceStatus
from domain.numbering import check_gapless
from domain.payments import PaymentMethod
from services.payments import PaymentStore
from tests.workflows.conftest import DECLINED_CARD, BillingWorld, eventually, running_worker
from tests.workflows.test_billing_cycle import CANTINE, CRECHE_AND_CANTINE, SEPT, _phase_is, pay_card
from ville.ids import billing_cycle_id, invoice_payment_id
from ville.settings import Settings
from ville.temporal import ALL_SEARCH_ATTRIBUTE_KEYS, data_converter
from workflows.billing import BillingCycleWorkflow
from workflows.registry import WORKFLOWS

BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


@pytest.fixture(scope="module")
async def dev_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this module's own: workflow ids (billing-cycle-2026-09, FF-2026-...) never collide."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=data_converter(settings),
        search_attributes=ALL_SEARCH_ATTRIBUTE_KEYS,
    )
    yield env
    await env.shutdown()


async def test_billing_scenario_without_workflow_cache(
    billing_world: BillingWorld, dev_env: WorkflowEnvironment
) -> None:
    """Cycle in several batches with continue-as-new, a declined then a good card, CESU + card."""
    world, client = billing_world, dev_env.client
    names = ("SansCacheA", "SansCacheB", "SansCacheC", "SansCacheD", "SansCacheE")
    plans: list[dict[str, tuple[int, ...]]] = [CANTINE, CRECHE_AND_CANTINE]  # type: ignore[list-item]
    fams = [world.add_family(n, plans[i % 2], SEPT) for i, n in enumerate(names)]
    for fam in fams:
        world.save_card(fam)

    async with running_worker(client, world, max_cached_workflows=0) as worker:
        assert worker.config()["max_cached_workflows"] == 0
        cycle = await client.start_workflow(
            BillingCycleWorkflow.run,
            BillingCycleInput(
                "2026-09", batch_size=1, parallelism=2, issue_date=date(2026, 11, 2), max_batches_per_run=2
            ),
            id=billing_cycle_id("2026-09"),
            task_queue=world.settings.task_queue,
        )
        await eventually(lambda: _phase_is(client, "2026-09", CyclePhase.AWAITING_DUE_DATE), timeout=60)
        invoices = world.invoices("2026-09")
        assert len(invoices) == 5 and check_gapless([i.number for i in invoices]) == []
        world.assert_ledger_consistent()
        current = await client.get_workflow_handle(cycle.id).describe()
        assert current.run_id != cycle.first_execution_run_id  # continued as new after two batches

        first, second = fams[0], fams[1]
        inv = world.invoice_of(first, "2026-09")
        good_pm = first.card_pm
        world.save_card(first, DECLINED_CARD)
        assert (await pay_card(client, world, inv.number, first, inv.amount_due_cents)).status == "declined"
        first.card_pm = good_pm
        assert (await pay_card(client, world, inv.number, first, inv.amount_due_cents)).status == "succeeded"
        assert world.invoice_of(first, "2026-09").status is InvoiceStatus.PAID

        inv2 = world.invoice_of(second, "2026-09")
        store = PaymentStore(world.sessions)
        store.new_payment("counter:nocache-1", inv2.number, PaymentMethod.CESU, 1_000, "CESU-NC-1")
        store.settle("counter:nocache-1")
        assert (await pay_card(client, world, inv2.number, second, inv2.amount_due_cents - 1_000)).status == "succeeded"
        assert world.invoice_of(second, "2026-09").status is InvoiceStatus.PAID
        world.assert_ledger_consistent()

        # no workflow task failed on replay: every workflow is still running (or done), none failed
        for wf_id in (cycle.id, invoice_payment_id(inv.number), invoice_payment_id(inv2.number)):
            desc = await client.get_workflow_handle(wf_id).describe()
            assert desc.status in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED)

    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(world.settings))
    for wf_id in (invoice_payment_id(inv.number), invoice_payment_id(inv2.number)):
        history = await client.get_workflow_handle(wf_id).fetch_history()
        assert (await replayer.replay_workflow(history)).replay_failure is None
