# SQLModel columns are typed as their Python values, so SQL expressions do not type-check (as in activities/).
# mypy: disable-error-code="arg-type,call-overload,var-annotated,union-attr"
"""Crash test: an audit campaign and 50 referral cases driven while the worker is SIGKILLed at random moments.

The demo directory, sites and inspectors are seeded; a campaign of 30 sites starts today. Inspectors accept,
submit and get approved, agents refer families, partners accept or refuse, agents close cases: these steps run
concurrently through the workflows' updates (with stable update ids, retried like a client would) while the
worker is killed three times at moments drawn from a seeded RNG. Then every task and referral must be in a
state the domain's transition rules reach from the steps recorded, workflows must answer queries and take
their next step, and no notification may be sent twice.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from sqlmodel import col, func, select
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from contracts.audit_campaign import AuditCampaignInput
from contracts.audit_inspection import AcceptTask, ApproveTask, SubmitChecklist
from contracts.referrals import CloseCaseRequest, PartnerAccept, PartnerRefuse, ReferralCaseInput, ReferRequest
from domain.audit.criteria import AnswerType, Direction
from domain.audit.referentiel import Referentiel, load_referentiel
from domain.audit.task_states import TaskEvent, TaskState
from domain.audit.task_states import transition as task_transition
from domain.referral_cases import CaseOutcome, ConsentScope, NeedCategory
from domain.referrals import ReferralEvent, ReferralState, RefusalReason
from domain.referrals import transition as referral_transition
from services.audit import referentiel_document
from tests.chaos.stack import ChaosWorld, Stack, check_notifications, print_table, seed_world, ses_count
from tests.workflows.conftest import eventually
from ville.ids import audit_campaign_id, inspection_id, referral_case_id
from ville.models.audit import (
    AuditAssignment,
    AuditBody,
    AuditCampaign,
    AuditCampaignSite,
    AuditSite,
    AuditTask,
)
from ville.models.people import Role, UserAccount
from ville.models.referrals import (
    PartnerService,
    PartnerServiceCategory,
    Referral,
    ReferralCase,
    ReferralHistory,
    ReferralNote,
    RifRelay,
)
from ville.settings import Settings
from ville.temporal import connect
from workflows.audit_campaign import AuditCampaignWorkflow
from workflows.inspection import InspectionWorkflow
from workflows.referrals import ReferralCaseWorkflow

SEED = 5
SITES, CASES, KILLS, CONCURRENCY = 30, 50, 3, 8
REFUSAL = next(r for r in RefusalReason if not r.requires_comment)


@dataclass
class Campaign:
    """The campaign the test created and the steps it applied to each task."""

    campaign_id: int
    quality_user_id: int
    window_start: date
    ref: Referentiel
    applied: dict[int, list[TaskEvent]] = field(default_factory=dict)


@dataclass
class Cases:
    """The referral cases the test opened."""

    agent_id: int
    relay_id: int
    arrondissement: int | None
    refs: list[str]
    services: list[tuple[int, int, str]]  # (service id, organisation id, need)


def answers_for(ref: Referentiel, site_type: str, mode: str) -> dict[str, Any]:
    """A complete checklist with every criterion met."""
    out: dict[str, Any] = {}
    for c in ref.criteria_for(site_type, mode):
        if c.answer_type is AnswerType.YES_NO:
            out[c.code] = True
        elif c.answer_type is AnswerType.SCALE:
            out[c.code] = c.scale_max
        else:
            assert c.threshold is not None
            met = c.threshold - 1 if c.direction is Direction.AT_MOST else c.threshold + 5
            out[c.code] = str(max(Decimal(0), met))
    return out


def _seed_campaign(world: ChaosWorld) -> Campaign:
    """A campaign of 30 demo sites (visits only), its window opening today."""
    with world.sessions() as s:
        quality = s.exec(select(UserAccount).where(UserAccount.role == Role.quality_team)).first()
        body = s.exec(select(AuditBody)).first()
        assert quality is not None and quality.id is not None and body is not None and body.id is not None
        sites = s.exec(
            select(AuditSite).where(AuditSite.site_type != "centre_appels_3975").order_by(col(AuditSite.id))
        ).all()[:SITES]
        campaign = AuditCampaign(
            name="Campagne chaos",
            referentiel_version="1",
            body_id=body.id,
            window_start=world.today,
            window_end=world.today + timedelta(days=20),
            owner_user_id=quality.id,
        )
        s.add(campaign)
        s.flush()
        assert campaign.id is not None
        s.add_all(AuditCampaignSite(campaign_id=campaign.id, site_id=site.id, modes=["visit"]) for site in sites)
        s.commit()
        doc = referentiel_document(s, "1")
        assert doc is not None
        return Campaign(campaign.id, quality.id, world.today, load_referentiel(doc))


def _seed_cases(world: ChaosWorld) -> Cases:
    """50 cases at the demo relays' first relay, and the active services they may be referred to."""
    with world.sessions() as s:
        relay = s.exec(select(RifRelay).order_by(col(RifRelay.id))).first()
        assert relay is not None and relay.id is not None
        agent = s.exec(
            select(UserAccount).where(UserAccount.role == Role.rif_agent, UserAccount.relay_id == relay.id)
        ).first()
        assert agent is not None and agent.id is not None
        rows = s.exec(
            select(PartnerService.id, PartnerService.organization_id, func.min(PartnerServiceCategory.category))
            .join(PartnerServiceCategory, col(PartnerServiceCategory.service_id) == PartnerService.id)
            .where(PartnerService.status == "active")
            .group_by(col(PartnerService.id))
            .order_by(col(PartnerService.id))
        ).all()
        services = [(int(sid), int(org), str(need)) for sid, org, need in rows if need in set(NeedCategory)]
        assert len(services) >= 2
        refs = [f"RIF-{world.today.year}-9{i:05d}" for i in range(CASES)]
        s.add_all(
            ReferralCase(
                ref=ref,
                relay_id=relay.id,
                arrondissement=relay.arrondissement,
                opened_by_user_id=agent.id,
                contact_name=f"Famille Chaos {i}",
                contact_email=f"chaos{i}@familles.example",
                partner_summary="Orientation de test",
                needs=[services[i % len(services)][2]],
                consent_scope=[c.value for c in ConsentScope],
            )
            for i, ref in enumerate(refs)
        )
        s.commit()
        return Cases(agent.id, relay.id, relay.arrondissement, refs, services)


async def _update(client: Client, workflow_id: str, update: Any, arg: Any, update_id: str) -> Any:
    """Run an update as a client would: a stable id, retried while the worker or the server is away."""
    handle = client.get_workflow_handle(workflow_id)
    for attempt in range(30):
        try:
            return await handle.execute_update(update, arg, id=update_id)
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            if attempt == 29:
                raise
            await asyncio.sleep(1)  # back-off of a retrying client, not a synchronisation
    raise AssertionError("unreachable")


class Driver:
    """Plays inspectors, reviewers, agents and partners; counts the steps done (the kill schedule reads it)."""

    def __init__(self, client: Client, world: ChaosWorld, campaign: Campaign, cases: Cases) -> None:
        self.client, self.world, self.campaign, self.cases = client, world, campaign, cases
        self.done = self.in_flight = 0
        self.gate = asyncio.Semaphore(CONCURRENCY)

    def tasks(self) -> list[AuditTask]:
        with self.world.sessions() as s:
            return list(
                s.exec(
                    select(AuditTask)
                    .where(AuditTask.campaign_id == self.campaign.campaign_id)
                    .order_by(col(AuditTask.id))
                ).all()
            )

    def task_state(self, task_id: int) -> str | None:
        with self.world.sessions() as s:
            return s.get_one(AuditTask, task_id).state

    def site_type(self, site_id: int) -> str:
        with self.world.sessions() as s:
            return s.get_one(AuditSite, site_id).site_type

    async def step(self, call: Awaitable[Any]) -> Any:
        async with self.gate:
            self.in_flight += 1
            try:
                out = await call
            finally:
                self.in_flight -= 1
        self.done += 1
        return out

    async def task_step(self, task: AuditTask, event: TaskEvent) -> None:
        """Apply one step to a task through its workflow's update and record it."""
        assert task.id is not None and task.inspector_id is not None
        steps = self.campaign.applied.setdefault(task.id, [])
        update: Any
        arg: Any
        if event is TaskEvent.ACCEPT:
            update, arg = InspectionWorkflow.accept, AcceptTask(task.inspector_id)
        elif event is TaskEvent.SUBMIT:
            answers = answers_for(self.campaign.ref, self.site_type(task.site_id), task.mode)
            update = InspectionWorkflow.submit
            arg = SubmitChecklist(task.inspector_id, self.campaign.window_start, answers)
        else:
            assert event is TaskEvent.APPROVE
            update, arg = InspectionWorkflow.approve, ApproveTask(self.campaign.quality_user_id)
        update_id = f"chaos-{event.value}-{len(steps) + 1}"
        view = await self.step(_update(self.client, inspection_id(task.id), update, arg, update_id))
        steps.append(event)
        assert view.status == _replay_task(steps)

    async def drive_task(self, task: AuditTask, rng: random.Random) -> None:
        """Accept; then maybe submit; then maybe approve."""
        await self.task_step(task, TaskEvent.ACCEPT)
        if rng.random() < 0.7:
            await self.task_step(task, TaskEvent.SUBMIT)
            if rng.random() < 0.5:
                await self.task_step(task, TaskEvent.APPROVE)

    async def drive_case(self, index: int, rng: random.Random) -> None:
        """Refer to one or two services; the partners accept or refuse; an agent may close the case."""
        ref, agent, services = self.cases.refs[index], self.cases.agent_id, self.cases.services
        wid = referral_case_id(ref)
        chosen = rng.sample(services, 2 if rng.random() < 0.4 else 1)
        referrals = []
        for n, (service_id, org_id, need) in enumerate(chosen, start=1):
            req = ReferRequest(service_id, need, agent)
            out = await self.step(_update(self.client, wid, ReferralCaseWorkflow.refer, req, f"refer-{n}"))
            referrals.append((out.ref, org_id))
        answered = 0
        for referral_ref, org_id in referrals:
            roll, update_id = rng.random(), f"answer-{referral_ref}"
            if roll < 0.45:
                accept = PartnerAccept(referral_ref, org_id, contact_made=True)
                await self.step(_update(self.client, wid, ReferralCaseWorkflow.accept, accept, update_id))
                answered += 1
            elif roll < 0.75:
                refuse = PartnerRefuse(referral_ref, org_id, REFUSAL)
                await self.step(_update(self.client, wid, ReferralCaseWorkflow.refuse, refuse, update_id))
                answered += 1
        if answered == len(referrals) and rng.random() < 0.5:
            close = CloseCaseRequest(CaseOutcome.RESOLVED, agent)
            await self.step(_update(self.client, wid, ReferralCaseWorkflow.close, close, "close"))


def _replay_task(events: list[TaskEvent]) -> TaskState:
    """The state the domain's transition rules reach from `assigned` through these steps (or IllegalTransition)."""
    state = TaskState.ASSIGNED
    for event in events:
        state = task_transition(state, event)
    return state


def _reached(driver: Driver, steps: int) -> bool:
    return driver.done >= steps


async def _kill_at_random_moments(stack: Stack, driver: Driver, total: int, rng: random.Random) -> None:
    """SIGKILL the worker when the driver has done a random share of its steps (seeded)."""
    for threshold in sorted(rng.sample(range(int(total * 0.1), int(total * 0.8)), KILLS)):
        await eventually(partial(_reached, driver, threshold), timeout=300)
        stack.kill_worker(f"{driver.done} steps done, {driver.in_flight} updates in flight")


async def test_audit_and_referrals_survive_worker_kills(settings: Settings, tmp_path: Path, chaos_db: str) -> None:
    """Three SIGKILLs at seeded random moments while a campaign and 50 cases are driven: all states legal."""
    world = seed_world(settings, chaos_db, families=20)
    s = world.settings
    campaign, cases = _seed_campaign(world), _seed_cases(world)
    stack = Stack(s, tmp_path)
    stack.start()
    ses_before = ses_count(s)
    rng = random.Random(SEED)
    try:
        client = await connect(s.model_copy(update={"temporal_address": stack.address}))
        await client.start_workflow(
            AuditCampaignWorkflow.run,
            AuditCampaignInput(campaign.campaign_id, wave_size=10),
            id=audit_campaign_id(campaign.campaign_id),
            task_queue=s.task_queue,
        )
        for ref in cases.refs:
            await client.start_workflow(
                ReferralCaseWorkflow.run,
                ReferralCaseInput(ref, cases.relay_id, cases.arrondissement, opened_by_user_id=cases.agent_id),
                id=referral_case_id(ref),
                task_queue=s.task_queue,
            )
        driver = Driver(client, world, campaign, cases)
        await eventually(lambda: _all_assigned(driver), timeout=120)
        tasks = [t for t in driver.tasks() if t.inspector_id is not None]
        assert len(tasks) >= SITES * 0.9, len(tasks)
        # expected steps: accept (+ submit 70 % (+ approve 50 %)); refer 1-2, answers, closes: ~ 2.2 per case
        total = int(len(tasks) * (1 + 0.7 + 0.35) + CASES * 2.2)
        scripts = [driver.drive_task(t, random.Random(f"{SEED}:task:{t.id}")) for t in tasks]
        scripts += [driver.drive_case(i, random.Random(f"{SEED}:case:{i}")) for i in range(CASES)]
        killer = asyncio.create_task(_kill_at_random_moments(stack, driver, total, rng))
        await asyncio.wait_for(asyncio.gather(*scripts), timeout=600)
        await asyncio.wait_for(killer, timeout=60)
        invariants = [f"{driver.done} steps driven through updates across {KILLS} worker kills, done at {stack.t()}"]

        invariants += await _check_tasks(client, driver)
        invariants += await _check_cases(client, world, cases)
        invariants += await _next_steps(client, driver, cases)
        invariants += [f"{line} (after the next steps)" for line in await _check_cases(client, world, cases)]
        invariants += check_notifications(world.engine, s, ses_before, stack.in_flight)
    finally:
        stack.stop()
        world.engine.dispose()

    print_table(stack.faults, invariants)


def _all_assigned(driver: Driver) -> bool:
    """Every task exists and every task an inspector holds was opened by its workflow."""
    tasks = driver.tasks()
    held = [t for t in tasks if t.inspector_id is not None]
    return len(tasks) >= SITES and all(t.opened_at is not None and t.state == TaskState.ASSIGNED for t in held)


async def _check_tasks(client: Client, driver: Driver) -> list[str]:
    """Each task's state is what the transition rules give for the steps applied: in the DB and the workflow."""
    by_state: dict[str, int] = {}
    with driver.world.sessions() as s:
        assignments = s.exec(select(AuditAssignment)).all()
    for task in driver.tasks():
        assert task.id is not None
        if task.inspector_id is None:  # no inspector could take it (capacity, area): nothing to drive
            assert task.state is None and task.id not in driver.campaign.applied
            continue
        expected = _replay_task(driver.campaign.applied.get(task.id, []))
        view = await client.get_workflow_handle(inspection_id(task.id)).query(InspectionWorkflow.view)
        assert task.state == expected.value and view.status == expected.value, (task.id, task.state, view, expected)
        steps = driver.campaign.applied.get(task.id, [])
        assert task.submissions == steps.count(TaskEvent.SUBMIT)
        if expected is TaskState.APPROVED:
            assert task.frozen and task.score_permille is not None and task.approved_at is not None
        rounds = sorted(a.round for a in assignments if a.task_id == task.id)
        assert rounds == list(range(1, task.round + 1)), (task.id, rounds, task.round)
        by_state[expected.value] = by_state.get(expected.value, 0) + 1
    progress = await client.get_workflow_handle(audit_campaign_id(driver.campaign.campaign_id)).query(
        AuditCampaignWorkflow.progress
    )
    await eventually(partial(_progress_matches, client, driver, by_state), timeout=60)
    return [
        f"{len(driver.tasks())} campaign tasks: DB state == workflow query == replay of the steps through "
        f"task_states.transition ({by_state}); assignment rounds contiguous",
        f"campaign answers its progress query (phase {progress.phase}, {progress.total_tasks} tasks)",
    ]


async def _progress_matches(client: Client, driver: Driver, by_state: dict[str, int]) -> bool:
    progress = await client.get_workflow_handle(audit_campaign_id(driver.campaign.campaign_id)).query(
        AuditCampaignWorkflow.progress
    )
    return all(progress.by_status.get(state) == count for state, count in by_state.items())


async def _check_cases(client: Client, world: ChaosWorld, cases: Cases) -> list[str]:
    """Each referral's recorded status changes are a legal path from `pending`; projection == workflow."""
    legal = {
        (state, referral_transition(state, event))
        for state in ReferralState
        for event in ReferralEvent
        if _allowed(state, event)
    }
    changes = referrals = closed = 0
    with world.sessions() as s:
        rows = s.exec(select(ReferralHistory).order_by(col(ReferralHistory.case_id), col(ReferralHistory.seq))).all()
        db_referrals = {r.id: r for r in s.exec(select(Referral)).all()}
        db_cases = {c.ref: c for c in s.exec(select(ReferralCase)).all() if c.ref in set(cases.refs)}
    by_case: dict[int, list[ReferralHistory]] = {}
    for row in rows:
        by_case.setdefault(row.case_id, []).append(row)
    for ref, case in db_cases.items():
        history = by_case.get(case.id or 0, [])
        assert [h.seq for h in history] == list(range(1, len(history) + 1)), (ref, [h.seq for h in history])
        snapshot = await client.get_workflow_handle(referral_case_id(ref)).query(ReferralCaseWorkflow.snapshot)
        assert snapshot.status.value == case.status, (ref, snapshot.status, case.status)
        closed += case.status == "closed"
        path: dict[int, list[str]] = {}
        for h in history:
            if h.referral_id is None or h.to_status is None:
                continue
            steps = path.setdefault(h.referral_id, [])
            assert h.from_status == (steps[-1] if steps else None), (ref, h.event, h.from_status, steps)
            if steps:
                assert (ReferralState(h.from_status), ReferralState(h.to_status)) in legal, (ref, h.event)
            else:
                assert h.to_status == ReferralState.PENDING
            steps.append(h.to_status)
            changes += 1
        for referral_id, steps in path.items():
            db_ref = db_referrals[referral_id]
            state = next(r.state for r in snapshot.referrals if r.ref == db_ref.ref)
            assert db_ref.status == steps[-1] == state.value, (db_ref.ref, db_ref.status, steps, state)
            referrals += 1
        assert len(path) == len(snapshot.referrals) == sum(1 for r in db_referrals.values() if r.case_id == case.id)
    return [
        f"{referrals} referrals of {len(db_cases)} cases: {changes} recorded status changes form legal paths from "
        f"pending (domain.referrals.transition); last change == projection == workflow snapshot",
        f"case histories gapless (seq 1..n); {closed} cases closed, DB status == workflow snapshot",
    ]


def _note(driver: Driver, ref: str) -> int:
    """The agent's closing comment, written before the update that refers to it (like the API does)."""
    with driver.world.sessions() as s:
        case = s.exec(select(ReferralCase).where(ReferralCase.ref == ref)).one()
        assert case.id is not None
        note = ReferralNote(case_id=case.id, kind="closure", author_kind="agent", body="Clôture après incident")
        s.add(note)
        s.commit()
        assert note.id is not None
        return note.id


def _allowed(state: ReferralState, event: ReferralEvent) -> bool:
    try:
        referral_transition(state, event)
    except ValueError:
        return False
    return True


async def _next_steps(client: Client, driver: Driver, cases: Cases) -> list[str]:
    """After the kills, every open task and case takes one more step through its workflow."""
    moves = {
        TaskState.ASSIGNED: TaskEvent.ACCEPT,
        TaskState.ACCEPTED: TaskEvent.SUBMIT,
        TaskState.SUBMITTED: TaskEvent.APPROVE,
    }
    tasks = [t for t in driver.tasks() if t.id is not None and t.inspector_id is not None and t.state in moves]

    async def move(task: AuditTask) -> None:
        assert task.id is not None
        await driver.task_step(task, moves[TaskState(task.state)])
        assert driver.task_state(task.id) == _replay_task(driver.campaign.applied[task.id]).value

    async def close(ref: str) -> bool:
        wid = referral_case_id(ref)
        snapshot = await client.get_workflow_handle(wid).query(ReferralCaseWorkflow.snapshot)
        if snapshot.status.value != "open":
            return False
        request = CloseCaseRequest(CaseOutcome.RESOLVED, cases.agent_id, force=True, note_id=_note(driver, ref))
        projection = await driver.step(_update(client, wid, ReferralCaseWorkflow.close, request, "close-after-chaos"))
        assert projection.status.value == "closed"
        return True

    await asyncio.gather(*(move(t) for t in tasks))
    closed = sum(await asyncio.gather(*(close(ref) for ref in cases.refs)))
    return [f"after the kills {len(tasks)} open tasks took their next step and {closed} open cases closed (forced)"]
