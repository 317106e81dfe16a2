"""Operator actions on running workflows (time-skipping server).

- InspectionWorkflow.extend_deadline moves the durable timers: no reminder or late alert at the old due
  date, reminders and the late alert at the new one (fake audit activities registered under the real names).
- The accept race: an inspector accepting while the task is being handed to him (the database already
  names him, the workflow not yet) waits for the hand-over instead of being refused as someone else's task.
- BillingCycleWorkflow cancelled mid-issue: the batches in flight finish (issue, archive, deliver), no
  other batch starts, and the cycle ends as cancelled.
- ReferralCaseWorkflow.escalate takes the automatic escalation's path (coordinator alerted once, status),
  with the real referral activities.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.audit_inspection import (
    AcceptTask,
    DeclineTask,
    DueDateRecord,
    ExtendDeadline,
    InspectionInput,
    Notice,
    ReassignOutcome,
    ReassignRequest,
    TaskContext,
    TaskStateRecord,
)
from contracts.audit_names import SEND_NOTIFICATIONS, AuditActivity, AuditError
from contracts.billing import BatchRequest, BatchTotalsView, BillingCycleInput, PlanRequest, PlanResult
from contracts.referrals import ActorKind, EscalateReferral, HistoryEvent, ReferRequest
from domain.audit.campaign import paris_date, paris_day_end, paris_time
from domain.referral_cases import CaseBusinessStatus, ContactChannel
from domain.referrals import ReferralState
from ville.db import SessionFactory
from ville.models.referrals import as_utc
from ville.settings import Settings
from ville.temporal import data_converter
from workflows.billing import BillingCycleWorkflow
from workflows.inspection import InspectionWorkflow
from workflows.referral_checks import ILLEGAL
from workflows.referrals import ReferralCaseWorkflow

from .conftest import BIN, eventually
from .test_referral_case import World, _skip_to, _start, executor, referral_env, worker  # noqa: F401

REFERENTIEL = json.loads(
    (Path(__file__).resolve().parents[2] / "domain" / "audit" / "data" / "referentiel_v1.json").read_text()
)
INSPECTOR, OTHER, STRANGER, QUALITY = 7, 8, 9, 99


@dataclass
class FakeAudit:
    """The audit activities an inspection calls, recording what it asked for."""

    ctx: TaskContext
    notices: list[tuple[str, datetime]] = field(default_factory=list)
    due_dates: list[DueDateRecord] = field(default_factory=list)
    states: list[TaskStateRecord] = field(default_factory=list)
    reassign_started: asyncio.Event = field(default_factory=asyncio.Event)
    reassign_release: asyncio.Event = field(default_factory=asyncio.Event)
    reassign_to: int | None = OTHER

    def activities(self) -> list[Any]:
        """The fakes, under the names the workflow calls."""

        @activity.defn(name=AuditActivity.LOAD_TASK)
        async def load_task(task_id: int) -> TaskContext:
            return self.ctx

        @activity.defn(name=AuditActivity.RECORD_TASK_STATE)
        async def record_task_state(record: TaskStateRecord) -> None:
            self.states.append(record)

        @activity.defn(name=AuditActivity.RECORD_DUE_DATE)
        async def record_due_date(record: DueDateRecord) -> None:
            self.due_dates.append(record)

        @activity.defn(name=AuditActivity.REASSIGN_TASK)
        async def reassign_task(request: ReassignRequest) -> ReassignOutcome:
            # the real activity commits the next inspector here, before the workflow hears of it
            self.reassign_started.set()
            await self.reassign_release.wait()
            return ReassignOutcome(self.reassign_to, request.round + 1)

        @activity.defn(name=SEND_NOTIFICATIONS)
        async def send_notifications(notices: list[Notice]) -> None:
            at = activity.info().current_attempt_scheduled_time
            self.notices.extend((n.key, at) for n in notices)

        return [load_task, record_task_state, record_due_date, reassign_task, send_notifications]

    def keys(self) -> list[str]:
        """Keys of the messages sent so far."""
        return [k for k, _ in self.notices]


def _context(task_id: int, today: date, state: str, due_on: date) -> TaskContext:
    return TaskContext(
        task_id=task_id, campaign_id=10_000 + task_id, site_id=1, site_ref="S-1", site_name="Mairie du 12e",
        site_type="mairie", site_type_label="Mairie", arrondissement=12, mode="visit", state=state,
        inspector_id=INSPECTOR, inspector_available=True, round=1, window_start=today,
        window_end=today + timedelta(days=20), due_on=due_on,
        review_deadline=today + timedelta(days=34), accept_hours=48, quality_user_id=QUALITY,
        referentiel_version="1", referentiel=REFERENTIEL,
    )  # fmt: skip


@pytest.fixture(scope="module")
async def time_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """This module's own time-skipping server (shadows the session one): its tests move the clock by days."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=data_converter(settings)
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def audit_worker(time_env: WorkflowEnvironment) -> AsyncIterator[tuple[Worker, FakeAudit]]:
    """An inspection worker on fake activities (the context is set by each test before starting)."""
    fake = FakeAudit(ctx=_context(0, date.today(), "accepted", date.today()))
    async with Worker(
        time_env.client,
        task_queue=f"ops-audit-{uuid.uuid4().hex[:6]}",
        workflows=[InspectionWorkflow],
        activities=fake.activities(),
    ) as w:
        yield w, fake


async def _start_inspection(
    env: WorkflowEnvironment, w: Worker, fake: FakeAudit, state: str, due_in_days: int
) -> tuple[WorkflowHandle[Any, Any], date]:
    today = paris_date(await env.get_current_time())
    task_id = uuid.uuid4().int % 1_000_000
    fake.ctx = _context(task_id, today, state, today + timedelta(days=due_in_days))
    handle = await env.client.start_workflow(
        InspectionWorkflow.run, InspectionInput(task_id, fake.ctx.campaign_id),
        id=f"inspection-ops-{task_id}", task_queue=w.task_queue,
    )  # fmt: skip
    return handle, today


async def test_extended_deadline_moves_reminders_and_late_alert(
    time_env: WorkflowEnvironment, audit_worker: tuple[Worker, FakeAudit]
) -> None:
    w, fake = audit_worker
    handle, today = await _start_inspection(time_env, w, fake, "accepted", due_in_days=5)
    old_due, new_due = today + timedelta(days=5), today + timedelta(days=10)
    task_id = fake.ctx.task_id

    # refused by the domain rule: earlier than the current due date, or after the campaign window
    for wrong in (today + timedelta(days=4), today + timedelta(days=21)):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(InspectionWorkflow.extend_deadline, ExtendDeadline(wrong, QUALITY))
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == AuditError.INVALID_CHANGE
        assert refused.value.cause.details[0] == [{"field": "new_due_on", "message": refused.value.cause.message}]

    view = await handle.execute_update(
        InspectionWorkflow.extend_deadline, ExtendDeadline(new_due, QUALITY, "visite reportée")
    )
    assert view.late is False
    assert fake.due_dates == [DueDateRecord(task_id, new_due, False)]

    # past the old due date: no reminder for it, no late alert
    await _skip(time_env, paris_day_end(old_due) + timedelta(hours=2))
    assert not (await handle.query(InspectionWorkflow.view)).late
    assert fake.keys() == [], fake.keys()
    assert not any(s.late for s in fake.states)

    # past the new due date: reminders 3 days and 1 day before it, then the late alert at its end
    await _skip(time_env, paris_day_end(new_due) + timedelta(hours=2))
    assert (await handle.query(InspectionWorkflow.view)).late
    sent = dict(fake.notices)
    for d in (new_due - timedelta(days=3), new_due - timedelta(days=1)):
        key = f"audit-task-{task_id}-r1-reminder-{d.isoformat()}-email"
        assert sent[key] >= paris_time(d, 9)
    late_key = f"audit-task-{task_id}-late-{new_due.isoformat()}"
    assert sent[late_key] >= paris_day_end(new_due)
    assert [s.late for s in fake.states] == [True]
    await handle.terminate("fin du test")


async def test_extension_refused_once_submitted_or_closed(
    time_env: WorkflowEnvironment, audit_worker: tuple[Worker, FakeAudit]
) -> None:
    w, fake = audit_worker
    handle, today = await _start_inspection(time_env, w, fake, "submitted", due_in_days=5)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            InspectionWorkflow.extend_deadline, ExtendDeadline(today + timedelta(days=8), QUALITY)
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == AuditError.ILLEGAL_TRANSITION
    assert fake.due_dates == []
    await handle.terminate("fin du test")


async def test_accept_during_hand_over_waits_for_it(
    time_env: WorkflowEnvironment, audit_worker: tuple[Worker, FakeAudit]
) -> None:
    w, fake = audit_worker
    handle, _ = await _start_inspection(time_env, w, fake, "assigned", due_in_days=10)
    decline = await handle.start_update(
        InspectionWorkflow.decline, DeclineTask(INSPECTOR, "Indisponible"), wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    await asyncio.wait_for(fake.reassign_started.wait(), 30)
    # the database now shows the task to OTHER: his accept (and a stranger's) arrive before the workflow knows
    accept = await handle.start_update(
        InspectionWorkflow.accept, AcceptTask(OTHER), wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    stranger = await handle.start_update(
        InspectionWorkflow.accept, AcceptTask(STRANGER), wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    fake.reassign_release.set()
    view = await accept.result()
    assert (view.status, view.inspector_id, view.round) == ("accepted", OTHER, 2)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await stranger.result()
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == AuditError.NOT_YOUR_TASK
    assert (await decline.result()).round == 2
    await handle.terminate("fin du test")


async def _skip(env: WorkflowEnvironment, when: datetime) -> None:
    now = await env.get_current_time()
    assert when > now
    await env.sleep(when - now)


async def test_manual_escalation_takes_the_automatic_path_once(
    referral_env: WorkflowEnvironment,  # noqa: F811
    worker: Worker,  # noqa: F811
    sessions: SessionFactory,
    settings: Settings,
) -> None:
    env, world = referral_env, World(sessions, settings, ContactChannel.SMS)
    handle = await _start(env, worker, world, ack_business_days=10)
    sid = world.services[0].id
    assert sid is not None
    ref = (await handle.execute_update(ReferralCaseWorkflow.refer, ReferRequest(sid, "housing", world.agent_id))).ref

    escalated = await handle.execute_update(
        ReferralCaseWorkflow.escalate, EscalateReferral(ref, world.coordinator_id, ActorKind.COORDINATOR)
    )
    assert escalated.escalated_at is not None and escalated.state is ReferralState.OPEN
    row = world.referral(ref)
    assert row.escalated_at is not None and row.status == ReferralState.OPEN
    assert world.notification(f"{ref}:escalation:{world.coordinator_id}") is not None
    assert world.case().business_status == CaseBusinessStatus.SLA_BREACHED.value
    entries = [h for h in world.history() if h.event == HistoryEvent.REFERRAL_ESCALATED]
    assert [(h.actor_kind, h.actor_user_id, h.info) for h in entries] == [
        (ActorKind.COORDINATOR.value, world.coordinator_id, "manual")
    ]

    # twice is refused by the validator (nothing recorded); the SLA deadline then passes without a 2nd alert
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(ReferralCaseWorkflow.escalate, EscalateReferral(ref, world.coordinator_id))
    assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == ILLEGAL
    assert row.sla_deadline is not None
    await _skip_to(env, as_utc(row.sla_deadline) + timedelta(hours=1))
    assert len([h for h in world.history() if h.event == HistoryEvent.REFERRAL_ESCALATED]) == 1
    await handle.terminate("fin du test")


async def test_cancelled_cycle_finishes_batches_in_flight_and_starts_no_other(temporal_client: Client) -> None:
    issued: list[int] = []
    archived: list[int] = []
    delivered: list[int] = []
    two_in_flight, gate = asyncio.Event(), asyncio.Event()

    @activity.defn(name="plan_cycle")
    async def plan_cycle(req: PlanRequest) -> PlanResult:
        return PlanResult([10, 20, 30, 40, 50, 60], 60, req.issue_date, date(2031, 8, 25), [])

    @activity.defn(name="issue_batch")
    async def issue_batch(req: BatchRequest) -> BatchTotalsView:
        issued.append(req.hi)
        if len(issued) == 2:
            two_in_flight.set()
        await gate.wait()
        return BatchTotalsView(invoices=10)

    @activity.defn(name="archive_batch")
    async def archive_batch(req: BatchRequest) -> BatchTotalsView:
        archived.append(req.hi)
        return BatchTotalsView()

    @activity.defn(name="deliver_batch")
    async def deliver_batch(req: BatchRequest) -> BatchTotalsView:
        delivered.append(req.hi)
        return BatchTotalsView(emails=10)

    queue = f"ops-billing-{uuid.uuid4().hex[:6]}"
    async with Worker(
        temporal_client, task_queue=queue, workflows=[BillingCycleWorkflow],
        activities=[plan_cycle, issue_batch, archive_batch, deliver_batch],
    ):  # fmt: skip
        handle = await temporal_client.start_workflow(
            BillingCycleWorkflow.run, BillingCycleInput("2031-07", parallelism=2, issue_date=date(2031, 7, 1)),
            id=f"billing-cycle-ops-{uuid.uuid4().hex[:6]}", task_queue=queue,
        )  # fmt: skip
        await asyncio.wait_for(two_in_flight.wait(), 30)
        await handle.cancel()

        async def cancel_seen() -> bool:
            events = [e.event_type for e in (await handle.fetch_history()).events]
            asked = (
                events.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED)
                if (EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED in events)
                else len(events)
            )
            return EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in events[asked:]

        # the workflow has handled the cancellation while both batches still wait in `issue_batch`
        await eventually(cancel_seen)
        gate.set()
        with pytest.raises(WorkflowFailureError) as ended:
            await handle.result()
        assert isinstance(ended.value.cause, CancelledError)
        assert (await handle.describe()).status is WorkflowExecutionStatus.CANCELED
    assert sorted(issued) == sorted(archived) == sorted(delivered) == [10, 20]
