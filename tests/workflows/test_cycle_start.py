"""Starting a billing cycle over real HTTP (uvicorn) on the dev server: what is true is said, once.

A period not ended → 422; a start while the cycle runs or is paused, or with another batch size → 409 and no
journal line; a completed cycle → 409 « déjà facturée »; two simultaneous starts → one cycle. The preview
prices with the cycle's own code (its totals per tranche are the issued ones) and writes nothing; surcharges
come from the registrations, not from the attendance feed's flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict

import httpx
from sqlalchemy import delete, func, select, update
from sqlmodel import col
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.cycle_start import paris_today
from api.security import Principal, TokenSigner
from contracts.billing import BillingCycleInput, CyclePhase
from domain.periods import period_for, period_from_key
from tests.workflows.conftest import BillingWorld, eventually, running_worker
from ville.ids import billing_cycle_id
from ville.models.billing import Attendance, Invoice, InvoiceLine, Registration
from ville.models.people import OperatorAuditLog, Role, UserAccount
from workflows.billing import BillingCycleWorkflow

# ended periods no other test bills on the shared dev server
PREVIEWED = period_from_key("2026-03")
RACED = period_from_key("2026-01")
COMPLETED = period_from_key("2025-11")
CANTINE = {"cantine": (0, 1, 3, 4)}


def _operator(world: BillingWorld) -> dict[str, str]:
    """Headers of a billing operator's session (a real account: the API may re-check it)."""
    with world.sessions() as s:
        user = UserAccount(
            email=f"facturation-{uuid.uuid4().hex[:6]}@paris.example", display_name="Claude Facturation",
            role=Role.billing_operator,
        )  # fmt: skip
        s.add(user)
        s.commit()
        s.refresh(user)
        token = TokenSigner(world.settings.session_keys).session_token(Principal.of(user))
    return {"Authorization": f"Bearer {token}"}


def _journal(world: BillingWorld, period_key: str) -> list[tuple[str, str]]:
    with world.sessions() as s:
        rows = s.execute(
            select(OperatorAuditLog.action, OperatorAuditLog.reason)
            .where(OperatorAuditLog.target == billing_cycle_id(period_key))
            .order_by(col(OperatorAuditLog.id))
        ).all()
    return [(a, r) for a, r in rows]


def _error(r: httpx.Response) -> tuple[str, str]:
    body = r.json()["error"]
    return body["code"], body["message"]


async def _phase(client: Client, period_key: str) -> CyclePhase:
    handle = client.get_workflow_handle_for(BillingCycleWorkflow.run, billing_cycle_id(period_key))
    return (await handle.query(BillingCycleWorkflow.progress)).phase


async def _terminate(client: Client, period_key: str) -> None:
    with contextlib.suppress(RPCError):  # already closed
        await client.get_workflow_handle(billing_cycle_id(period_key)).terminate("fin du test")


async def test_period_not_ended_and_missing_reason_are_refused(billing_world: BillingWorld, live_api: str) -> None:
    """422 naming the field, in French; nothing journalled."""
    current = period_for(paris_today()).key  # the period today belongs to never has ended
    async with httpx.AsyncClient(base_url=live_api, headers=_operator(billing_world), timeout=30) as api:
        r = await api.post("/api/billing/cycles", json={"period_key": current, "reason": "Facturation"})
        assert r.status_code == 422, r.text
        [field] = r.json()["error"]["fields"]
        assert field["field"] == "body.period_key" and "n'est pas terminée" in field["message"]
        r = await api.post("/api/billing/cycles/preview", json={"period_key": current})
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "body.period_key"
        r = await api.post("/api/billing/cycles", json={"period_key": RACED.key})
        assert r.status_code == 422 and [f["field"] for f in r.json()["error"]["fields"]] == ["body.reason"]
        r = await api.post("/api/billing/cycles", json={"period_key": RACED.key, "reason": "  a "})
        assert r.status_code == 422 and [f["field"] for f in r.json()["error"]["fields"]] == ["body.reason"]
        r = await api.post("/api/billing/cycles", json={"period_key": RACED.key, "reason": "Aperçu", "dry_run": True})
        assert r.status_code == 422 and "/api/billing/cycles/preview" in r.json()["error"]["message"]
    assert _journal(billing_world, current) == [] and _journal(billing_world, RACED.key) == []


async def test_preview_then_start_surcharges_from_registrations_and_refusals(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, live_api: str
) -> None:
    """Preview = issued totals per tranche, nothing written; then running/paused/batch size refusals, no journal."""
    world, client = billing_world, local_env.client
    period = PREVIEWED
    flagged = world.add_family("Signalee", CANTINE, period, qf_cents=60_000)
    outside = world.add_family("Hors", CANTINE, period, qf_cents=60_000)
    world.add_family("Creche", {"creche": (0, 1, 2, 3, 4)}, period, qf_cents=20_000)
    with world.engine.begin() as c:
        # the feed says "unregistered", but a registration covers every day: no surcharge
        c.execute(update(Attendance).where(col(Attendance.account_id) == flagged.account_id).values(registered=False))
        # the feed says "registered", but no registration exists: every attendance is surcharged
        c.execute(delete(Registration).where(col(Registration.child_id) == outside.children[0][0]))
        outside_days = c.execute(
            select(func.count()).select_from(Attendance).where(col(Attendance.account_id) == outside.account_id)
        ).scalar_one()
    wf_id = billing_cycle_id(period.key)
    reason = "Facturation de janvier–février, contrôlée"
    async with httpx.AsyncClient(base_url=live_api, headers=_operator(world), timeout=60) as api:
        r = await api.post("/api/billing/cycles/preview", json={"period_key": period.key})
        assert r.status_code == 200, r.text
        preview = r.json()
        assert preview["families"] == 3 and preview["already_issued"] == 0
        assert sum(t["invoices"] for t in preview["tranches"]) == 3 and len(preview["tranches"]) == 2
        with world.sessions() as s:  # a dry run: nothing written
            assert s.execute(select(func.count()).select_from(Invoice)).scalar_one() == 0
        assert _journal(world, period.key) == []
        async with running_worker(client, world):
            try:
                r = await api.post(
                    "/api/billing/cycles", json={"period_key": period.key, "reason": reason, "batch_size": 10}
                )
                assert r.status_code == 202 and r.json()["workflow_id"] == wf_id, r.text

                async def issued() -> bool:
                    return await _phase(client, period.key) is CyclePhase.AWAITING_DUE_DATE

                await eventually(issued, timeout=90)
                # the preview priced exactly what the cycle issued, tranche by tranche
                issued_by_tranche: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
                for inv in world.invoices(period.key):
                    t = issued_by_tranche[inv.tranche]
                    t[0] += 1
                    t[1] += inv.lines_total_cents
                    t[2] += inv.amount_due_cents
                assert {
                    t["tranche"]: [t["invoices"], t["lines_total_cents"], t["amount_due_cents"]]
                    for t in preview["tranches"]
                } == dict(issued_by_tranche)
                # surcharges: from the registrations only
                with world.sessions() as s:

                    def surcharges(family_id: int) -> int:
                        return sum(
                            s.execute(
                                select(InvoiceLine.quantity)
                                .join(Invoice, col(Invoice.id) == InvoiceLine.invoice_id)
                                .where(Invoice.account_id == family_id, col(InvoiceLine.label).startswith("Majoration"))
                            ).scalars()
                        )

                    assert surcharges(flagged.account_id) == 0
                    assert surcharges(outside.account_id) == outside_days > 0

                # running: 409 with its phase, and a different batch size is refused as such
                r = await api.post(
                    "/api/billing/cycles", json={"period_key": period.key, "reason": reason, "batch_size": 10}
                )
                code, message = _error(r)
                assert r.status_code == 409 and code == "cycle_running" and "En attente de l'échéance" in message
                r = await api.post(
                    "/api/billing/cycles", json={"period_key": period.key, "reason": reason, "batch_size": 50}
                )
                code, message = _error(r)
                assert r.status_code == 409 and code == "cycle_batch_size_differs" and "10" in message, message
                # paused: 409 saying so
                r = await api.post(f"/api/billing/cycles/{period.key}/pause", json={"reason": "Vérification"})
                assert r.status_code == 200
                r = await api.post(
                    "/api/billing/cycles", json={"period_key": period.key, "reason": reason, "batch_size": 10}
                )
                code, message = _error(r)
                assert r.status_code == 409 and code == "cycle_paused" and "en pause" in message
                # one start line, with the operator's reason; the refusals wrote nothing
                assert _journal(world, period.key) == [("cycle.start", reason), ("cycle.pause", "Vérification")]
                # a second preview: everyone is invoiced now
                r = await api.post("/api/billing/cycles/preview", json={"period_key": period.key})
                assert r.json()["families"] == 0 and r.json()["already_issued"] == 3
            finally:
                await _terminate(client, period.key)


async def test_simultaneous_starts_give_one_cycle_and_a_stopped_one_starts_again(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, live_api: str
) -> None:
    """Four truly concurrent starts over HTTP: one 202, three 409, one journal line; a terminated run may rerun."""
    world, client = billing_world, local_env.client
    world.add_family("Course", CANTINE, RACED)
    headers = _operator(world)
    body = {"period_key": RACED.key, "reason": "Lancement du cycle de janvier"}
    async with running_worker(client, world):
        try:
            clients = [httpx.AsyncClient(base_url=live_api, headers=headers, timeout=60) for _ in range(4)]
            try:
                answers = await asyncio.gather(*(c.post("/api/billing/cycles", json=body) for c in clients))
            finally:
                for c in clients:
                    await c.aclose()
            assert sorted(r.status_code for r in answers) == [202, 409, 409, 409], [r.text for r in answers]
            assert {_error(r)[0] for r in answers if r.status_code == 409} <= {"cycle_running", "cycle_paused"}
            assert _journal(world, RACED.key) == [("cycle.start", body["reason"])]
            runs = [e async for e in client.list_workflows(f"WorkflowId = '{billing_cycle_id(RACED.key)}'")]
            assert len(runs) == 1
            # a terminated (or cancelled, or failed) cycle may be started again: it skips invoices issued
            await _terminate(client, RACED.key)
            async with httpx.AsyncClient(base_url=live_api, headers=headers, timeout=60) as api:
                r = await api.post("/api/billing/cycles", json=body)
            assert r.status_code == 202, r.text
            assert len(_journal(world, RACED.key)) == 2
        finally:
            await _terminate(client, RACED.key)


async def test_a_completed_cycle_is_not_billed_again(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, live_api: str
) -> None:
    """A cycle that ran to its end (here a dry run, which ends once priced): 409 « déjà facturée »."""
    world, client = billing_world, local_env.client
    async with running_worker(client, world):
        handle = await client.start_workflow(
            BillingCycleWorkflow.run,
            BillingCycleInput(COMPLETED.key, dry_run=True, batch_size=10),
            id=billing_cycle_id(COMPLETED.key),
            task_queue=world.settings.task_queue,
        )
        await handle.result()
    assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED
    async with httpx.AsyncClient(base_url=live_api, headers=_operator(world), timeout=60) as api:
        r = await api.post("/api/billing/cycles", json={"period_key": COMPLETED.key, "reason": "Relance"})
    code, message = _error(r)
    assert r.status_code == 409 and code == "cycle_already_billed" and "déjà facturée" in message
    assert _journal(world, COMPLETED.key) == []
