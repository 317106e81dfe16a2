"""Tariff impact simulation on a real issued cycle: the voted grid reproduces the invoices to the cent."""

from __future__ import annotations

import copy
import csv
import io
import json
from collections import defaultdict
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select
from sqlmodel import col
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.security import SESSION_COOKIE, Principal
from contracts.billing import BillingCycleInput, CyclePhase
from contracts.simulation import TariffSimulationInput, TariffSimulationResult
from domain.periods import period_from_key
from domain.simulation import THRESHOLDS_PCT, simulation_ref
from stack.billing_demo import GRIDS_FILE
from tests.accounts import session_token
from tests.workflows.conftest import BillingWorld, eventually, running_worker
from ville.aws import aws_client
from ville.ids import billing_cycle_id, tariff_simulation_id
from ville.models.billing import Invoice, InvoiceLine, Registration
from ville.models.people import Role
from workflows.billing import BillingCycleWorkflow
from workflows.simulation import TariffSimulationWorkflow

SEPT = period_from_key("2026-09")
NOV = period_from_key("2026-11")
VOTED_GRID: dict[str, Any] = json.loads(GRIDS_FILE.read_text())[0]


def raised_t4_cantine(price: int = 300) -> dict[str, Any]:
    """The voted grid with the tranche-4 canteen meal raised (2.28 € -> 3.00 €)."""
    grid = copy.deepcopy(VOTED_GRID)
    grid["id"] = "proposition-t4"
    grid["effective_from"] = "2027-09-01"
    grid["prices"]["cantine"]["per_tranche"][3] = price
    return grid


async def _cycle_issued(client: Client, period_key: str) -> bool:
    handle = client.get_workflow_handle_for(BillingCycleWorkflow.run, billing_cycle_id(period_key))
    return (await handle.query(BillingCycleWorkflow.progress)).phase is CyclePhase.AWAITING_DUE_DATE


async def issue_cycle(client: Client, world: BillingWorld, period_key: str, issue_date: str) -> None:
    """Issue a period with the real billing cycle, and wait until its invoices exist."""
    await client.start_workflow(
        BillingCycleWorkflow.run,
        BillingCycleInput(period_key, batch_size=3, parallelism=2, issue_date=date.fromisoformat(issue_date)),
        id=billing_cycle_id(period_key),
        task_queue=world.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
    )
    await eventually(lambda: _cycle_issued(client, period_key), timeout=60)


async def simulate(
    client: Client,
    world: BillingWorld,
    grid: dict[str, Any],
    periods: list[str],
    batch_size: int = 500,
    parallelism: int = 4,
    max_batches_per_run: int = 100,
) -> tuple[TariffSimulationResult, str]:
    """Run a simulation to its end; returns its result and first run id."""
    ref = simulation_ref(grid, periods)
    handle = await client.start_workflow(
        TariffSimulationWorkflow.run,
        TariffSimulationInput(
            ref,
            periods,
            grid=grid,
            batch_size=batch_size,
            parallelism=parallelism,
            max_batches_per_run=max_batches_per_run,
        ),
        id=tariff_simulation_id(ref),
        task_queue=world.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
    )
    return await handle.result(), handle.first_execution_run_id or ""


def issued_totals(world: BillingWorld, periods: list[str]) -> tuple[list[int], dict[str, int]]:
    """What the issued invoices charged, per tranche (index tranche - 1) and per activity."""
    by_tranche = [0] * 10
    by_activity: dict[str, int] = defaultdict(int)
    with world.sessions() as s:
        for tranche, cents in s.execute(
            select(col(Invoice.tranche), col(Invoice.lines_total_cents)).where(col(Invoice.period_key).in_(periods))
        ):
            by_tranche[tranche - 1] += cents
        for code, cents in s.execute(
            select(col(InvoiceLine.activity_code), col(InvoiceLine.amount_cents))
            .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .where(col(Invoice.period_key).in_(periods))
        ):
            by_activity[code] += cents
    return by_tranche, {k: v for k, v in by_activity.items() if v}


def s3_object(world: BillingWorld, key: str) -> bytes:
    body: bytes = aws_client(world.settings, "s3").get_object(Bucket=world.settings.s3_bucket, Key=key)["Body"].read()
    return body


async def count_runs(client: Client, workflow_id: str, first_run_id: str) -> int:
    runs, run_id = 0, first_run_id
    while run_id:
        runs += 1
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        run_id = next(
            (
                e.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            ),
            "",
        )
    return runs


async def check_api_and_page(world: BillingWorld, client: Client, done: TariffSimulationResult) -> None:
    """The finished simulation through the JSON API and the operator console page."""
    app = create_app(world.settings, temporal=client)
    token = session_token(app, Principal(user_id=1, role=Role.billing_operator))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", cookies={SESSION_COOKIE: token}
    ) as api:
        ref = done.simulation_ref
        state = (await api.get(f"/api/billing/simulations/{ref}")).json()
        assert state["status"] == "terminee" and state["progress"]["phase"] == "done"
        answer = await api.get(f"/api/billing/simulations/{ref}/result")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["totals"]["new_by_tranche"] == done.totals.new_by_tranche
        assert httpx.get(body["files"]["csv_url"], timeout=10).content == s3_object(world, done.csv_key)
        page = await api.get(f"/operateur/simulations/{ref}")
        assert page.status_code == 200
        assert f"/operateur/simulations/{ref}/graphique.svg" in page.text and "T4" in page.text
        chart = await api.get(f"/operateur/simulations/{ref}/graphique.svg")
        assert chart.headers["content-type"].startswith("image/svg+xml") and b"<svg" in chart.content


async def test_simulation_reproduces_issued_invoices_then_prices_a_proposal(
    billing_world: BillingWorld, local_env: WorkflowEnvironment
) -> None:
    """Current grid: exactly the issued totals, nobody changes; raised T4 canteen: exactly the T4 diners rise."""
    world, client = billing_world, local_env.client
    t4_a = world.add_family("QuatreA", {"cantine": (0, 1, 3, 4)}, SEPT, qf_cents=60_000)
    world.add_family("Creche", {"creche": (0, 1, 2, 3, 4), "cantine": (0, 1, 3, 4)}, SEPT, qf_cents=20_000)
    world.add_family("SansQf", {"cantine": (0, 1), "centre_loisirs": (2,)}, SEPT, qf_cents=None)
    surcharged = world.add_family("Majore", {"cantine": (0, 1, 3, 4)}, SEPT, qf_cents=100_000)
    world.add_family("Etude", {"etude": (0, 1, 3)}, SEPT, qf_cents=300_000)
    world.add_family("QuatreB", {"cantine": (1, 3), "gouter": (0, 1, 3)}, SEPT, qf_cents=70_000)
    world.add_attendance(t4_a, {"cantine": (0, 3)}, NOV)
    world.add_attendance(surcharged, {"cantine": (2,)}, NOV)
    with world.engine.begin() as c:  # attendance outside any registration: surcharged lines on the invoice
        c.execute(delete(Registration).where(col(Registration.child_id) == surcharged.children[0][0]))

    async with running_worker(client, world):
        await issue_cycle(client, world, "2026-09", "2026-11-02")
        await issue_cycle(client, world, "2026-11", "2027-01-04")
        periods = ["2026-09", "2026-11"]
        by_tranche, by_activity = issued_totals(world, periods)
        assert by_tranche[3] and by_tranche[9] and by_activity["creche"]
        with world.sessions() as s:
            invoices_before = [(i.number, i.amount_due_cents, i.status) for i in s.execute(select(Invoice)).scalars()]

        # the voted grid, in small batches over several runs (continue-as-new): the issued invoices, to the cent
        same, first_run = await simulate(
            client, world, VOTED_GRID, periods, batch_size=2, parallelism=2, max_batches_per_run=1
        )
        t = same.totals
        assert t.families == 6
        assert t.old_by_tranche == t.new_by_tranche == by_tranche
        assert t.old_by_activity == t.new_by_activity == by_activity
        assert t.changed == 0 and t.top == []
        assert t.rises_over == t.falls_over == [0] * len(THRESHOLDS_PCT)
        assert {m.median_change_cents for m in same.medians} == {0}
        assert await count_runs(client, tariff_simulation_id(simulation_ref(VOTED_GRID, periods)), first_run) == 3

        # T4 canteen +31.6 %: the two T4 families rise by more than 20 %, nobody else moves
        proposal = raised_t4_cantine()
        raised, _ = await simulate(client, world, proposal, periods)
        r = raised.totals
        with world.sessions() as s:
            t4_meals = sum(
                ln.quantity
                for ln in s.execute(
                    select(InvoiceLine)
                    .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
                    .where(col(Invoice.tranche) == 4, col(InvoiceLine.activity_code) == "cantine")
                ).scalars()
            )
        assert t4_meals > 0
        assert r.new_by_tranche[3] == by_tranche[3] + t4_meals * (300 - 228)
        assert [r.new_by_tranche[i] for i in range(10) if i != 3] == [by_tranche[i] for i in range(10) if i != 3]
        assert r.new_by_activity["cantine"] == by_activity["cantine"] + t4_meals * 72
        assert r.changed == 2 and r.rises_over == [2, 2, 2] and r.falls_over == [0, 0, 0]
        assert [(x.rank, x.tranche) for x in r.top] == [(1, 4), (2, 4)]
        assert all(x.new_cents - x.old_cents > 0 for x in r.top)
        medians = {m.tranche: m for m in raised.medians}
        assert medians[4].families == 2 and medians[4].median_change_cents > 0
        assert all(m.median_change_cents == 0 for k, m in medians.items() if k != 4)

        # report files in S3: no name nor account reference in them
        report = s3_object(world, raised.csv_key).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(report), delimiter=";"))
        assert ["tranche", "4", "2", str(by_tranche[3]), str(r.new_by_tranche[3])] == rows[4][:5]
        assert "FA-" not in report and "Quatre" not in report
        pdf = s3_object(world, raised.pdf_key)
        assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 1
        assert b"<svg" in s3_object(world, raised.svg_key)

        # the API and the console page show the finished simulation, its chart and links to its files
        await check_api_and_page(world, client, raised)

        # nothing was touched: same invoices, same amounts, same statuses
        with world.sessions() as s:
            after = [(i.number, i.amount_due_cents, i.status) for i in s.execute(select(Invoice)).scalars()]
        assert after == invoices_before
        for key in periods:
            await client.get_workflow_handle(billing_cycle_id(key)).terminate("test done")


async def test_simulation_refuses_unbilled_period_and_bad_grid(
    billing_world: BillingWorld, local_env: WorkflowEnvironment
) -> None:
    """A period without invoices and a grid missing an activity fail at planning, without retries."""
    world, client = billing_world, local_env.client
    world.add_family("Seule", {"cantine": (0,)}, SEPT)
    async with running_worker(client, world):
        await issue_cycle(client, world, "2026-09", "2026-11-02")
        with pytest.raises(WorkflowFailureError) as err:
            await simulate(client, world, VOTED_GRID, ["2027-01"])
        assert isinstance(err.value.cause.__cause__, ApplicationError)
        assert err.value.cause.__cause__.type == "PeriodNotClosed"
        partial = copy.deepcopy(VOTED_GRID)
        del partial["prices"]["creche"]
        with pytest.raises(WorkflowFailureError) as err:
            await simulate(client, world, partial, ["2026-09"])
        assert isinstance(err.value.cause.__cause__, ApplicationError)
        assert err.value.cause.__cause__.type == "InvalidGrid"
        await client.get_workflow_handle(billing_cycle_id("2026-09")).terminate("test done")
