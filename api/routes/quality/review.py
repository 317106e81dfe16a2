"""Review of the inspections by the quality team: the queue, one task with its evidence, approve, send back,
assign a task left without inspector, move a due date."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api import evidence
from api.audit_log import audit
from api.deps import DB_ID_MAX, AuditTasksDep, DbId, S3Dep, SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses, field_error
from api.qualiparis import (
    AUDIT_REFUSALS,
    PREFIX,
    TEMPORAL_ERRORS,
    QualityTeam,
    TaskSupervisor,
    inspection,
    state_out,
    status_of,
    update,
)
from api.schemas.audit import AssignIn, DeadlineIn, QualityTaskOut, ReviewIn, ReviewItemOut, TaskStateOut
from api.security import not_found
from api.workflow_updates import refused
from contracts.audit_inspection import ApproveTask, AssignTask, ExtendDeadline, SendBackTask
from contracts.audit_names import AuditError
from domain.audit.campaign import check_deadline_extension
from services.audit_campaigns import AuditCampaigns
from services.audit_tasks import AuditTasks
from ville.ids import inspection_id
from ville.models.audit import AuditTask
from workflows.inspection import InspectionWorkflow

router = APIRouter(prefix=PREFIX, tags=["qualiparis"])


def task_or_404(tasks: AuditTasks, task_id: int) -> AuditTask:
    """The task, or 404."""
    task = tasks.get(task_id)
    if task is None:
        raise not_found()
    return task


@router.get("/review-queue")
def review_queue(
    principal: QualityTeam,
    tasks: AuditTasksDep,
    campaign_id: Annotated[int | None, Query(ge=1, le=DB_ID_MAX)] = None,
) -> list[ReviewItemOut]:
    """Submitted results waiting for review, oldest first."""
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
        for t, site in tasks.review_queue(campaign_id)
    ]


@router.get("/tasks/{task_id}")
async def task_detail(
    task_id: DbId, principal: QualityTeam, session: SessionDep, tasks: AuditTasksDep
) -> QualityTaskOut:
    """A task with its answers, evidence (short-lived links) and assignment history."""
    task = task_or_404(tasks, task_id)
    site = tasks.site(task)
    cited = task.evidence or {}
    # served by the API (attachment, nosniff), never by a link straight to the bucket
    files = evidence.recorded(session, task)
    urls = {
        key: f"{PREFIX}/tasks/{task_id}/evidence/{files[key].id}"
        for key in sorted({k for keys in cited.values() for k in keys})
        if key in files
    }
    return QualityTaskOut(
        id=task_id,
        campaign_id=task.campaign_id,
        site_ref=site.ref,
        site_name=site.name,
        mode=task.mode,
        state=status_of(task.state),
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
        score_pct=None if task.score_permille is None else Decimal(task.score_permille).scaleb(-1),
        assignments=[
            {
                "round": a.round,
                "inspector_id": a.inspector_id,
                "assigned_at": a.assigned_at,
                "outcome": a.outcome,
                "reason": a.reason,
            }
            for a in tasks.assignments(task_id)
        ],
    )


@router.get("/tasks/{task_id}/evidence/{evidence_id}", responses=error_responses(404))
async def download_evidence(
    task_id: DbId,
    evidence_id: DbId,
    principal: QualityTeam,
    session: SessionDep,
    tasks: AuditTasksDep,
    s3: S3Dep,
    settings: SettingsDep,
) -> Response:
    """One evidence file, as an attachment of the type its bytes showed, with `nosniff`."""
    # never a key from the client: the file must be recorded for this task
    row = evidence.find(session, task_or_404(tasks, task_id), evidence_id)
    if row is None:
        raise not_found()
    body = await evidence.read(s3, settings.s3_bucket, row)
    return Response(body, media_type=row.content_type, headers=evidence.download_headers(row))


@router.post("/tasks/{task_id}/approve", responses=TEMPORAL_ERRORS)
async def approve_task(
    task_id: DbId, body: ReviewIn, principal: QualityTeam, tasks: AuditTasksDep, temporal: TemporalDep
) -> TaskStateOut:
    """Approve a submitted result: it is scored and frozen."""
    task_or_404(tasks, task_id)
    view = await update(
        inspection(temporal, task_id), InspectionWorkflow.approve, ApproveTask(principal.user_id, body.comment)
    )
    return state_out(view)


@router.post("/tasks/{task_id}/send-back", responses=TEMPORAL_ERRORS)
async def send_back_task(
    task_id: DbId, body: ReviewIn, principal: QualityTeam, tasks: AuditTasksDep, temporal: TemporalDep
) -> TaskStateOut:
    """Send a submitted result back to its inspector with comments."""
    task_or_404(tasks, task_id)
    view = await update(
        inspection(temporal, task_id), InspectionWorkflow.send_back, SendBackTask(principal.user_id, body.comment)
    )
    return state_out(view)


# The operator's pages call the next two routes with the request's session: each builds its services from it.


@router.post("/tasks/{task_id}/assign", responses=TEMPORAL_ERRORS)
async def assign_task(
    task_id: DbId, body: AssignIn, principal: QualityTeam, session: SessionDep, temporal: TemporalDep
) -> TaskStateOut:
    """Assign a task left without inspector (area, conflicts and capacity are checked)."""
    task_or_404(AuditTasks(session), task_id)
    view = await update(
        inspection(temporal, task_id), InspectionWorkflow.assign, AssignTask(body.inspector_id, principal.user_id)
    )
    return state_out(view)


@router.post("/tasks/{task_id}/deadline", responses=error_responses(404, 409, 422, 503))
async def extend_task_deadline(
    task_id: DbId, body: DeadlineIn, principal: TaskSupervisor, session: SessionDep, temporal: TemporalDep
) -> TaskStateOut:
    """Move a task's due date later, within the campaign window: reminders and late detection follow it."""
    task = task_or_404(AuditTasks(session), task_id)
    campaign = AuditCampaigns(session).get(task.campaign_id)
    if campaign is None:
        raise not_found()
    try:
        # checked here for a precise field error; the workflow checks again against its own state
        check_deadline_extension(task.due_on, body.new_due_on, campaign.window_start, campaign.window_end)
    except ValueError as err:
        raise field_error("body.new_due_on", str(err)) from None
    try:
        view = await inspection(temporal, task_id).execute_update(
            InspectionWorkflow.extend_deadline,
            ExtendDeadline(body.new_due_on, principal.user_id, body.reason),
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
    return state_out(view)
