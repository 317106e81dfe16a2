"""Inspectors' evidence files: a presigned upload for one criterion, and removal of a file not yet submitted."""

from __future__ import annotations

import re

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response

from api import evidence
from api.deps import AuditTasksDep, DbId, S3Dep, SessionDep, SettingsDep
from api.errors import error_responses, field_error
from api.qualiparis import PREFIX, TEMPORAL_ERRORS, InspectorUser
from api.routes.inspector.tasks import own_task, task_referentiel
from api.schemas.audit import EvidenceIn, EvidenceUploadOut
from api.security import not_found
from domain.audit.evidence import TYPE_REFUSED, declared_kind, size_problem
from domain.audit.task_states import TaskState
from services.audit_tasks import AuditTasks

router = APIRouter(prefix=PREFIX, tags=["qualiparis"])


@router.post("/inspector/tasks/{task_id}/evidence", status_code=status.HTTP_201_CREATED, responses=TEMPORAL_ERRORS)
async def evidence_upload_url(
    task_id: DbId, body: EvidenceIn, principal: InspectorUser, session: SessionDep, s3: S3Dep, settings: SettingsDep
) -> EvidenceUploadOut:
    """A presigned POST for one evidence file (JPEG, PNG or PDF, 1 B–10 MB); its key is drawn and recorded now."""
    tasks = AuditTasks(session)  # built here: the pages call this route with their session
    task = own_task(tasks, principal, task_id)
    if task.state not in (TaskState.ACCEPTED, TaskState.SENT_BACK):
        raise HTTPException(status.HTTP_409_CONFLICT, "Acceptez la tâche avant de déposer des preuves.")
    kind = declared_kind(body.content_type)
    if kind is None:
        raise field_error("content_type", TYPE_REFUSED, 415)
    too = size_problem(body.size_bytes) if body.size_bytes is not None else None
    if too:
        raise field_error("size_bytes", too, 413)
    card = tasks.card(task)
    assert principal.inspector_id
    referentiel = task_referentiel(tasks, card)
    if body.criterion_code not in {c.code for c in referentiel.criteria_for(card.site.site_type, task.mode)}:
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


@router.delete(
    "/inspector/tasks/{task_id}/evidence/{evidence_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404, 409),
)
async def remove_evidence(
    task_id: DbId,
    evidence_id: DbId,
    principal: InspectorUser,
    session: SessionDep,
    tasks: AuditTasksDep,
    s3: S3Dep,
    settings: SettingsDep,
) -> Response:
    """Remove one of the inspector's files, by its id; a file already submitted stays for the reviewer."""
    # never a key from the client: the file must be recorded for the inspector's own task
    task = tasks.own(principal.inspector_id or 0, task_id)
    row = None if task is None else evidence.find(session, task, evidence_id)
    if task is None or row is None:
        raise not_found()
    submitted = {k for keys in (task.evidence or {}).values() for k in keys}
    if task.state not in (TaskState.ACCEPTED, TaskState.SENT_BACK) or row.s3_key in submitted:
        raise HTTPException(status.HTTP_409_CONFLICT, "Ce fichier a déjà été transmis : il ne peut plus être retiré.")
    await evidence.remove(session, s3, settings.s3_bucket, row)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
