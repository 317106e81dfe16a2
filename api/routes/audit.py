"""QualiParis API: inspectors (their tasks only) and the quality team (référentiel, campaigns, review, results).

Process actions go through the workflows' updates (validated there, so a refused action leaves no
trace in history); reads come from the database, which the activities keep up to date.
"""

from __future__ import annotations

import asyncio
import math
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, WithJsonSchema
from sqlmodel import Session, col, func, select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api import evidence
from api.audit_log import MOTIF_MIN, audit
from api.deps import DB_ID_MAX, DbId, S3Dep, SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses, field_error, temporal_refusal
from api.security import Principal, not_found, require
from api.temporal_query import QUERY_TIMEOUT, bounded
from api.workflow_updates import Refusals, execute_update, refused
from contracts.audit import (
    UNASSIGNED,
    AcceptTask,
    ApproveTask,
    AssignTask,
    AuditCampaignInput,
    AuditError,
    CampaignProgress,
    ChangeAck,
    DeclineTask,
    ExtendDeadline,
    InspectorUnavailable,
    SendBackTask,
    SiteChange,
    SiteWithdrawal,
    SubmitChecklist,
    TaskView,
)
from domain.audit.campaign import check_deadline_extension
from domain.audit.evidence import TYPE_REFUSED, declared_kind, size_problem
from domain.audit.referentiel import AuditMode, Referentiel, ReferentielError, load_referentiel
from domain.audit.task_states import TaskState
from services.audit import ensure_bundled_referentiels, referentiel_document, referentiel_in_force
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
    CampaignStatus,
    ReferentielVersion,
)
from ville.models.people import Role
from ville.temporal import SA_BUSINESS_STATUS, SA_CAMPAIGN
from workflows.audit_campaign import AuditCampaignWorkflow
from workflows.inspection import InspectionWorkflow

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/qualiparis", tags=["qualiparis"])
# actions that reach a workflow: 409 when its state refuses them or it has ended, 503 when Temporal is unreachable
TEMPORAL_ERRORS = error_responses(409, 503)

InspectorUser = Annotated[Principal, require(Role.inspector)]
QualityTeam = Annotated[Principal, require(Role.quality_team)]
TaskSupervisor = Annotated[Principal, require(Role.quality_team, Role.operator)]

DOWNLOAD_URL_SECONDS = 300
Answer = bool | int | float | str


# --- models ------------------------------------------------------------------------------------------


class CriterionOut(BaseModel):
    """A criterion of the checklist of a task."""

    code: str
    commitment: str
    label: str
    answer_type: str
    expected: str
    scale_max: int | None
    unit: str
    evidence_required_on_failure: bool


class InspectorTaskOut(BaseModel):
    """A task as its inspector sees it."""

    id: int
    campaign: str
    site_ref: str
    site_name: str
    site_type: str
    arrondissement: int
    address: str
    mode: str
    state: str
    due_on: date
    window_start: date
    window_end: date
    accept_by: datetime | None
    late: bool
    review_comment: str | None


class InspectorTaskDetail(InspectorTaskOut):
    """A task with its checklist and what the inspector submitted."""

    checklist: list[CriterionOut]
    visit_date: date | None
    answers: dict[str, Any] | None
    evidence: dict[str, list[str]] | None


class InspectorTaskList(BaseModel):
    """An inspector's tasks, and how many per state."""

    counts: dict[str, int]
    tasks: list[InspectorTaskOut]


class DeclineIn(BaseModel):
    """Why the inspector declines."""

    reason: str = Field("", max_length=300)


class EvidenceIn(BaseModel):
    """A file to upload as evidence for one criterion (its size, when given, is checked now; always at submission)."""

    criterion_code: str = Field(min_length=1, max_length=20)
    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(max_length=100)
    size_bytes: int | None = Field(None, ge=0)


class EvidenceUploadOut(BaseModel):
    """Where to POST the file (presigned S3 form: `fields` then the file as `file`) and the key to cite."""

    evidence_id: int
    key: str
    name: str
    upload_url: str
    method: str
    fields: dict[str, str]
    expires_at: datetime


class SubmissionIn(BaseModel):
    """The checklist: an answer per criterion code, evidence keys per criterion code."""

    visit_date: date
    answers: dict[str, Answer]
    evidence: dict[str, list[str]] = Field(default_factory=dict)
    comment: str = Field("", max_length=2000)


class TaskStateOut(BaseModel):
    """Where a task stands after an action."""

    id: int
    state: str
    submissions: int
    send_backs: int


class ReviewIn(BaseModel):
    """A reviewer's comment (required to send back)."""

    comment: str = Field("", max_length=2000)


class AssignIn(BaseModel):
    """Manual assignment of a task left without inspector."""

    inspector_id: int


class DeadlineIn(BaseModel):
    """A later due date for a task (within the campaign window), and why."""

    new_due_on: date
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=MOTIF_MIN, max_length=500)]


class CampaignSiteIn(BaseModel):
    """A site of the campaign and how it is audited."""

    site_id: int
    modes: list[AuditMode] = Field(min_length=1, max_length=3)


def _one_decimal(value: Any) -> Any:
    # JSON numbers are binary floats: 85.30000000000001 is how a client may send 85.3
    if isinstance(value, float) and math.isfinite(value) and abs(round(value, 1) - value) < 1e-9:
        return Decimal(str(round(value, 1)))
    return value


ThresholdPct = Annotated[
    Decimal,
    BeforeValidator(_one_decimal),
    Field(ge=0, le=100, decimal_places=1),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.1}),
]


class CampaignIn(BaseModel):
    """A new campaign (draft until started)."""

    name: str = Field(min_length=3, max_length=200)
    window_start: date
    window_end: date
    label_threshold_pct: ThresholdPct = Decimal("85")
    body_id: int
    referentiel_version: str | None = Field(None, max_length=20)
    acceptance_hours: int = Field(48, ge=1, le=720)
    corrective_due_days: int = Field(30, ge=0, le=365)
    sites: list[CampaignSiteIn] = Field(min_length=1, max_length=5000)


class CampaignOut(BaseModel):
    """A campaign."""

    id: int
    name: str
    status: str
    referentiel_version: str
    body_id: int
    window_start: date
    window_end: date
    label_threshold_pct: Decimal
    acceptance_hours: int
    corrective_due_days: int
    parent_campaign_id: int | None
    sites: int
    workflow_id: str


class SiteAddIn(BaseModel):
    """A site added to a running campaign."""

    site_id: int
    modes: list[AuditMode] = Field(min_length=1, max_length=3)


class ReasonIn(BaseModel):
    """Why (kept with the change)."""

    reason: str = Field("", max_length=300)


class ReferentielIn(BaseModel):
    """A new référentiel version: the JSON document (version, effective_from, themes, site_types...)."""

    document: dict[str, Any]


class ReferentielOut(BaseModel):
    """A référentiel version."""

    version: str
    effective_from: date
    source: str
    commitments: int
    criteria: int


class ReviewItemOut(BaseModel):
    """A submitted result waiting for review."""

    task_id: int
    campaign_id: int
    site_ref: str
    site_name: str
    mode: str
    inspector_id: int | None
    submitted_at: datetime | None
    submissions: int


class QualityTaskOut(BaseModel):
    """A task as the quality team sees it."""

    id: int
    campaign_id: int
    site_ref: str
    site_name: str
    mode: str
    state: str
    inspector_id: int | None
    round: int
    due_on: date
    late: bool
    visit_date: date | None
    answers: dict[str, Any] | None
    evidence: dict[str, list[str]]
    evidence_urls: dict[str, str]
    inspector_comment: str | None
    review_comment: str | None
    score_pct: Decimal | None
    assignments: list[dict[str, Any]]


class SiteResultOut(BaseModel):
    """A site's score and label decision."""

    site_id: int
    site_ref: str
    site_name: str
    site_type: str
    arrondissement: int
    score_pct: Decimal | None
    decision: str
    complete: bool
    failed_criteria: list[str]


class ActionOut(BaseModel):
    """A corrective action."""

    id: int
    site_ref: str
    criterion_code: str
    description: str
    owner: str
    due_on: date
    priority: str
    status: str


class ReportOut(BaseModel):
    """Short-lived download links of the campaign report."""

    csv_url: str
    pdf_url: str


# --- helpers -----------------------------------------------------------------------------------------


def _pct(permille: int | None) -> Decimal | None:
    return None if permille is None else Decimal(permille).scaleb(-1)


def _status(state: str | None) -> str:
    return state or UNASSIGNED


def _referentiel(session: Session, version: str) -> Referentiel:
    doc = referentiel_document(session, version)
    if doc is None:
        raise not_found()
    return load_referentiel(doc)


def _own_task(session: Session, principal: Principal, task_id: int) -> AuditTask:
    """The caller's task, or 404 (a foreign task is indistinguishable from a missing one)."""
    task = session.get(AuditTask, task_id)
    if (
        task is None
        or principal.inspector_id is None
        or task.inspector_id != principal.inspector_id
        or task.opened_at is None
    ):
        raise not_found()
    return task


def _task(session: Session, task_id: int) -> AuditTask:
    task = session.get(AuditTask, task_id)
    if task is None:
        raise not_found()
    return task


def _campaign(session: Session, campaign_id: int) -> AuditCampaign:
    campaign = session.get(AuditCampaign, campaign_id)
    if campaign is None:
        raise not_found()
    return campaign


def _inspector_task_out(session: Session, task: AuditTask) -> InspectorTaskOut:
    return InspectorTaskOut(**_inspector_fields(session, task))


def _inspector_fields(session: Session, task: AuditTask) -> dict[str, Any]:
    site = session.get(AuditSite, task.site_id)
    campaign = session.get(AuditCampaign, task.campaign_id)
    assert site is not None and campaign is not None and task.id is not None
    accept_by = None
    if task.state == TaskState.ASSIGNED:
        assignment = session.exec(
            select(AuditAssignment).where(AuditAssignment.task_id == task.id, AuditAssignment.round == task.round)
        ).first()
        if assignment is not None:
            accept_by = assignment.assigned_at + timedelta(hours=campaign.acceptance_hours)
    return {
        "id": task.id,
        "campaign": campaign.name,
        "site_ref": site.ref,
        "site_name": site.name,
        "site_type": site.site_type,
        "arrondissement": site.arrondissement,
        "address": site.address,
        "mode": task.mode,
        "state": _status(task.state),
        "due_on": task.due_on,
        "window_start": campaign.window_start,
        "window_end": campaign.window_end,
        "accept_by": accept_by,
        "late": task.late,
        "review_comment": task.review_comment if task.state == TaskState.SENT_BACK else None,
    }


def _checklist(referentiel: Referentiel, site_type: str, mode: str) -> list[CriterionOut]:
    return [
        CriterionOut(
            code=c.code,
            commitment=referentiel.commitment(c.commitment_code).label,
            label=c.label,
            answer_type=c.answer_type.value,
            expected=c.expected(),
            scale_max=c.scale_max,
            unit=c.unit,
            evidence_required_on_failure=c.evidence_required_on_failure,
        )
        for c in referentiel.criteria_for(site_type, mode)
    ]


def _inspection(temporal: Client, task_id: int) -> WorkflowHandle[InspectionWorkflow, Any]:
    return temporal.get_workflow_handle_for(InspectionWorkflow.run, inspection_id(task_id))


def _campaign_handle(temporal: Client, campaign_id: int) -> WorkflowHandle[AuditCampaignWorkflow, Any]:
    # no run id: the campaign continues as new, updates and queries go to its current run
    return temporal.get_workflow_handle_for(AuditCampaignWorkflow.run, audit_campaign_id(campaign_id))


AUDIT_REFUSALS = Refusals(
    closed="Ce processus est clos : action impossible.",
    not_found=frozenset({AuditError.NOT_YOUR_TASK, AuditError.NOT_FOUND}),
    conflict=frozenset({AuditError.ILLEGAL_TRANSITION, AuditError.CAMPAIGN_CLOSED}),
)


async def _update(handle: WorkflowHandle[Any, Any], update: Any, arg: Any) -> Any:
    return await execute_update(handle, update, arg, AUDIT_REFUSALS)


def _state_out(view: TaskView) -> TaskStateOut:
    return TaskStateOut(id=view.task_id, state=view.status, submissions=view.submissions, send_backs=view.send_backs)


# --- inspectors --------------------------------------------------------------------------------------


@router.get("/inspector/tasks")
def my_tasks(
    principal: InspectorUser, session: SessionDep, state: Annotated[str | None, Query(max_length=20)] = None
) -> InspectorTaskList:
    """The caller's tasks (optionally of one state) and the count per state."""
    if principal.inspector_id is None:
        return InspectorTaskList(counts={}, tasks=[])
    mine = (
        select(AuditTask)
        .where(AuditTask.inspector_id == principal.inspector_id, col(AuditTask.opened_at).is_not(None))
        .order_by(col(AuditTask.due_on), col(AuditTask.id))
    )
    tasks = list(session.exec(mine).all())
    counts: dict[str, int] = {}
    for t in tasks:
        counts[_status(t.state)] = counts.get(_status(t.state), 0) + 1
    shown = [t for t in tasks if state is None or _status(t.state) == state]
    return InspectorTaskList(counts=counts, tasks=[_inspector_task_out(session, t) for t in shown])


@router.get("/inspector/tasks/{task_id}")
def my_task(task_id: DbId, principal: InspectorUser, session: SessionDep) -> InspectorTaskDetail:
    """One of the caller's tasks, with its checklist."""
    task = _own_task(session, principal, task_id)
    site = session.get(AuditSite, task.site_id)
    campaign = session.get(AuditCampaign, task.campaign_id)
    assert site is not None and campaign is not None
    referentiel = _referentiel(session, campaign.referentiel_version)
    return InspectorTaskDetail(
        **_inspector_fields(session, task),
        checklist=_checklist(referentiel, site.site_type, task.mode),
        visit_date=task.visit_date,
        answers=task.answers,
        evidence=task.evidence,
    )


@router.post("/inspector/tasks/{task_id}/accept", responses=TEMPORAL_ERRORS)
async def accept_task(
    task_id: DbId, principal: InspectorUser, session: SessionDep, temporal: TemporalDep
) -> TaskStateOut:
    """Accept the task."""
    _own_task(session, principal, task_id)
    assert principal.inspector_id is not None
    view = await _update(_inspection(temporal, task_id), InspectionWorkflow.accept, AcceptTask(principal.inspector_id))
    return _state_out(view)


@router.post("/inspector/tasks/{task_id}/decline", responses=TEMPORAL_ERRORS)
async def decline_task(
    task_id: DbId, body: DeclineIn, principal: InspectorUser, session: SessionDep, temporal: TemporalDep
) -> dict[str, str]:
    """Decline the task: it is offered to another eligible inspector."""
    _own_task(session, principal, task_id)
    assert principal.inspector_id is not None
    await _update(
        _inspection(temporal, task_id), InspectionWorkflow.decline, DeclineTask(principal.inspector_id, body.reason)
    )
    # the task now belongs to someone else (or nobody): say no more than that it left
    return {"state": TaskState.DECLINED.value}


@router.post("/inspector/tasks/{task_id}/evidence", status_code=status.HTTP_201_CREATED, responses=TEMPORAL_ERRORS)
async def evidence_upload_url(
    task_id: DbId, body: EvidenceIn, principal: InspectorUser, session: SessionDep, s3: S3Dep, settings: SettingsDep
) -> EvidenceUploadOut:
    """A presigned POST for one evidence file (JPEG, PNG or PDF, 1 B–10 MB); its key is drawn and recorded now."""
    task = _own_task(session, principal, task_id)
    if task.state not in (TaskState.ACCEPTED, TaskState.SENT_BACK):
        raise HTTPException(status.HTTP_409_CONFLICT, "Acceptez la tâche avant de déposer des preuves.")
    kind = declared_kind(body.content_type)
    if kind is None:
        raise field_error("content_type", TYPE_REFUSED, 415)
    too = size_problem(body.size_bytes) if body.size_bytes is not None else None
    if too:
        raise field_error("size_bytes", too, 413)
    site = session.get(AuditSite, task.site_id)
    campaign = session.get(AuditCampaign, task.campaign_id)
    assert site is not None and campaign is not None and task.id is not None and principal.inspector_id
    referentiel = _referentiel(session, campaign.referentiel_version)
    if body.criterion_code not in {c.code for c in referentiel.criteria_for(site.site_type, task.mode)}:
        raise field_error("criterion_code", f"Critère {body.criterion_code} non applicable à cette tâche.")
    filename = re.split(r"[\\/]", body.filename)[-1] or "preuve"  # shown to people only, never part of the key
    grant = evidence.grant_upload(
        session, s3, settings.s3_bucket, task, principal.inspector_id, body.criterion_code, filename, kind
    )
    return EvidenceUploadOut(
        evidence_id=grant.evidence_id,
        key=grant.key,
        name=grant.name,
        upload_url=grant.url,
        method="POST",
        fields=grant.fields,
        expires_at=grant.expires_at,
    )


@router.post("/inspector/tasks/{task_id}/submission", responses=TEMPORAL_ERRORS)
async def submit_task(
    task_id: DbId,
    body: SubmissionIn,
    principal: InspectorUser,
    session: SessionDep,
    temporal: TemporalDep,
    s3: S3Dep,
    settings: SettingsDep,
) -> TaskStateOut:
    """Submit the checklist; refused with precise French messages when incomplete or inconsistent."""
    task = _own_task(session, principal, task_id)
    assert principal.inspector_id is not None
    problems = await evidence.check_cited(session, s3, settings.s3_bucket, task, body.evidence)
    if problems:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "code": "validation_error",
                "message": f"Soumission refusée : {problems[0]['message']}",
                "fields": problems,
            },
        )
    # floats go as text: the référentiel reads measures as exact decimals
    answers = {k: str(v) if isinstance(v, float) else v for k, v in body.answers.items()}
    checklist = SubmitChecklist(
        principal.inspector_id, body.visit_date.isoformat(), answers, body.evidence, body.comment
    )
    view = await _update(_inspection(temporal, task.id or task_id), InspectionWorkflow.submit, checklist)
    return _state_out(view)


# --- quality team: référentiel, sites, inspectors ----------------------------------------------------


def _referentiel_out(row: ReferentielVersion) -> ReferentielOut:
    ref = load_referentiel(row.data)
    return ReferentielOut(
        version=row.version,
        effective_from=row.effective_from,
        source=row.source,
        commitments=len(ref.commitments),
        criteria=len(ref.criteria),
    )


@router.get("/referentiels")
def list_referentiels(principal: QualityTeam, session: SessionDep) -> list[ReferentielOut]:
    """Every version of the référentiel, oldest first."""
    ensure_bundled_referentiels(session)
    rows = session.exec(select(ReferentielVersion).order_by(col(ReferentielVersion.effective_from))).all()
    return [_referentiel_out(r) for r in rows]


@router.get("/referentiels/{version}")
def get_referentiel(version: str, principal: QualityTeam, session: SessionDep) -> dict[str, Any]:
    """The JSON document of a version."""
    doc = referentiel_document(session, version)
    if doc is None:
        raise not_found()
    return doc


@router.post("/referentiels", status_code=status.HTTP_201_CREATED, responses=TEMPORAL_ERRORS)
def create_referentiel(body: ReferentielIn, principal: QualityTeam, session: SessionDep) -> ReferentielOut:
    """Publish a new version (commitments, criteria, weights...): versions are never edited in place."""
    try:
        ref = load_referentiel(body.document)
    except ReferentielError as err:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "code": "validation_error",
                "message": str(err),
                "fields": [{"field": "document", "message": p} for p in err.problems],
            },
        ) from None
    ensure_bundled_referentiels(session)
    if session.get(ReferentielVersion, ref.version) is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"La version {ref.version} existe déjà : publiez une nouvelle version."
        )
    row = ReferentielVersion(
        version=ref.version,
        effective_from=ref.effective_from,
        data=body.document,
        source="quality_team",
        created_by_user_id=principal.user_id,
    )
    session.add(row)
    session.commit()
    log.info("audit.referentiel_published", version=ref.version, user_id=principal.user_id)
    return _referentiel_out(row)


@router.get("/sites")
def list_sites(principal: QualityTeam, session: SessionDep) -> list[dict[str, Any]]:
    """The sites that can be audited."""
    rows = session.exec(select(AuditSite).where(col(AuditSite.active)).order_by(col(AuditSite.ref))).all()
    return [
        {
            "id": s.id,
            "ref": s.ref,
            "name": s.name,
            "site_type": s.site_type,
            "arrondissement": s.arrondissement,
            "address": s.address,
        }
        for s in rows
    ]


@router.get("/inspectors")
def list_inspectors(principal: QualityTeam, session: SessionDep) -> list[dict[str, Any]]:
    """Inspectors of the accredited bodies: capacity, area, conflicts of interest."""
    rows = session.exec(select(AuditInspector).order_by(col(AuditInspector.ref))).all()
    return [
        {
            "id": i.id,
            "ref": i.ref,
            "body_id": i.body_id,
            "display_name": i.display_name,
            "capacity": i.capacity,
            "arrondissements": i.arrondissements,
            "conflict_site_refs": i.conflict_site_refs,
            "active": i.active,
        }
        for i in rows
    ]


# --- quality team: campaigns -------------------------------------------------------------------------


def _campaign_out(session: Session, c: AuditCampaign) -> CampaignOut:
    assert c.id is not None
    n = session.exec(
        select(func.count())
        .select_from(AuditCampaignSite)
        .where(AuditCampaignSite.campaign_id == c.id, col(AuditCampaignSite.withdrawn).is_(False))
    ).one()
    return CampaignOut(
        id=c.id,
        name=c.name,
        status=c.status,
        referentiel_version=c.referentiel_version,
        body_id=c.body_id,
        window_start=c.window_start,
        window_end=c.window_end,
        label_threshold_pct=Decimal(c.label_threshold_permille).scaleb(-1),
        acceptance_hours=c.acceptance_hours,
        corrective_due_days=c.corrective_due_days,
        parent_campaign_id=c.parent_campaign_id,
        sites=int(n),
        workflow_id=audit_campaign_id(c.id),
    )


@router.post("/campaigns", status_code=status.HTTP_201_CREATED)
def create_campaign(body: CampaignIn, principal: QualityTeam, session: SessionDep) -> CampaignOut:
    """Set up a campaign: sites and modes, window, label threshold, accredited body (a draft)."""
    if body.window_start > body.window_end:
        raise field_error("window_end", "La fin de la fenêtre doit suivre son début.")
    if session.get(AuditBody, body.body_id) is None:
        raise field_error("body_id", "Organisme accrédité inconnu.")
    try:
        referentiel = (
            _referentiel(session, body.referentiel_version)
            if body.referentiel_version
            else referentiel_in_force(session, body.window_start)
        )
    except (HTTPException, LookupError):
        raise field_error(
            "referentiel_version", "Aucun référentiel de cette version ou en vigueur à cette date."
        ) from None
    site_ids = [s.site_id for s in body.sites]
    if len(set(site_ids)) != len(site_ids):
        raise field_error("sites", "Un site figure deux fois.")
    known = {s.id: s for s in session.exec(select(AuditSite).where(col(AuditSite.id).in_(site_ids))).all()}
    for i, item in enumerate(body.sites):
        site = known.get(item.site_id)
        if site is None or not site.active:
            raise field_error(f"sites.{i}.site_id", f"Site {item.site_id} inconnu ou inactif.")
        if site.site_type not in referentiel.site_type_codes:
            raise field_error(f"sites.{i}.site_id", f"Le référentiel ne couvre pas le type de site {site.site_type}.")
        if len(set(item.modes)) != len(item.modes):
            raise field_error(f"sites.{i}.modes", "Mode d'audit en double.")
    campaign = AuditCampaign(
        name=body.name,
        referentiel_version=referentiel.version,
        body_id=body.body_id,
        window_start=body.window_start,
        window_end=body.window_end,
        label_threshold_permille=int(body.label_threshold_pct * 10),
        acceptance_hours=body.acceptance_hours,
        corrective_due_days=body.corrective_due_days,
        owner_user_id=principal.user_id,
    )
    session.add(campaign)
    session.flush()
    assert campaign.id is not None
    session.add_all(
        AuditCampaignSite(campaign_id=campaign.id, site_id=s.site_id, modes=[m.value for m in s.modes])
        for s in body.sites
    )
    session.commit()
    log.info("audit.campaign_created", campaign_id=campaign.id, sites=len(body.sites), user_id=principal.user_id)
    return _campaign_out(session, campaign)


@router.get("/campaigns")
def list_campaigns(principal: QualityTeam, session: SessionDep) -> list[CampaignOut]:
    """Every campaign, newest first."""
    rows = session.exec(select(AuditCampaign).order_by(col(AuditCampaign.id).desc())).all()
    return [_campaign_out(session, c) for c in rows]


@router.get("/campaigns/{campaign_id}")
def get_campaign(campaign_id: DbId, principal: QualityTeam, session: SessionDep) -> CampaignOut:
    """One campaign."""
    return _campaign_out(session, _campaign(session, campaign_id))


@router.post("/campaigns/{campaign_id}/start", status_code=status.HTTP_202_ACCEPTED, responses=TEMPORAL_ERRORS)
async def start_campaign(
    campaign_id: DbId, principal: QualityTeam, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> dict[str, str]:
    """Start the campaign's workflow; starting twice is harmless (the running one is kept)."""
    campaign = _campaign(session, campaign_id)
    if campaign.status not in (CampaignStatus.draft, CampaignStatus.running, CampaignStatus.scheduled):
        raise HTTPException(status.HTTP_409_CONFLICT, "Cette campagne est close.")
    handle = await temporal.start_workflow(
        AuditCampaignWorkflow.run,
        AuditCampaignInput(campaign_id),
        id=audit_campaign_id(campaign_id),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(SA_CAMPAIGN, str(campaign_id)), SearchAttributePair(SA_BUSINESS_STATUS, "planning")]
        ),
    )
    log.info("audit.campaign_started", campaign_id=campaign_id, user_id=principal.user_id)
    return {"workflow_id": handle.id, "run_id": handle.result_run_id or ""}


@router.get("/campaigns/{campaign_id}/progress", responses=TEMPORAL_ERRORS)
async def campaign_progress(
    campaign_id: DbId, principal: QualityTeam, session: SessionDep, temporal: TemporalDep
) -> CampaignProgress:
    """Tasks per status, late tasks, unavailable inspectors (from the running workflow)."""
    _campaign(session, campaign_id)
    try:
        # bounded: a query waits for a worker, and a page must not hang when none is polling
        return await bounded(
            _campaign_handle(temporal, campaign_id).query(AuditCampaignWorkflow.progress, rpc_timeout=QUERY_TIMEOUT)
        )
    except RPCError as err:
        raise temporal_refusal(err, "Campagne non lancée.") from err


@router.post("/campaigns/{campaign_id}/sites", responses=TEMPORAL_ERRORS)
async def add_site(
    campaign_id: DbId, body: SiteAddIn, principal: QualityTeam, session: SessionDep, temporal: TemporalDep
) -> ChangeAck:
    """Add a site to a running campaign: its tasks are planned and started."""
    _campaign(session, campaign_id)
    change = SiteChange(body.site_id, [m.value for m in body.modes])
    ack: ChangeAck = await _update(_campaign_handle(temporal, campaign_id), AuditCampaignWorkflow.add_site, change)
    return ack


@router.delete("/campaigns/{campaign_id}/sites/{site_id}", responses=TEMPORAL_ERRORS)
async def withdraw_site(
    campaign_id: DbId,
    site_id: DbId,
    principal: QualityTeam,
    session: SessionDep,
    temporal: TemporalDep,
    reason: Annotated[str, Query(max_length=300)] = "Site retiré de la campagne",
) -> ChangeAck:
    """Withdraw a site from a running campaign: its unfinished tasks are withdrawn."""
    _campaign(session, campaign_id)
    change = SiteWithdrawal(site_id, reason)
    ack: ChangeAck = await _update(_campaign_handle(temporal, campaign_id), AuditCampaignWorkflow.withdraw_site, change)
    return ack


@router.post("/campaigns/{campaign_id}/inspectors/{inspector_id}/unavailable", responses=TEMPORAL_ERRORS)
async def inspector_unavailable(
    campaign_id: DbId,
    inspector_id: DbId,
    body: ReasonIn,
    principal: QualityTeam,
    session: SessionDep,
    temporal: TemporalDep,
) -> ChangeAck:
    """Declare an inspector unavailable: his tasks in progress are handed to other inspectors."""
    _campaign(session, campaign_id)
    if session.get(AuditInspector, inspector_id) is None:
        raise not_found()
    change = InspectorUnavailable(inspector_id, body.reason or "Inspecteur indisponible")
    ack: ChangeAck = await _update(
        _campaign_handle(temporal, campaign_id), AuditCampaignWorkflow.inspector_unavailable, change
    )
    return ack


# --- quality team: review ----------------------------------------------------------------------------


@router.get("/review-queue")
def review_queue(
    principal: QualityTeam,
    session: SessionDep,
    campaign_id: Annotated[int | None, Query(ge=1, le=DB_ID_MAX)] = None,
) -> list[ReviewItemOut]:
    """Submitted results waiting for review, oldest first."""
    query = (
        select(AuditTask, AuditSite)
        .join(AuditSite, col(AuditSite.id) == AuditTask.site_id)
        .where(AuditTask.state == TaskState.SUBMITTED.value)
        .order_by(col(AuditTask.submitted_at))
    )
    if campaign_id is not None:
        query = query.where(AuditTask.campaign_id == campaign_id)
    return [
        ReviewItemOut(
            task_id=t.id or 0,
            campaign_id=t.campaign_id,
            site_ref=site.ref,
            site_name=site.name,
            mode=t.mode,
            inspector_id=t.inspector_id,
            submitted_at=t.submitted_at,
            submissions=t.submissions,
        )
        for t, site in session.exec(query).all()
    ]


@router.get("/tasks/{task_id}")
async def task_detail(
    task_id: DbId, principal: QualityTeam, session: SessionDep, s3: S3Dep, settings: SettingsDep
) -> QualityTaskOut:
    """A task with its answers, evidence (short-lived links) and assignment history."""
    task = _task(session, task_id)
    site = session.get(AuditSite, task.site_id)
    assert site is not None
    cited = task.evidence or {}
    # served by the API (attachment, nosniff), never by a link straight to the bucket
    files = evidence.recorded(session, task)
    urls = {
        key: f"{router.prefix}/tasks/{task_id}/evidence/{files[key].id}"
        for key in sorted({k for keys in cited.values() for k in keys})
        if key in files
    }
    assignments = session.exec(
        select(AuditAssignment).where(AuditAssignment.task_id == task_id).order_by(col(AuditAssignment.round))
    ).all()
    return QualityTaskOut(
        id=task_id,
        campaign_id=task.campaign_id,
        site_ref=site.ref,
        site_name=site.name,
        mode=task.mode,
        state=_status(task.state),
        inspector_id=task.inspector_id,
        round=task.round,
        due_on=task.due_on,
        late=task.late,
        visit_date=task.visit_date,
        answers=task.answers,
        evidence=cited,
        evidence_urls=urls,
        inspector_comment=task.inspector_comment,
        review_comment=task.review_comment,
        score_pct=_pct(task.score_permille),
        assignments=[
            {
                "round": a.round,
                "inspector_id": a.inspector_id,
                "assigned_at": a.assigned_at,
                "outcome": a.outcome,
                "reason": a.reason,
            }
            for a in assignments
        ],
    )


@router.post("/tasks/{task_id}/approve", responses=TEMPORAL_ERRORS)
async def approve_task(
    task_id: DbId, body: ReviewIn, principal: QualityTeam, session: SessionDep, temporal: TemporalDep
) -> TaskStateOut:
    """Approve a submitted result: it is scored and frozen."""
    _task(session, task_id)
    view = await _update(
        _inspection(temporal, task_id), InspectionWorkflow.approve, ApproveTask(principal.user_id, body.comment)
    )
    return _state_out(view)


@router.post("/tasks/{task_id}/send-back", responses=TEMPORAL_ERRORS)
async def send_back_task(
    task_id: DbId, body: ReviewIn, principal: QualityTeam, session: SessionDep, temporal: TemporalDep
) -> TaskStateOut:
    """Send a submitted result back to its inspector with comments."""
    _task(session, task_id)
    view = await _update(
        _inspection(temporal, task_id), InspectionWorkflow.send_back, SendBackTask(principal.user_id, body.comment)
    )
    return _state_out(view)


@router.post("/tasks/{task_id}/assign", responses=TEMPORAL_ERRORS)
async def assign_task(
    task_id: DbId, body: AssignIn, principal: QualityTeam, session: SessionDep, temporal: TemporalDep
) -> TaskStateOut:
    """Assign a task left without inspector (area, conflicts and capacity are checked)."""
    _task(session, task_id)
    view = await _update(
        _inspection(temporal, task_id), InspectionWorkflow.assign, AssignTask(body.inspector_id, principal.user_id)
    )
    return _state_out(view)


@router.post("/tasks/{task_id}/deadline", responses=error_responses(404, 409, 422, 503))
async def extend_task_deadline(
    task_id: DbId, body: DeadlineIn, principal: TaskSupervisor, session: SessionDep, temporal: TemporalDep
) -> TaskStateOut:
    """Move a task's due date later, within the campaign window: reminders and late detection follow it."""
    task = _task(session, task_id)
    campaign = _campaign(session, task.campaign_id)
    try:
        # checked here for a precise field error; the workflow checks again against its own state
        check_deadline_extension(task.due_on, body.new_due_on, campaign.window_start, campaign.window_end)
    except ValueError as err:
        raise field_error("body.new_due_on", str(err)) from None
    try:
        view = await _inspection(temporal, task_id).execute_update(
            InspectionWorkflow.extend_deadline,
            ExtendDeadline(body.new_due_on.isoformat(), principal.user_id, body.reason),
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == AuditError.INVALID_CHANGE:
            raise field_error("body.new_due_on", cause.message) from None
        refused(err, AUDIT_REFUSALS)
    except RPCError as err:
        refused(err, AUDIT_REFUSALS)
    audit(
        session, principal, "task.extend_deadline", inspection_id(task_id),
        f"{body.reason} (échéance {task.due_on:%d/%m/%Y} → {body.new_due_on:%d/%m/%Y})",
    )  # fmt: skip
    return _state_out(view)


# --- quality team: results ---------------------------------------------------------------------------


@router.get("/campaigns/{campaign_id}/results")
def campaign_results(campaign_id: DbId, principal: QualityTeam, session: SessionDep) -> list[SiteResultOut]:
    """Score and label decision of every site of a closed campaign."""
    _campaign(session, campaign_id)
    rows = session.exec(
        select(AuditSiteResult, AuditSite)
        .join(AuditSite, col(AuditSite.id) == AuditSiteResult.site_id)
        .where(AuditSiteResult.campaign_id == campaign_id)
        .order_by(col(AuditSite.ref))
    ).all()
    return [
        SiteResultOut(
            site_id=site.id or 0,
            site_ref=site.ref,
            site_name=site.name,
            site_type=site.site_type,
            arrondissement=site.arrondissement,
            score_pct=_pct(r.score_permille),
            decision=r.decision,
            complete=r.complete,
            failed_criteria=list(r.failed_criteria),
        )
        for r, site in rows
    ]


@router.get("/campaigns/{campaign_id}/corrective-actions")
def corrective_actions(campaign_id: DbId, principal: QualityTeam, session: SessionDep) -> list[ActionOut]:
    """Corrective actions opened by a campaign, with owner and due date."""
    _campaign(session, campaign_id)
    rows = session.exec(
        select(AuditCorrectiveAction, AuditSite)
        .join(AuditSite, col(AuditSite.id) == AuditCorrectiveAction.site_id)
        .where(AuditCorrectiveAction.campaign_id == campaign_id)
        .order_by(col(AuditSite.ref), col(AuditCorrectiveAction.id))
    ).all()
    return [
        ActionOut(
            id=a.id or 0,
            site_ref=site.ref,
            criterion_code=a.criterion_code,
            description=a.description,
            owner=a.owner,
            due_on=a.due_on,
            priority=a.priority,
            status=a.status,
        )
        for a, site in rows
    ]


@router.get("/campaigns/{campaign_id}/report", responses=error_responses(409))
async def campaign_report(
    campaign_id: DbId, principal: QualityTeam, session: SessionDep, s3: S3Dep, settings: SettingsDep
) -> ReportOut:
    """Short-lived links to the campaign report (CSV and PDF)."""
    campaign = _campaign(session, campaign_id)
    if campaign.report_csv_key is None or campaign.report_pdf_key is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "Le rapport n'est pas encore produit.")
    urls = [
        await asyncio.to_thread(
            s3.generate_presigned_url,
            "get_object",
            Params={"Bucket": settings.s3_bucket, "Key": key},
            ExpiresIn=DOWNLOAD_URL_SECONDS,
        )
        for key in (campaign.report_csv_key, campaign.report_pdf_key)
    ]
    return ReportOut(csv_url=urls[0], pdf_url=urls[1])
