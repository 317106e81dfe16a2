"""Shared steps of the payment plan workflow tests (each scenario has its own module: its own skipped clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import col, select
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from contracts.billing import BillingCycleInput, CyclePhase
from contracts.payment_plans import PaymentPlanInput
from domain.calendar import PARIS
from domain.periods import period_from_key
from services import payment_plans
from tests.workflows.conftest import BillingWorld, Family, eventually
from ville.ids import billing_cycle_id
from ville.models.billing import Invoice, Notification
from ville.models.payment_plans import PaymentPlan
from ville.models.people import Role, UserAccount
from workflows.billing import BillingCycleWorkflow
from workflows.payment_plan_clients import start_payment_plan

SEPT, NOV = period_from_key("2026-09"), period_from_key("2026-11")
CRECHE_AND_CANTINE = {"creche": (0, 1, 2, 3, 4), "cantine": (0, 1, 3, 4)}
REASON = "Perte d'emploi, nous ne pouvons pas tout payer d'un coup."
ANSWER = "Échéancier accordé au vu de votre situation."


async def _until(env: WorkflowEnvironment, iso: str) -> timedelta:
    delta = datetime.fromisoformat(iso).replace(tzinfo=UTC) - await env.get_current_time()
    assert delta > timedelta(0), f"the clock is already past {iso}"
    return delta


async def _issue(client: Client, world: BillingWorld, period_key: str, issue_date: str) -> None:
    await client.start_workflow(
        BillingCycleWorkflow.run,
        BillingCycleInput(period_key, batch_size=3, parallelism=2, issue_date=date.fromisoformat(issue_date)),
        id=billing_cycle_id(period_key),
        task_queue=world.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
    )

    async def issued() -> bool:
        handle = client.get_workflow_handle_for(BillingCycleWorkflow.run, billing_cycle_id(period_key))
        return (await handle.query(BillingCycleWorkflow.progress)).phase == CyclePhase.AWAITING_DUE_DATE

    await eventually(issued)


async def ask_plan(env: WorkflowEnvironment, world: BillingWorld, family: Family, period: str, count: int) -> str:
    """What the API does: record the request, then start its workflow."""
    today = (await env.get_current_time()).astimezone(PARIS).date()
    with world.sessions() as s:
        invoice = s.exec(select(Invoice).where(Invoice.account_id == family.account_id, Invoice.period_key == period))
        row = payment_plans.new_request(s, invoice.one(), count, REASON, today)
        inp = PaymentPlanInput(row.ref, row.invoice_number, row.account_id, row.asked_count, today)
    await start_payment_plan(env.client, world.settings.task_queue, inp)
    return inp.plan_id


def _operator(world: BillingWorld) -> int:
    with world.sessions() as s:
        user = UserAccount(email="plans@ville.example", display_name="Facturation", role=Role.billing_operator)
        s.add(user)
        s.commit()
        assert user.id is not None
        return user.id


def _plan(world: BillingWorld, ref: str) -> PaymentPlan:
    with world.sessions() as s:
        row = payment_plans.by_ref(s, ref)
        assert row is not None
        return row


def _keys(world: BillingWorld, prefix: str) -> list[str]:
    with world.sessions() as s:
        return list(s.exec(select(Notification.key).where(col(Notification.key).startswith(prefix))).all())
