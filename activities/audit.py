"""QualiParis activities: planning, task persistence and reassignment, results, report (CSV and PDF in S3)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import structlog
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import delete, func
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from contracts.audit import (
    AUDIT_CAMPAIGN_WORKFLOW,
    INSPECTION_WORKFLOW,
    AuditActivity,
    AuditError,
    CampaignInspectorUnavailable,
    CampaignSiteAdd,
    CampaignSiteWithdrawal,
    CampaignStatusChange,
    DueDateRecord,
    InspectionInput,
    ManualAssignment,
    PlanResult,
    ReassignOutcome,
    ReassignRequest,
    ReauditPlan,
    RecipientKind,
    ReportKeys,
    ResultsRequest,
    ResultsSummary,
    ReviewRecord,
    SiteWithdrawalResult,
    StartCampaign,
    StartInspections,
    SubmissionRecord,
    TaskContext,
    TaskStateRecord,
)
from documents.pdf_fonts import PdfFonts, pdf_fonts
from domain.audit.assignment import AuditTask as DomainTask
from domain.audit.assignment import Inspector, SiteToAudit, plan_assignments, reassign
from domain.audit.campaign import inspection_due_date, reaudit_window, review_deadline
from domain.audit.referentiel import AuditMode, Referentiel, format_decimal, load_referentiel
from domain.audit.scoring import (
    CampaignSummary,
    GroupSummary,
    LabelDecision,
    SiteResult,
    SiteScore,
    aggregate,
    combine_scores,
    corrective_actions,
    decide_label,
    score_site,
)
from domain.audit.task_states import TaskState
from domain.calendar import format_date_fr
from services.audit import referentiel_document
from services.notifications import Contact, NotificationRequest, Notifier, raise_if_retryable, register_resolver
from ville.db import SessionFactory
from ville.ids import audit_campaign_id, inspection_id
from ville.models.audit import (
    AuditAssignment,
    AuditCampaign,
    AuditCampaignSite,
    AuditCorrectiveAction,
    AuditInspector,
    AuditSite,
    AuditSiteResult,
    AuditTask,
    CampaignStatus,
    InspectorUnavailability,
)
from ville.models.common import utcnow
from ville.models.people import Role, UserAccount
from ville.settings import Settings
from ville.temporal import SA_BUSINESS_STATUS, SA_CAMPAIGN

log = structlog.get_logger(__name__)

# States in which a task counts in its inspector's load (domain.audit.assignment: "open tasks").
LOAD_STATES = (TaskState.ASSIGNED, TaskState.ACCEPTED, TaskState.SUBMITTED, TaskState.SENT_BACK)
NOT_AUDITED = "not_audited"
DECISION_LABELS = {**{d.value: d.label for d in LabelDecision}, NOT_AUDITED: "Non audité"}


# --- contacts ------------------------------------------------------------------------------------


@register_resolver(RecipientKind.INSPECTOR)
def _inspector_contact(s: Session, inspector_id: int) -> Contact | None:
    inspector = s.get(AuditInspector, inspector_id)
    return None if inspector is None else Contact(inspector.email, inspector.phone, inspector.display_name)


@register_resolver(RecipientKind.SITE_MANAGER)
def _site_manager_contact(s: Session, site_id: int) -> Contact | None:
    site = s.get(AuditSite, site_id)
    return None if site is None else Contact(site.manager_email, site.manager_phone, site.manager_name)


@register_resolver(RecipientKind.QUALITY)
def _quality_contact(s: Session, user_id: int) -> Contact | None:
    user = s.get(UserAccount, user_id)
    if user is None or not user.active or user.role not in (Role.quality_team, Role.admin):
        return None
    return Contact(user.email, None, user.display_name)


# --- helpers -------------------------------------------------------------------------------------


def _fail(error_type: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=error_type, non_retryable=True)


def _campaign(s: Session, campaign_id: int, lock: bool = False) -> AuditCampaign:
    query = select(AuditCampaign).where(AuditCampaign.id == campaign_id)
    if lock:  # serialises assignment decisions of one campaign on PostgreSQL (SQLite locks the file)
        query = query.with_for_update()
    campaign = s.exec(query).first()
    if campaign is None:
        raise _fail(AuditError.NOT_FOUND, f"Campagne {campaign_id} introuvable")
    return campaign


def _task(s: Session, task_id: int) -> AuditTask:
    task = s.get(AuditTask, task_id)
    if task is None:
        raise _fail(AuditError.NOT_FOUND, f"Tâche {task_id} introuvable")
    return task


def _unavailable(s: Session, campaign_id: int) -> set[int]:
    rows = s.exec(
        select(InspectorUnavailability.inspector_id).where(InspectorUnavailability.campaign_id == campaign_id)
    ).all()
    return set(rows)


def _domain_inspector(i: AuditInspector) -> Inspector:
    return Inspector(
        ref=i.ref,
        capacity=i.capacity,
        arrondissements=frozenset(int(a) for a in i.arrondissements),
        conflicts=frozenset(str(r) for r in i.conflict_site_refs),
    )


def _team(s: Session, body_id: int, unavailable: set[int]) -> tuple[list[Inspector], dict[str, int]]:
    """Active, available inspectors of the body as domain objects, and their ids by ref."""
    rows = s.exec(select(AuditInspector).where(AuditInspector.body_id == body_id, col(AuditInspector.active))).all()
    available = [i for i in rows if i.id not in unavailable]
    return [_domain_inspector(i) for i in available], {i.ref: int(i.id) for i in available if i.id is not None}


def _load(s: Session, campaign_id: int, exclude_task: int | None = None) -> dict[int, int]:
    """Open tasks per inspector id in the campaign."""
    query = (
        select(AuditTask.inspector_id, func.count())
        .where(
            AuditTask.campaign_id == campaign_id,
            col(AuditTask.state).in_([st.value for st in LOAD_STATES]),
            col(AuditTask.inspector_id).is_not(None),
        )
        .group_by(col(AuditTask.inspector_id))
    )
    if exclude_task is not None:
        query = query.where(AuditTask.id != exclude_task)
    return {int(i): int(n) for i, n in s.exec(query).all() if i is not None}


def _attributes(enabled: bool, campaign_id: int, status: str) -> TypedSearchAttributes | None:
    """Operator search attributes (business keys only) when the namespace has them."""
    if not enabled:
        return None
    return TypedSearchAttributes(
        [SearchAttributePair(SA_CAMPAIGN, str(campaign_id)), SearchAttributePair(SA_BUSINESS_STATUS, status)]
    )


def _permille(percent: Decimal) -> int:
    return int(percent * 10)


def format_permille(value: int | None) -> str:
    """`875` -> `87,5 %` (French)."""
    if value is None:
        return "—"
    return f"{format_decimal(Decimal(value).scaleb(-1).quantize(Decimal('0.1')))} %"


def _new_tasks(
    s: Session, campaign: AuditCampaign, sites: Sequence[tuple[AuditSite, list[str]]], existing_load: dict[int, int]
) -> list[AuditTask]:
    """Plan and insert the tasks of `sites` (assignment from the domain); returns them with ids."""
    assert campaign.id is not None
    inspectors, id_by_ref = _team(s, campaign.body_id, _unavailable(s, campaign.id))
    ref_by_id = {v: k for k, v in id_by_ref.items()}
    plan = plan_assignments(
        [
            SiteToAudit(site.ref, site.arrondissement, site.site_type, tuple(AuditMode(m) for m in modes))
            for site, modes in sites
        ],
        inspectors,
        existing_load={ref_by_id[i]: n for i, n in existing_load.items() if i in ref_by_id},
    )
    site_by_ref = {site.ref: site for site, _ in sites}
    due_on = inspection_due_date(campaign.window_start, campaign.window_end)
    tasks: list[AuditTask] = []
    for a in plan.assignments:
        tasks.append(
            AuditTask(
                campaign_id=campaign.id,
                site_id=site_by_ref[a.task.site_ref].id,
                mode=a.task.mode.value,
                state=TaskState.ASSIGNED.value,
                inspector_id=id_by_ref[a.inspector_ref],
                due_on=due_on,
            )
        )
    for u in plan.unassigned:
        tasks.append(
            AuditTask(
                campaign_id=campaign.id,
                site_id=site_by_ref[u.task.site_ref].id,
                mode=u.task.mode.value,
                state=None,
                inspector_id=None,
                due_on=due_on,
                unassigned_reason=u.reason.value,
            )
        )
    s.add_all(tasks)
    s.flush()
    s.add_all(
        AuditAssignment(task_id=t.id, round=1, inspector_id=t.inspector_id) for t in tasks if t.inspector_id is not None
    )
    return tasks


@dataclass(frozen=True)
class _Evaluation:
    """A site of the campaign with its approved results scored (score None: nothing approved)."""

    site: AuditSite
    planned_modes: tuple[str, ...]
    audited_modes: tuple[str, ...]
    score: SiteScore | None
    decision: LabelDecision | None


def _evaluate(s: Session, campaign: AuditCampaign, referentiel: Referentiel) -> list[_Evaluation]:
    """Score every site still in the campaign from its approved (frozen) results, by the domain rules."""
    threshold = Decimal(campaign.label_threshold_permille).scaleb(-1)
    links = s.exec(
        select(AuditCampaignSite, AuditSite)
        .join(AuditSite, col(AuditSite.id) == AuditCampaignSite.site_id)
        .where(AuditCampaignSite.campaign_id == campaign.id, col(AuditCampaignSite.withdrawn).is_(False))
        .order_by(col(AuditSite.ref))
    ).all()
    approved: dict[int, list[AuditTask]] = {}
    for t in s.exec(
        select(AuditTask).where(AuditTask.campaign_id == campaign.id, AuditTask.state == TaskState.APPROVED.value)
    ).all():
        approved.setdefault(t.site_id, []).append(t)
    out = []
    for link, site in links:
        tasks = sorted(approved.get(site.id or 0, []), key=lambda t: t.mode)
        score = decision = None
        if tasks:
            score = combine_scores(score_site(referentiel, site.site_type, t.mode, t.answers or {}) for t in tasks)
            decision = decide_label(score, threshold)
        out.append(_Evaluation(site, tuple(link.modes), tuple(t.mode for t in tasks), score, decision))
    return out


def _referentiel(s: Session, version: str) -> Referentiel:
    doc = referentiel_document(s, version)
    if doc is None:
        raise _fail(AuditError.NOT_FOUND, f"Référentiel {version} introuvable")
    return load_referentiel(doc)


class AuditActivities:
    """Database, S3 and notification work of the audit campaigns."""

    def __init__(
        self, sessions: SessionFactory, s3: Any, notifier: Notifier, settings: Settings, client: Client | None = None
    ) -> None:
        self.sessions = sessions
        self.s3 = s3
        self.notifier = notifier
        self.bucket = settings.s3_bucket
        self.client = client  # the worker's Temporal client: starts inspections and follow-up campaigns

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activities to register on a worker."""
        return [
            self.plan_campaign,
            self.start_inspections,
            self.start_campaign,
            self.set_campaign_status,
            self.add_campaign_site,
            self.withdraw_campaign_site,
            self.mark_inspector_unavailable,
            self.load_task,
            self.record_task_state,
            self.reassign_task,
            self.assign_task,
            self.save_submission,
            self.record_review,
            self.compute_results,
            self.schedule_reaudit,
            self.build_report,
            self.notify_site_managers,
            self.record_due_date,
        ]

    # --- campaign ------------------------------------------------------------------------------

    @activity.defn(name=AuditActivity.PLAN_CAMPAIGN)
    def plan_campaign(self, campaign_id: int) -> PlanResult:
        """Create the campaign's tasks and first assignments (once; later calls return the same tasks)."""
        with self.sessions() as s:
            campaign = _campaign(s, campaign_id, lock=True)
            deadline = review_deadline(campaign.window_end)
            existing = s.exec(select(AuditTask).where(AuditTask.campaign_id == campaign_id)).all()
            if existing:
                return PlanResult(
                    task_ids=sorted(int(t.id) for t in existing if t.id is not None),
                    unassigned=sum(1 for t in existing if t.inspector_id is None),
                    window_start=campaign.window_start.isoformat(),
                    window_end=campaign.window_end.isoformat(),
                    review_deadline=deadline.isoformat(),
                )
            rows = s.exec(
                select(AuditCampaignSite, AuditSite)
                .join(AuditSite, col(AuditSite.id) == AuditCampaignSite.site_id)
                .where(AuditCampaignSite.campaign_id == campaign_id, col(AuditCampaignSite.withdrawn).is_(False))
            ).all()
            tasks = _new_tasks(s, campaign, [(site, list(cs.modes)) for cs, site in rows], {})
            campaign.status = CampaignStatus.running.value
            campaign.started_at = utcnow()
            s.add(campaign)
            s.commit()
            result = PlanResult(
                task_ids=sorted(int(t.id) for t in tasks if t.id is not None),
                unassigned=sum(1 for t in tasks if t.inspector_id is None),
                window_start=campaign.window_start.isoformat(),
                window_end=campaign.window_end.isoformat(),
                review_deadline=deadline.isoformat(),
            )
        log.info("audit.planned", campaign_id=campaign_id, tasks=len(result.task_ids), unassigned=result.unassigned)
        return result

    @activity.defn(name=AuditActivity.START_INSPECTIONS)
    async def start_inspections(self, wave: StartInspections) -> int:
        """Start one inspection workflow per task; a task already started keeps its workflow."""
        assert self.client is not None, "AuditActivities needs the Temporal client to start inspections"
        client, queue = self.client, activity.info().task_queue
        attributes = _attributes(wave.search_attributes, wave.campaign_id, "assigned")

        async def start(task_id: int) -> None:
            await client.start_workflow(
                INSPECTION_WORKFLOW,
                InspectionInput(task_id, wave.campaign_id),
                id=inspection_id(task_id),
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=attributes,
            )

        for i in range(0, len(wave.task_ids), 20):  # a few concurrent starts, a heartbeat per chunk
            await asyncio.gather(*(start(t) for t in wave.task_ids[i : i + 20]))
            activity.heartbeat(i)
        return len(wave.task_ids)

    @activity.defn(name=AuditActivity.START_CAMPAIGN)
    async def start_campaign(self, request: StartCampaign) -> None:
        """Start a campaign workflow (a re-audit waiting for its window); harmless if already started."""
        assert self.client is not None, "AuditActivities needs the Temporal client to start campaigns"
        campaign_id = request.campaign.campaign_id
        await self.client.start_workflow(
            AUDIT_CAMPAIGN_WORKFLOW,
            request.campaign,
            id=audit_campaign_id(campaign_id),
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=_attributes(request.search_attributes, campaign_id, "scheduled"),
        )

    @activity.defn(name=AuditActivity.SET_CAMPAIGN_STATUS)
    def set_campaign_status(self, change: CampaignStatusChange) -> None:
        """Persist the campaign's status."""
        with self.sessions() as s:
            campaign = _campaign(s, change.campaign_id)
            campaign.status = CampaignStatus(change.status).value
            if change.status == CampaignStatus.reported and campaign.closed_at is None:
                campaign.closed_at = utcnow()
            s.add(campaign)
            s.commit()

    @activity.defn(name=AuditActivity.ADD_SITE)
    def add_campaign_site(self, change: CampaignSiteAdd) -> list[int]:
        """Add a site to a running campaign and plan its tasks; the ids of its tasks (idempotent)."""
        with self.sessions() as s:
            campaign = _campaign(s, change.campaign_id, lock=True)
            site = s.get(AuditSite, change.site_id)
            if site is None or not site.active:
                raise _fail(AuditError.INVALID_CHANGE, f"Site {change.site_id} inconnu ou inactif")
            referentiel = _referentiel(s, campaign.referentiel_version)
            if site.site_type not in referentiel.site_type_codes:
                raise _fail(
                    AuditError.INVALID_CHANGE,
                    f"Le référentiel {referentiel.version} ne couvre pas le type de site {site.site_type}",
                )
            modes = [AuditMode(m).value for m in change.modes]
            link = s.exec(
                select(AuditCampaignSite).where(
                    AuditCampaignSite.campaign_id == change.campaign_id, AuditCampaignSite.site_id == change.site_id
                )
            ).first()
            if link is not None:
                if link.withdrawn:
                    raise _fail(AuditError.INVALID_CHANGE, f"Le site {site.ref} a été retiré de cette campagne")
                ids = s.exec(
                    select(AuditTask.id).where(
                        AuditTask.campaign_id == change.campaign_id, AuditTask.site_id == change.site_id
                    )
                ).all()
                return sorted(int(i) for i in ids if i is not None)
            s.add(
                AuditCampaignSite(campaign_id=change.campaign_id, site_id=change.site_id, modes=modes, added_late=True)
            )
            tasks = _new_tasks(s, campaign, [(site, modes)], _load(s, change.campaign_id))
            s.commit()
            return sorted(int(t.id) for t in tasks if t.id is not None)

    @activity.defn(name=AuditActivity.WITHDRAW_SITE)
    def withdraw_campaign_site(self, change: CampaignSiteWithdrawal) -> SiteWithdrawalResult:
        """Withdraw a site: tasks nobody opened yet are closed here, the others are returned."""
        with self.sessions() as s:
            link = s.exec(
                select(AuditCampaignSite).where(
                    AuditCampaignSite.campaign_id == change.campaign_id, AuditCampaignSite.site_id == change.site_id
                )
            ).first()
            if link is None:
                raise _fail(AuditError.INVALID_CHANGE, f"Le site {change.site_id} n'est pas dans cette campagne")
            link.withdrawn = True
            link.withdrawn_reason = change.reason[:300]
            s.add(link)
            open_ids, closed_ids = [], []
            tasks = s.exec(
                select(AuditTask).where(
                    AuditTask.campaign_id == change.campaign_id, AuditTask.site_id == change.site_id
                )
            ).all()
            for t in tasks:
                assert t.id is not None
                if t.state in (TaskState.APPROVED, TaskState.WITHDRAWN):
                    continue
                if t.opened_at is None:
                    t.state = TaskState.WITHDRAWN.value
                    t.withdrawn_reason = change.reason[:300]
                    t.updated_at = utcnow()
                    s.add(t)
                    closed_ids.append(t.id)
                else:
                    open_ids.append(t.id)
            s.commit()
            return SiteWithdrawalResult(open_task_ids=sorted(open_ids), closed_task_ids=sorted(closed_ids))

    @activity.defn(name=AuditActivity.INSPECTOR_UNAVAILABLE)
    def mark_inspector_unavailable(self, change: CampaignInspectorUnavailable) -> list[int]:
        """Record the unavailability; the inspector's tasks still in progress (to hand over)."""
        with self.sessions() as s:
            _campaign(s, change.campaign_id)
            inspector = s.get(AuditInspector, change.inspector_id)
            if inspector is None:
                raise _fail(AuditError.INVALID_CHANGE, f"Inspecteur {change.inspector_id} inconnu")
            known = s.exec(
                select(InspectorUnavailability).where(
                    InspectorUnavailability.campaign_id == change.campaign_id,
                    InspectorUnavailability.inspector_id == change.inspector_id,
                )
            ).first()
            if known is None:
                s.add(
                    InspectorUnavailability(
                        campaign_id=change.campaign_id, inspector_id=change.inspector_id, reason=change.reason[:300]
                    )
                )
            ids = s.exec(
                select(AuditTask.id).where(
                    AuditTask.campaign_id == change.campaign_id,
                    AuditTask.inspector_id == change.inspector_id,
                    col(AuditTask.state).in_([st.value for st in LOAD_STATES]),
                )
            ).all()
            s.commit()
            return sorted(int(i) for i in ids if i is not None)

    # --- inspection ----------------------------------------------------------------------------

    @activity.defn(name=AuditActivity.LOAD_TASK)
    def load_task(self, task_id: int) -> TaskContext:
        """What the inspection needs; marks the task opened (from now on its inspector sees it)."""
        with self.sessions() as s:
            task = _task(s, task_id)
            campaign = _campaign(s, task.campaign_id)
            site = s.get(AuditSite, task.site_id)
            assert site is not None and campaign.id is not None
            doc = referentiel_document(s, campaign.referentiel_version)
            if doc is None:
                raise _fail(AuditError.NOT_FOUND, f"Référentiel {campaign.referentiel_version} introuvable")
            referentiel = load_referentiel(doc)
            labels = {st.code: st.label for st in referentiel.site_types}
            if task.opened_at is None:
                task.opened_at = utcnow()
                s.add(task)
                s.commit()
            available = task.inspector_id is None or task.inspector_id not in _unavailable(s, campaign.id)
            quality_user = (
                campaign.owner_user_id
                or s.exec(
                    select(UserAccount.id).where(UserAccount.role == Role.quality_team, col(UserAccount.active))
                ).first()
            )
            return TaskContext(
                task_id=task_id,
                campaign_id=campaign.id,
                site_id=site.id,
                site_ref=site.ref,
                site_name=site.name,
                site_type=site.site_type,
                site_type_label=labels.get(site.site_type, site.site_type),
                arrondissement=site.arrondissement,
                mode=task.mode,
                state=task.state,
                inspector_id=task.inspector_id,
                inspector_available=available,
                round=task.round,
                window_start=campaign.window_start.isoformat(),
                window_end=campaign.window_end.isoformat(),
                due_on=task.due_on.isoformat(),
                review_deadline=review_deadline(campaign.window_end).isoformat(),
                accept_hours=campaign.acceptance_hours,
                quality_user_id=quality_user,
                referentiel_version=campaign.referentiel_version,
                referentiel=doc,
                submissions=task.submissions,
                send_backs=task.send_backs,
                late=task.late,
                answers=dict(task.answers or {}),
            )

    @activity.defn(name=AuditActivity.RECORD_TASK_STATE)
    def record_task_state(self, record: TaskStateRecord) -> None:
        """Persist a state change (idempotent); an approved result is never changed again."""
        with self.sessions() as s:
            task = _task(s, record.task_id)
            if task.frozen:
                return
            if record.assignment_outcome is not None:
                self._close_assignment(s, record.task_id, record.round, record.assignment_outcome, record.reason)
            task.state = record.state
            task.inspector_id = record.inspector_id
            task.round = record.round
            if record.late is not None:
                task.late = record.late
            if record.state == TaskState.WITHDRAWN:
                task.withdrawn_reason = record.reason[:300] or None
            task.updated_at = utcnow()
            s.add(task)
            s.commit()

    @staticmethod
    def _close_assignment(s: Session, task_id: int, round_: int, outcome: str, reason: str) -> None:
        assignment = s.exec(
            select(AuditAssignment).where(AuditAssignment.task_id == task_id, AuditAssignment.round == round_)
        ).first()
        if assignment is not None and assignment.outcome is None:
            assignment.outcome = TaskState(outcome).value
            assignment.reason = reason[:300] or None
            assignment.ended_at = utcnow()
            s.add(assignment)

    @activity.defn(name=AuditActivity.RECORD_DUE_DATE)
    def record_due_date(self, record: DueDateRecord) -> None:
        """Persist a moved due date and the late flag that goes with it (idempotent)."""
        with self.sessions() as s:
            task = _task(s, record.task_id)
            if task.frozen:
                return
            task.due_on = date.fromisoformat(record.due_on)
            task.late = record.late
            task.updated_at = utcnow()
            s.add(task)
            s.commit()

    @activity.defn(name=AuditActivity.REASSIGN_TASK)
    def reassign_task(self, request: ReassignRequest) -> ReassignOutcome:
        """End assignment `round` and give the task to the next eligible inspector (domain rule), if any."""
        with self.sessions() as s:
            task = _task(s, request.task_id)
            campaign = _campaign(s, task.campaign_id, lock=True)
            if task.round > request.round:  # already done by an earlier attempt of this activity
                return ReassignOutcome(task.inspector_id, task.round)
            self._close_assignment(s, task.id, request.round, request.outcome, request.reason)
            site = s.get(AuditSite, task.site_id)
            assert site is not None and campaign.id is not None
            inspectors, id_by_ref = _team(s, campaign.body_id, _unavailable(s, campaign.id))
            ref_by_id = {v: k for k, v in id_by_ref.items()}
            tried = s.exec(select(AuditAssignment.inspector_id).where(AuditAssignment.task_id == task.id)).all()
            load = _load(s, campaign.id, exclude_task=task.id)
            chosen = reassign(
                DomainTask(site.ref, site.arrondissement, site.site_type, AuditMode(task.mode)),
                inspectors,
                excluded={ref_by_id[i] for i in tried if i in ref_by_id},
                load={ref_by_id[i]: n for i, n in load.items() if i in ref_by_id},
            )
            new_round = request.round + 1
            task.round = new_round
            task.updated_at = utcnow()
            if chosen is None:
                task.state, task.inspector_id, task.unassigned_reason = None, None, "no_eligible_inspector"
            else:
                task.state, task.inspector_id = TaskState.ASSIGNED.value, id_by_ref[chosen]
                s.add(AuditAssignment(task_id=task.id, round=new_round, inspector_id=id_by_ref[chosen]))
            s.add(task)
            s.commit()
            log.info("audit.reassigned", task_id=task.id, round=new_round, found=chosen is not None)
            return ReassignOutcome(task.inspector_id, new_round)

    @activity.defn(name=AuditActivity.ASSIGN_TASK)
    def assign_task(self, request: ManualAssignment) -> ReassignOutcome:
        """Assignment by the quality team of a task without inspector (area, conflicts, capacity checked)."""
        with self.sessions() as s:
            task = _task(s, request.task_id)
            campaign = _campaign(s, task.campaign_id, lock=True)
            done = s.exec(
                select(AuditAssignment).where(
                    AuditAssignment.task_id == request.task_id, AuditAssignment.round == request.round
                )
            ).first()
            if done is not None and done.inspector_id == request.inspector_id:
                return ReassignOutcome(done.inspector_id, done.round)
            if task.inspector_id is not None or done is not None:
                raise _fail(AuditError.INVALID_ASSIGNMENT, "Cette tâche a déjà un inspecteur")
            inspector = s.get(AuditInspector, request.inspector_id)
            assert campaign.id is not None
            if inspector is None or not inspector.active or inspector.body_id != campaign.body_id:
                raise _fail(AuditError.INVALID_ASSIGNMENT, "Inspecteur inconnu pour l'organisme de cette campagne")
            if inspector.id in _unavailable(s, campaign.id):
                raise _fail(AuditError.INVALID_ASSIGNMENT, "Cet inspecteur est indisponible pour cette campagne")
            site = s.get(AuditSite, task.site_id)
            assert site is not None
            domain_task = DomainTask(site.ref, site.arrondissement, site.site_type, AuditMode(task.mode))
            if not _domain_inspector(inspector).can_audit(domain_task):
                raise _fail(
                    AuditError.INVALID_ASSIGNMENT,
                    "Cet inspecteur ne couvre pas cet arrondissement ou a un conflit d'intérêts avec ce site",
                )
            if _load(s, campaign.id).get(request.inspector_id, 0) >= inspector.capacity:
                raise _fail(AuditError.INVALID_ASSIGNMENT, "La capacité de cet inspecteur est atteinte")
            s.add(
                AuditAssignment(
                    task_id=request.task_id,
                    round=request.round,
                    inspector_id=request.inspector_id,
                    assigned_by_user_id=request.by_user_id,
                )
            )
            task.state, task.inspector_id, task.round = TaskState.ASSIGNED.value, request.inspector_id, request.round
            task.updated_at = utcnow()
            s.add(task)
            s.commit()
            return ReassignOutcome(request.inspector_id, request.round)

    @activity.defn(name=AuditActivity.SAVE_SUBMISSION)
    def save_submission(self, record: SubmissionRecord) -> None:
        """Store a validated checklist (answers, evidence keys, audit date)."""
        with self.sessions() as s:
            task = _task(s, record.task_id)
            if task.frozen:
                raise _fail(AuditError.ILLEGAL_TRANSITION, "Résultat déjà validé : il ne peut plus changer")
            task.answers = dict(record.answers)
            task.evidence = {k: list(v) for k, v in record.evidence.items()}
            task.visit_date = date.fromisoformat(record.visit_date)
            task.inspector_comment = record.comment[:2000] or None
            task.submissions = record.submission_no
            task.state = TaskState.SUBMITTED.value
            task.submitted_at = utcnow()
            task.updated_at = utcnow()
            s.add(task)
            s.commit()

    @activity.defn(name=AuditActivity.RECORD_REVIEW)
    def record_review(self, record: ReviewRecord) -> None:
        """Persist a review: approval freezes the result and its score; a send-back keeps the comment."""
        with self.sessions() as s:
            task = _task(s, record.task_id)
            if task.frozen:
                return
            task.review_comment = record.comment[:2000] or None
            task.reviewer_user_id = record.reviewer_user_id
            task.send_backs = record.send_backs
            if record.approved:
                task.state = TaskState.APPROVED.value
                task.frozen = True
                task.approved_at = utcnow()
                task.score_permille = record.score_permille
                self._close_assignment(s, record.task_id, record.round, TaskState.APPROVED, "")
            else:
                task.state = TaskState.SENT_BACK.value
            task.updated_at = utcnow()
            s.add(task)
            s.commit()

    # --- closing -------------------------------------------------------------------------------

    @activity.defn(name=AuditActivity.COMPUTE_RESULTS)
    def compute_results(self, request: ResultsRequest) -> ResultsSummary:
        """Score every site from its approved results, decide its label, open corrective actions."""
        today = date.fromisoformat(request.today)
        with self.sessions() as s:
            campaign = _campaign(s, request.campaign_id)
            evaluations = _evaluate(s, campaign, _referentiel(s, campaign.referentiel_version))
            # recomputing replaces the previous results: the activity can run again safely
            s.execute(delete(AuditCorrectiveAction).where(col(AuditCorrectiveAction.campaign_id) == campaign.id))
            s.execute(delete(AuditSiteResult).where(col(AuditSiteResult.campaign_id) == campaign.id))
            actions_count = 0
            for e in evaluations:
                site_id = e.site.id
                assert site_id is not None
                if e.score is None or e.decision is None:
                    s.add(
                        AuditSiteResult(
                            campaign_id=request.campaign_id,
                            site_id=site_id,
                            modes_audited=[],
                            decision=NOT_AUDITED,
                            failed_criteria=[],
                        )
                    )
                    continue
                s.add(
                    AuditSiteResult(
                        campaign_id=request.campaign_id,
                        site_id=site_id,
                        modes_audited=list(e.audited_modes),
                        complete=set(e.audited_modes) == set(e.planned_modes),
                        score_permille=_permille(e.score.percent),
                        decision=e.decision.value,
                        failed_criteria=[r.code for r in e.score.failed],
                    )
                )
                owner = f"{e.site.manager_name}, responsable — {e.site.name}"[:200]
                for action in corrective_actions(e.score.results, owner, today, campaign.corrective_due_days):
                    actions_count += 1
                    s.add(
                        AuditCorrectiveAction(
                            campaign_id=request.campaign_id,
                            site_id=site_id,
                            criterion_code=action.criterion_code,
                            commitment_code=action.commitment_code,
                            description=action.description[:1000],
                            owner=action.owner,
                            due_on=action.due_on,
                            priority=action.priority.value,
                        )
                    )
            s.commit()
        overall = aggregate(_site_results(evaluations)).overall
        log.info("audit.results", campaign_id=request.campaign_id, scored=overall.count, refused=overall.refused)
        return ResultsSummary(
            sites=len(evaluations),
            scored=overall.count,
            granted=overall.granted,
            granted_with_reservations=overall.granted_with_reservations,
            refused=overall.refused,
            not_audited=sum(1 for e in evaluations if e.score is None),
            corrective_actions=actions_count,
            failing_site_ids=[e.site.id for e in evaluations if e.decision is LabelDecision.REFUSED and e.site.id],
            average_percent=format_decimal(overall.average_percent) if overall.average_percent is not None else None,
        )

    @activity.defn(name=AuditActivity.SCHEDULE_REAUDIT)
    def schedule_reaudit(self, request: ResultsRequest) -> ReauditPlan:
        """Create (once) the follow-up campaign of the refused sites, opening after their actions are due."""
        with self.sessions() as s:
            campaign = _campaign(s, request.campaign_id)
            existing = s.exec(select(AuditCampaign).where(AuditCampaign.parent_campaign_id == campaign.id)).first()
            if existing is not None:
                n = s.exec(select(func.count()).where(AuditCampaignSite.campaign_id == existing.id)).one()
                return ReauditPlan(existing.id, existing.window_start.isoformat(), int(n))
            refused = s.exec(
                select(AuditSiteResult.site_id).where(
                    AuditSiteResult.campaign_id == campaign.id,
                    AuditSiteResult.decision == LabelDecision.REFUSED.value,
                )
            ).all()
            if not refused:
                return ReauditPlan(None, None, 0)
            last_due = s.exec(
                select(func.max(AuditCorrectiveAction.due_on)).where(
                    AuditCorrectiveAction.campaign_id == campaign.id,
                    col(AuditCorrectiveAction.site_id).in_(refused),
                )
            ).one()
            window = reaudit_window(
                last_due or date.fromisoformat(request.today), campaign.window_start, campaign.window_end
            )
            follow_up = AuditCampaign(
                name=f"Re-audit — {campaign.name}"[:200],
                status=CampaignStatus.scheduled.value,
                referentiel_version=campaign.referentiel_version,  # same grid: results stay comparable
                body_id=campaign.body_id,
                window_start=window.start,
                window_end=window.end,
                label_threshold_permille=campaign.label_threshold_permille,
                acceptance_hours=campaign.acceptance_hours,
                corrective_due_days=campaign.corrective_due_days,
                owner_user_id=campaign.owner_user_id,
                parent_campaign_id=campaign.id,
            )
            s.add(follow_up)
            s.flush()
            modes = {
                cs.site_id: cs.modes
                for cs in s.exec(select(AuditCampaignSite).where(AuditCampaignSite.campaign_id == campaign.id)).all()
            }
            for site_id in sorted(refused):
                s.add(AuditCampaignSite(campaign_id=follow_up.id, site_id=site_id, modes=list(modes[site_id])))
            s.commit()
            log.info("audit.reaudit_scheduled", campaign_id=campaign.id, follow_up=follow_up.id, sites=len(refused))
            return ReauditPlan(follow_up.id, window.start.isoformat(), len(refused))

    @activity.defn(name=AuditActivity.BUILD_REPORT)
    def build_report(self, campaign_id: int) -> ReportKeys:
        """Render the campaign report (CSV and PDF) and store both in S3."""
        with self.sessions() as s:
            campaign = _campaign(s, campaign_id)
            referentiel = _referentiel(s, campaign.referentiel_version)
            evaluations = _evaluate(s, campaign, referentiel)
            actions = Counter(
                s.exec(select(AuditCorrectiveAction.site_id).where(AuditCorrectiveAction.campaign_id == campaign_id))
            )
            report = CampaignReport(campaign, referentiel, evaluations, actions)
            csv_key = f"audit/reports/campaign-{campaign_id}/rapport-campagne-{campaign_id}.csv"
            pdf_key = f"audit/reports/campaign-{campaign_id}/rapport-campagne-{campaign_id}.pdf"
            self.s3.put_object(
                Bucket=self.bucket,
                Key=csv_key,
                Body=report.csv().encode("utf-8-sig"),
                ContentType="text/csv; charset=utf-8",
            )
            self.s3.put_object(Bucket=self.bucket, Key=pdf_key, Body=report.pdf(), ContentType="application/pdf")
            campaign.report_csv_key, campaign.report_pdf_key = csv_key, pdf_key
            s.add(campaign)
            s.commit()
        return ReportKeys(csv_key=csv_key, pdf_key=pdf_key)

    @activity.defn(name=AuditActivity.NOTIFY_SITE_MANAGERS)
    def notify_site_managers(self, campaign_id: int) -> int:
        """Send each site manager the result and corrective actions (once per campaign and site)."""
        with self.sessions() as s:
            campaign = _campaign(s, campaign_id)
            rows = s.exec(
                select(AuditSiteResult, AuditSite)
                .join(AuditSite, col(AuditSite.id) == AuditSiteResult.site_id)
                .where(AuditSiteResult.campaign_id == campaign_id)
            ).all()
            actions: dict[int, list[AuditCorrectiveAction]] = {}
            for a in s.exec(
                select(AuditCorrectiveAction)
                .where(AuditCorrectiveAction.campaign_id == campaign_id)
                .order_by(col(AuditCorrectiveAction.id))
            ).all():
                actions.setdefault(a.site_id, []).append(a)
        requests = []
        for result, site in rows:
            assert site.id is not None
            site_actions = actions.get(site.id, [])
            requests.append(
                NotificationRequest(
                    key=f"audit-result-{campaign_id}-{site.id}",
                    channel="email",
                    template="audit_site_result",
                    recipient_kind=RecipientKind.SITE_MANAGER,
                    recipient_id=site.id,
                    subject_ref=f"C{campaign_id}-{site.ref}",
                    context={
                        "campaign_name": campaign.name,
                        "site_name": site.name,
                        "score": format_permille(result.score_permille),
                        "decision": DECISION_LABELS.get(result.decision, result.decision),
                        "actions": "\n".join(
                            f"- {a.description} Échéance : {format_date_fr(a.due_on)}." for a in site_actions
                        ),
                        "actions_count": str(len(site_actions)),
                    },
                )
            )
        outcome = self.notifier.send_many(requests)
        raise_if_retryable(outcome)
        return outcome.sent + outcome.already_sent + outcome.scheduled


# --- report --------------------------------------------------------------------------------------


def _site_results(evaluations: Sequence[_Evaluation]) -> list[SiteResult]:
    return [
        SiteResult(e.site.ref, e.site.site_type, e.site.arrondissement, e.score, e.decision)
        for e in evaluations
        if e.score is not None and e.decision is not None
    ]


class CampaignReport:
    """The campaign report: one row per site, then summaries by site type and by arrondissement."""

    def __init__(
        self,
        campaign: AuditCampaign,
        referentiel: Referentiel,
        evaluations: Sequence[_Evaluation],
        actions_per_site: Counter[int],
    ) -> None:
        self.campaign = campaign
        self.type_labels = {st.code: st.label for st in referentiel.site_types}
        self.evaluations = evaluations
        self.actions = actions_per_site
        self.summary: CampaignSummary = aggregate(_site_results(evaluations))

    def site_lines(self) -> list[list[str]]:
        """Header and one line per site."""
        lines = [["Site", "Nom", "Type", "Arrondissement", "Modes audités", "Score", "Décision", "Actions"]]
        for e in self.evaluations:
            lines.append(
                [
                    e.site.ref,
                    e.site.name,
                    self.type_labels.get(e.site.site_type, e.site.site_type),
                    _arr(e.site.arrondissement),
                    ", ".join(AuditMode(m).label for m in e.audited_modes) or "—",
                    format_permille(_permille(e.score.percent)) if e.score is not None else "—",
                    e.decision.label if e.decision is not None else DECISION_LABELS[NOT_AUDITED],
                    str(self.actions.get(e.site.id or 0, 0)),
                ]
            )
        return lines

    def group_lines(self, by_type: bool) -> list[list[str]]:
        """Header and one line per site type (or arrondissement), then the whole campaign."""
        lines = [
            [
                "Type de site" if by_type else "Arrondissement",
                "Sites notés",
                "Attribué",
                "Avec réserves",
                "Refusé",
                "Score moyen",
            ]
        ]
        if by_type:
            for code, g in self.summary.by_site_type.items():
                lines.append([self.type_labels.get(code, code), *_group_cells(g)])
        else:
            for arr, g in self.summary.by_arrondissement.items():
                lines.append([_arr(arr), *_group_cells(g)])
        lines.append(["Ensemble", *_group_cells(self.summary.overall)])
        return lines

    def title(self) -> str:
        """Report title."""
        return f"Rapport de campagne QualiParis — {self.campaign.name}"

    def intro(self) -> str:
        """One-line description of the campaign."""
        c = self.campaign
        return (
            f"Fenêtre du {format_date_fr(c.window_start)} au {format_date_fr(c.window_end)} ; "
            f"référentiel v{c.referentiel_version} ; "
            f"seuil de labellisation {format_permille(c.label_threshold_permille)}."
        )

    def csv(self) -> str:
        """The report as CSV (semicolon separated, for French spreadsheets)."""
        out = io.StringIO()
        w = csv.writer(out, delimiter=";", lineterminator="\n")
        w.writerow([self.title()])
        w.writerow([self.intro()])
        for heading, lines in self._sections():
            w.writerow([])
            w.writerow([heading])
            w.writerows(lines)
        return out.getvalue()

    def pdf(self) -> bytes:
        """The report as PDF (reportlab, embedded DejaVu Sans subsets)."""
        buf = io.BytesIO()
        fonts = pdf_fonts()
        styles = getSampleStyleSheet()  # a fresh sheet per call: its fonts can be switched in place
        for style in styles.byName.values():
            if isinstance(style, ParagraphStyle):  # the sheet holds list styles too, without a font
                style.fontName = fonts.bold if "Bold" in style.fontName else fonts.regular
        doc = SimpleDocTemplate(
            buf,
            pagesize=A4,
            leftMargin=1.5 * cm,
            rightMargin=1.5 * cm,
            title=self.title(),
            author="Ville de Paris — QualiParis",
            initialFontName=fonts.regular,
        )
        story: list[Any] = [
            Paragraph(_pdf_text(self.title()), styles["Title"]),
            Paragraph(_pdf_text(self.intro()), styles["Normal"]),
        ]
        for heading, lines in self._sections():
            story += [Spacer(1, 0.4 * cm), Paragraph(_pdf_text(heading), styles["Heading2"]), _table(lines, fonts)]
        doc.build(story)
        return buf.getvalue()

    def _sections(self) -> list[tuple[str, list[list[str]]]]:
        return [
            ("Synthèse par type de site", self.group_lines(by_type=True)),
            ("Synthèse par arrondissement", self.group_lines(by_type=False)),
            ("Résultats par site", self.site_lines()),
        ]


def _group_cells(g: GroupSummary) -> list[str]:
    average = f"{format_decimal(g.average_percent)} %" if g.average_percent is not None else "—"
    return [str(g.count), str(g.granted), str(g.granted_with_reservations), str(g.refused), average]


def _arr(n: int) -> str:
    return "1er" if n == 1 else f"{n}e"


def _pdf_text(text: str) -> str:
    # reportlab paragraphs are mini-HTML; ≤/≥ spelt out as in the report's earlier (Helvetica) versions
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("≤", "au plus").replace("≥", "au moins")


def _table(lines: list[list[str]], fonts: PdfFonts) -> Table:
    table = Table([[_pdf_text(c) for c in line] for line in lines], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), fonts.regular),
                ("FONTNAME", (0, 0), (-1, 0), fonts.bold),
                ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6ecf5")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table
