"""Inspectors' tasks: the list and one task with its checklist, accept, decline, submit the checklist.

Process actions go through the inspection workflow's updates (validated there, so a refused action leaves no
trace in history); reads come from the database, which the activities keep up to date.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from api import evidence
from api.deps import DbId, S3Dep, SessionDep, SettingsDep, TemporalDep
from api.qualiparis import PREFIX, TEMPORAL_ERRORS, InspectorUser, inspection, state_out, status_of, update
from api.schemas.audit import (
    CriterionOut,
    DeclineIn,
    InspectorTaskDetail,
    InspectorTaskList,
    InspectorTaskOut,
    SubmissionIn,
    TaskStateOut,
)
from api.security import Principal, not_found
from contracts.audit_inspection import AcceptTask, DeclineTask, SubmitChecklist
from domain.audit.referentiel import Referentiel
from domain.audit.task_states import TaskState
from services.audit_tasks import AuditTasks, TaskCard
from ville.models.audit import AuditTask
from workflows.inspection import InspectionWorkflow

router = APIRouter(prefix=PREFIX, tags=["qualiparis"])


def own_task(tasks: AuditTasks, principal: Principal, task_id: int) -> AuditTask:
    """The caller's task, or 404 (a foreign task is indistinguishable from a missing one)."""
    task = tasks.own(principal.inspector_id, task_id)
    if task is None:
        raise not_found()
    return task


def task_referentiel(tasks: AuditTasks, card: TaskCard) -> Referentiel:
    """The référentiel of the task's campaign, or 404."""
    referentiel = tasks.referentiel_of(card)
    if referentiel is None:
        raise not_found()
    return referentiel


def _fields(card: TaskCard) -> dict[str, Any]:
    task, site, campaign = card.task, card.site, card.campaign
    assert task.id is not None
    return {
        "id": task.id,
        "campaign": campaign.name,
        "site_ref": site.ref,
        "site_name": site.name,
        "site_type": site.site_type,
        "arrondissement": site.arrondissement,
        "address": site.address,
        "mode": task.mode,
        "state": status_of(task.state),
        "due_on": task.due_on,
        "window_start": campaign.window_start,
        "window_end": campaign.window_end,
        "accept_by": card.accept_by,
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


# The pages call these routes with the request's session: each builds its service from it.


@router.get("/inspector/tasks")
def my_tasks(
    principal: InspectorUser, session: SessionDep, state: Annotated[str | None, Query(max_length=20)] = None
) -> InspectorTaskList:
    """The caller's tasks (optionally of one state) and the count per state."""
    if principal.inspector_id is None:
        return InspectorTaskList(counts={}, tasks=[])
    tasks = AuditTasks(session)
    mine = tasks.opened_for(principal.inspector_id)
    counts: dict[str, int] = {}
    for t in mine:
        counts[status_of(t.state)] = counts.get(status_of(t.state), 0) + 1
    shown = [t for t in mine if state is None or status_of(t.state) == state]
    return InspectorTaskList(counts=counts, tasks=[InspectorTaskOut(**_fields(tasks.card(t))) for t in shown])


@router.get("/inspector/tasks/{task_id}")
def my_task(task_id: DbId, principal: InspectorUser, session: SessionDep) -> InspectorTaskDetail:
    """One of the caller's tasks, with its checklist."""
    tasks = AuditTasks(session)
    card = tasks.card(own_task(tasks, principal, task_id))
    referentiel = task_referentiel(tasks, card)
    return InspectorTaskDetail(
        **_fields(card),
        checklist=_checklist(referentiel, card.site.site_type, card.task.mode),
        visit_date=card.task.visit_date,
        answers=card.task.answers,
        evidence=card.task.evidence,
    )


@router.post("/inspector/tasks/{task_id}/accept", responses=TEMPORAL_ERRORS)
async def accept_task(
    task_id: DbId, principal: InspectorUser, session: SessionDep, temporal: TemporalDep
) -> TaskStateOut:
    """Accept the task."""
    own_task(AuditTasks(session), principal, task_id)
    assert principal.inspector_id is not None
    view = await update(inspection(temporal, task_id), InspectionWorkflow.accept, AcceptTask(principal.inspector_id))
    return state_out(view)


@router.post("/inspector/tasks/{task_id}/decline", responses=TEMPORAL_ERRORS)
async def decline_task(
    task_id: DbId, body: DeclineIn, principal: InspectorUser, session: SessionDep, temporal: TemporalDep
) -> dict[str, str]:
    """Decline the task: it is offered to another eligible inspector."""
    own_task(AuditTasks(session), principal, task_id)
    assert principal.inspector_id is not None
    await update(
        inspection(temporal, task_id), InspectionWorkflow.decline, DeclineTask(principal.inspector_id, body.reason)
    )
    # the task now belongs to someone else (or nobody): say no more than that it left
    return {"state": TaskState.DECLINED.value}


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
    task = own_task(AuditTasks(session), principal, task_id)
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
    checklist = SubmitChecklist(principal.inspector_id, body.visit_date, answers, body.evidence, body.comment)
    view = await update(inspection(temporal, task.id or task_id), InspectionWorkflow.submit, checklist)
    return state_out(view)
