"""A QualiParis campaign end to end on the time-skipping server, with the real activities.

20 sites, 4 inspectors: one declines, one never answers (reassigned after the deadline), one
submission is rejected by validation then corrected, one result is sent back by the reviewer, one
inspector becomes unavailable mid-campaign, a site is added and another withdrawn late, one task is
late (reminders, alert). The campaign ends with scores, label decisions, corrective actions, a
re-audit scheduled and a report in S3.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.audit import AuditActivities
from activities.notifications import NotificationActivities
from contracts.audit_campaign import AuditCampaignInput, InspectorUnavailable, SiteChange, SiteWithdrawal
from contracts.audit_inspection import AcceptTask, ApproveTask, DeclineTask, SendBackTask, SubmitChecklist
from contracts.audit_names import AuditError
from domain.audit.campaign import PARIS, paris_day_end, paris_time
from domain.audit.criteria import AnswerType, Direction
from domain.audit.evidence import evidence_prefix
from domain.audit.referentiel import Referentiel, load_referentiel
from domain.audit.task_states import TaskState
from services.audit import ensure_bundled_referentiels, referentiel_document
from services.notifications import Notifier
from ville.aws import aws_client
from ville.db import SessionFactory
from ville.ids import audit_campaign_id, inspection_id
from ville.models.audit import (
    AuditAssignment,
    AuditBody,
    AuditCampaign,
    AuditCampaignSite,
    AuditCorrectiveAction,
    AuditInspector,
    AuditSite,
    AuditSiteResult,
    AuditTask,
)
from ville.models.billing import Notification
from ville.models.people import Role, UserAccount
from ville.settings import Settings
from workflows.audit_campaign import AuditCampaignWorkflow
from workflows.inspection import InspectionWorkflow

SITE_TYPES = ["mairie"] * 6 + ["bibliotheque"] * 5 + ["piscine"] * 4 + ["parc"] * 4


def answers_for(ref: Referentiel, site_type: str, mode: str, failing: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A complete checklist: every criterion met except those in `failing`."""
    out: dict[str, Any] = {}
    for c in ref.criteria_for(site_type, mode):
        bad = c.code in failing
        if c.answer_type is AnswerType.YES_NO:
            out[c.code] = not bad
        elif c.answer_type is AnswerType.SCALE:
            out[c.code] = 0 if bad else c.scale_max
        else:
            assert c.threshold is not None
            worse = (c.direction is Direction.AT_MOST) == bad
            out[c.code] = str(c.threshold + 5 if worse else max(Decimal(0), c.threshold - 1))
    return out


@dataclass
class World:
    """The campaign's data: ids of what the test created."""

    campaign_id: int
    quality_user_id: int
    inspectors: list[int]  # A, B, C, D
    sites: list[int]
    extra_site: int
    window_start: date
    window_end: date


def _seed(sessions: SessionFactory, today: date) -> World:
    u = uuid.uuid4().hex[:6]
    with sessions() as s:
        ensure_bundled_referentiels(s)
        quality = UserAccount(
            email=f"qualite-{u}@test.paris.fr", display_name="Cellule qualité", role=Role.quality_team
        )
        body = AuditBody(name=f"Organisme {u}", accreditation="COFRAC (test)", contact_email=f"org-{u}@test.fr")
        s.add_all([quality, body])
        s.flush()
        assert body.id is not None
        sites = [
            AuditSite(
                ref=f"S{u}-{i:02d}",
                name=f"Site {i}",
                site_type=t,
                arrondissement=i % 20 + 1,
                address=f"{i} rue du Test",
                manager_name=f"Responsable {i}",
                manager_email=f"resp{i}-{u}@test.fr",
            )
            for i, t in enumerate([*SITE_TYPES, "centre_appels_3975", "piscine"])
        ]
        s.add_all(sites)
        s.flush()
        inspectors = [
            AuditInspector(
                ref=f"I{u}-{n}",
                body_id=body.id,
                display_name=f"Inspecteur {n}",
                email=f"i{n}-{u}@test.fr",
                phone=f"+3360000000{k}",
                capacity=12,
                arrondissements=list(range(1, 21)),
                conflict_site_refs=[sites[0].ref] if n == "A" else [],
            )
            for k, n in enumerate("ABCD")
        ]
        s.add_all(inspectors)
        campaign = AuditCampaign(
            name=f"Campagne test {u}",
            referentiel_version="1",
            body_id=body.id,
            window_start=today,
            window_end=today + timedelta(days=20),
            label_threshold_permille=850,
            acceptance_hours=48,
            corrective_due_days=30,
            owner_user_id=quality.id,
        )
        s.add(campaign)
        s.flush()
        assert campaign.id is not None
        for i, site in enumerate(sites[:20]):
            modes = ["call", "email"] if site.site_type == "centre_appels_3975" else ["visit"]
            if i < 2:
                modes.append("call")
            s.add(AuditCampaignSite(campaign_id=campaign.id, site_id=site.id, modes=modes))  # type: ignore[arg-type]
        s.commit()
        return World(
            campaign_id=campaign.id,
            quality_user_id=quality.id,  # type: ignore[arg-type]
            inspectors=[i.id for i in inspectors],  # type: ignore[misc]
            sites=[x.id for x in sites[:20]],  # type: ignore[misc]
            extra_site=sites[20].id,  # type: ignore[arg-type]
            window_start=campaign.window_start,
            window_end=campaign.window_end,
        )


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    """Thread pool of the sync activities."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        yield pool


class Driver:
    """Plays the inspectors and the reviewer through the workflows' updates."""

    def __init__(self, env: WorkflowEnvironment, sessions: SessionFactory, world: World, ref: Referentiel) -> None:
        self.env, self.sessions, self.world, self.ref = env, sessions, world, ref
        self.env_today = world.window_start
        self.campaign: WorkflowHandle[Any, Any] = env.client.get_workflow_handle(audit_campaign_id(world.campaign_id))

    def tasks(self, **where: Any) -> list[AuditTask]:
        with self.sessions() as s:
            q = select(AuditTask).where(AuditTask.campaign_id == self.world.campaign_id)
            for k, v in where.items():
                q = q.where(getattr(AuditTask, k) == v)
            return list(s.exec(q.order_by(col(AuditTask.id))).all())

    def task(self, task_id: int) -> AuditTask:
        with self.sessions() as s:
            t = s.get(AuditTask, task_id)
            assert t is not None
            return t

    def site(self, site_id: int) -> AuditSite:
        with self.sessions() as s:
            site = s.get(AuditSite, site_id)
            assert site is not None
            return site

    def handle(self, task_id: int) -> WorkflowHandle[Any, Any]:
        return self.env.client.get_workflow_handle(inspection_id(task_id))

    async def accept(self, task: AuditTask) -> None:
        assert task.id is not None and task.inspector_id is not None
        view = await self.handle(task.id).execute_update(InspectionWorkflow.accept, AcceptTask(task.inspector_id))
        assert view.status == TaskState.ACCEPTED

    async def accept_all_assigned(self, skip: frozenset[int] = frozenset()) -> None:
        for t in self.tasks(state=TaskState.ASSIGNED.value):
            if t.id not in skip:
                await self.accept(t)

    def checklist(self, task: AuditTask, failing: frozenset[str] = frozenset(), **kw: Any) -> SubmitChecklist:
        assert task.id is not None and task.inspector_id is not None
        site = self.site(task.site_id)
        evidence = {code: [f"{evidence_prefix(self.world.campaign_id, task.id)}{code}/photo.jpg"] for code in failing}
        today = self.env_today
        return SubmitChecklist(
            inspector_id=task.inspector_id,
            visit_date=kw.get("visit_date", today),
            answers=kw.get("answers", answers_for(self.ref, site.site_type, task.mode, failing)),
            evidence=kw.get("evidence", evidence),
        )

    async def submit(self, task: AuditTask, failing: frozenset[str] = frozenset()) -> None:
        assert task.id is not None
        view = await self.handle(task.id).execute_update(InspectionWorkflow.submit, self.checklist(task, failing))
        assert view.status == TaskState.SUBMITTED

    async def approve(self, task_id: int) -> None:
        view = await self.handle(task_id).execute_update(
            InspectionWorkflow.approve, ApproveTask(self.world.quality_user_id)
        )
        assert view.status == TaskState.APPROVED and view.score_permille is not None

    async def refresh_today(self) -> date:
        self.env_today = (await self.env.get_current_time()).astimezone(PARIS).date()
        return self.env_today


def _update_events(history: Any) -> int:
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)


async def test_campaign_end_to_end(
    time_env: WorkflowEnvironment, settings: Settings, sessions: SessionFactory, executor: ThreadPoolExecutor
) -> None:
    client = time_env.client
    now: datetime = await time_env.get_current_time()
    world = _seed(sessions, now.astimezone(PARIS).date())
    with sessions() as s:
        doc = referentiel_document(s, "1")
    assert doc is not None
    ref = load_referentiel(doc)
    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), settings)
    audit = AuditActivities(sessions, aws_client(settings, "s3"), notifier, settings, client)
    queue = f"audit-{uuid.uuid4().hex[:8]}"
    a, b, c, d = world.inspectors
    drv = Driver(time_env, sessions, world, ref)
    await drv.refresh_today()

    async with Worker(
        client,
        task_queue=queue,
        workflows=[AuditCampaignWorkflow, InspectionWorkflow],
        activities=[*audit.activities(), NotificationActivities(notifier).send_notifications],
        activity_executor=executor,
        max_concurrent_activities=16,
    ):
        # small waves and a small history budget: continue-as-new happens on 23 tasks as it would on 6,000
        first_run = await client.start_workflow(
            AuditCampaignWorkflow.run,
            AuditCampaignInput(world.campaign_id, wave_size=5, max_history_events=150),
            id=audit_campaign_id(world.campaign_id),
            task_queue=queue,
        )
        # no run id: queries and updates reach the current run after each continue-as-new
        handle = client.get_workflow_handle_for(AuditCampaignWorkflow.run, audit_campaign_id(world.campaign_id))
        await time_env.sleep(timedelta(minutes=5))  # time moves only once every started workflow is idle
        tasks = drv.tasks()
        assert len(tasks) == 23
        assert all(t.opened_at is not None and t.state == TaskState.ASSIGNED for t in tasks)
        assert {t.inspector_id for t in tasks} == {a, b, c, d}
        assert all(t.inspector_id != a for t in tasks if t.site_id == world.sites[0])  # conflict of interest
        progress = await handle.query(AuditCampaignWorkflow.progress)
        assert progress.total_tasks == 23 and progress.by_status == {"assigned": 23}
        assert progress.started == 23

        # B declines one task: it goes to another inspector at once
        declined = drv.tasks(inspector_id=b)[0]
        assert declined.id is not None
        await drv.handle(declined.id).execute_update(
            InspectionWorkflow.decline, DeclineTask(b, "Indisponible ce jour-là")
        )
        moved = drv.task(declined.id)
        assert moved.inspector_id not in (None, b) and moved.state == TaskState.ASSIGNED and moved.round == 2
        # A foreign inspector is refused without anything entering the history
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await drv.handle(declined.id).execute_update(InspectionWorkflow.accept, AcceptTask(b))
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == AuditError.NOT_YOUR_TASK

        # C never answers one task; everything else is accepted
        silent = drv.tasks(inspector_id=c)[0]
        assert silent.id is not None
        await drv.accept_all_assigned(skip=frozenset({silent.id}))

        # late changes: a site added, another withdrawn
        withdrawn_site = world.sites[5]
        ack = await handle.execute_update(AuditCampaignWorkflow.add_site, SiteChange(world.extra_site, ["visit"]))
        assert len(ack.task_ids) == 1
        ack = await handle.execute_update(AuditCampaignWorkflow.withdraw_site, SiteWithdrawal(withdrawn_site))
        assert len(ack.task_ids) == 1
        await time_env.sleep(timedelta(minutes=1))
        assert drv.task(ack.task_ids[0]).state == TaskState.WITHDRAWN
        await drv.accept_all_assigned(skip=frozenset({silent.id}))

        # 49 hours later the silent task has expired and gone to someone else
        await time_env.sleep(timedelta(hours=49))
        expired = drv.task(silent.id)
        assert expired.inspector_id not in (None, c) and expired.state == TaskState.ASSIGNED
        await drv.accept(expired)

        # D becomes unavailable: his accepted tasks are handed over
        d_tasks = {t.id for t in drv.tasks(inspector_id=d, state=TaskState.ACCEPTED.value)}
        assert d_tasks
        ack = await handle.execute_update(AuditCampaignWorkflow.inspector_unavailable, InspectorUnavailable(d))
        assert set(ack.task_ids) == d_tasks
        await time_env.sleep(timedelta(minutes=1))
        assert not drv.tasks(inspector_id=d, state=TaskState.ACCEPTED.value)
        assert all(drv.task(t).state == TaskState.ASSIGNED for t in d_tasks)  # type: ignore[arg-type]
        await drv.accept_all_assigned()
        progress = await handle.query(AuditCampaignWorkflow.progress)
        assert progress.unavailable_inspector_ids == [d]
        assert progress.by_status == {"accepted": 23, "withdrawn": 1}

        # submissions: three sites fail a blocking criterion, one only a minor one; one task stays late
        await drv.refresh_today()
        accepted = drv.tasks(state=TaskState.ACCEPTED.value, mode="visit")
        late_task, invalid_task, sent_back_task = accepted[-1], accepted[0], accepted[1]
        failing_sites = {t.site_id for t in accepted[2:5]}
        reservation_task = accepted[5]
        assert invalid_task.id is not None and sent_back_task.id is not None and late_task.id is not None

        inspection = drv.handle(invalid_task.id)
        before = _update_events(await inspection.fetch_history())
        site = drv.site(invalid_task.site_id)
        bad = answers_for(ref, site.site_type, "visit", frozenset({"E03.1"}))
        del bad["E01.2"]
        checklist = drv.checklist(
            invalid_task, answers=bad, evidence={}, visit_date=world.window_start - timedelta(days=1)
        )
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await inspection.execute_update(InspectionWorkflow.submit, checklist)
        cause = rejected.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == AuditError.INVALID_SUBMISSION
        assert cause.message.startswith("Soumission refusée : Critère E01.2")
        fields = {f["field"]: f["message"] for f in cause.details[0]}
        assert fields.keys() == {"answers.E01.2", "evidence.E03.1", "visit_date"}
        assert "une preuve (photo, capture, relevé) est obligatoire" in fields["evidence.E03.1"]
        assert "doit être comprise entre le" in fields["visit_date"]
        assert _update_events(await inspection.fetch_history()) == before  # the validator kept history clean
        assert drv.task(invalid_task.id).state == TaskState.ACCEPTED and drv.task(invalid_task.id).submissions == 0
        await drv.submit(invalid_task)  # corrected

        for t in drv.tasks(state=TaskState.ACCEPTED.value):
            if t.id == late_task.id:
                continue
            failing = frozenset({"E03.1"}) if t.site_id in failing_sites else frozenset()
            if t.id == reservation_task.id:
                failing = frozenset({"E02.2"})  # minor, no evidence required
            await drv.submit(t, failing)

        # review: one result is sent back (a comment is required), corrected, then everything approved
        reviewer = drv.handle(sent_back_task.id)
        with pytest.raises(WorkflowUpdateFailedError) as no_comment:
            await reviewer.execute_update(InspectionWorkflow.send_back, SendBackTask(world.quality_user_id, " "))
        assert no_comment.value.cause.type == AuditError.INVALID_REVIEW  # type: ignore[attr-defined]
        view = await reviewer.execute_update(
            InspectionWorkflow.send_back, SendBackTask(world.quality_user_id, "Photo de l'entrée illisible")
        )
        assert view.status == TaskState.SENT_BACK and view.send_backs == 1
        assert drv.task(sent_back_task.id).review_comment == "Photo de l'entrée illisible"
        await drv.submit(drv.task(sent_back_task.id))
        for t in drv.tasks(state=TaskState.SUBMITTED.value):
            assert t.id is not None
            await drv.approve(t.id)
        approved = drv.task(sent_back_task.id)
        assert approved.frozen and approved.submissions == 2 and approved.score_permille == 1000

        # the late task: reminders before its due date, an alert to the quality team after it
        due_on = drv.task(late_task.id).due_on
        await time_env.sleep(paris_time(due_on + timedelta(days=1), 10) - await time_env.get_current_time())
        assert drv.task(late_task.id).late
        progress = await handle.query(AuditCampaignWorkflow.progress)
        assert progress.late_task_ids == [late_task.id]
        await drv.refresh_today()
        await drv.submit(drv.task(late_task.id))
        await drv.approve(late_task.id)

        # to the window end, then the campaign concludes; time is moved by hand, not by awaiting the result,
        # so that it stops before the re-audit's opening (that campaign must not start in this test)
        with time_env.auto_time_skipping_disabled():
            await time_env.sleep(
                paris_day_end(world.window_end) + timedelta(hours=2) - await time_env.get_current_time()
            )
            result = await first_run.result()  # follows continue-as-new

    # results: 20 sites (one withdrawn, one added), three refused, one with reservations
    summary = result.summary
    assert (summary.sites, summary.scored, summary.not_audited) == (20, 20, 0)
    assert (summary.refused, summary.granted_with_reservations, summary.granted) == (3, 1, 16)
    assert sorted(summary.failing_site_ids) == sorted(failing_sites)
    assert result.runs >= 3  # continued as new while inspections kept reporting
    with sessions() as s:
        results = {
            r.site_id: r
            for r in s.exec(select(AuditSiteResult).where(AuditSiteResult.campaign_id == world.campaign_id)).all()
        }
        assert withdrawn_site not in results and world.extra_site in results
        assert all(results[sid].decision == "refused" for sid in failing_sites)
        actions = s.exec(
            select(AuditCorrectiveAction).where(AuditCorrectiveAction.campaign_id == world.campaign_id)
        ).all()
        blocking = [x for x in actions if x.criterion_code == "E03.1"]
        assert {x.site_id for x in blocking} == failing_sites
        assert all(x.priority == "high" and x.owner.startswith("Responsable") for x in blocking)
        assert all(x.due_on >= world.window_end for x in actions)
        assert {x.criterion_code for x in actions} == {"E03.1", "E02.2"}

        # assignment history: declined, expired, withdrawn from the unavailable inspector
        outcomes = {(x.task_id, x.round): x.outcome for x in s.exec(select(AuditAssignment)).all()}
        assert outcomes[(declined.id, 1)] == TaskState.DECLINED
        assert outcomes[(silent.id, 1)] == TaskState.EXPIRED
        assert all(any(outcomes.get((t, r)) == TaskState.WITHDRAWN for r in (1, 2, 3)) for t in d_tasks)

        # re-audit of the refused sites, scheduled after the corrective actions are due
        follow_up = s.exec(select(AuditCampaign).where(AuditCampaign.parent_campaign_id == world.campaign_id)).one()
        assert result.reaudit_campaign_id == follow_up.id and follow_up.status == "scheduled"
        assert follow_up.window_start > max(x.due_on for x in blocking)
        reaudit_sites = s.exec(
            select(AuditCampaignSite.site_id).where(AuditCampaignSite.campaign_id == follow_up.id)
        ).all()
        assert set(reaudit_sites) == failing_sites

        # notifications, each once: assignment, reminders (e-mail and SMS), late alert, send-back, results
        # this campaign's messages only: the session database also holds those of the API tests' campaigns,
        # whose worker may stop mid-batch at their end (a key left "sending", never retried in that test)
        own = (*(f"audit-task-{t.id}-" for t in drv.tasks()), f"audit-result-{world.campaign_id}-")
        rows = s.exec(select(Notification.key, Notification.status).where(col(Notification.key).startswith("audit-")))
        status_of = {k: v for k, v in rows.all() if k.startswith(own)}
    keys = set(status_of)
    assert {k: v for k, v in status_of.items() if v != "sent"} == {}
    assert f"audit-task-{silent.id}-r1-assigned" in keys and f"audit-task-{silent.id}-r2-assigned" in keys
    late_round = drv.task(late_task.id).round
    assert any(k.startswith(f"audit-task-{late_task.id}-r{late_round}-reminder-") and k.endswith("-sms") for k in keys)
    assert f"audit-task-{late_task.id}-late" in keys
    assert f"audit-task-{sent_back_task.id}-sendback-1" in keys
    assert {f"audit-result-{world.campaign_id}-{sid}" for sid in results} <= keys

    # the report, in S3
    s3 = aws_client(settings, "s3")
    report_csv = s3.get_object(Bucket=settings.s3_bucket, Key=result.report.csv_key)["Body"].read().decode("utf-8-sig")
    assert "Synthèse par type de site" in report_csv and "Synthèse par arrondissement" in report_csv
    assert "Mairie d'arrondissement;" in report_csv and "Label refusé" in report_csv
    pdf = s3.get_object(Bucket=settings.s3_bucket, Key=result.report.pdf_key)["Body"].read()
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000

    # the re-audit workflow waits (durable timer) for its window, nothing planned yet; stop it, the test is over
    reaudit = client.get_workflow_handle(audit_campaign_id(follow_up.id))
    assert (await reaudit.describe()).status == WorkflowExecutionStatus.RUNNING
    with sessions() as s:
        assert not s.exec(select(AuditTask).where(AuditTask.campaign_id == follow_up.id)).all()
    await reaudit.terminate("fin du test")
