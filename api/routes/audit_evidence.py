"""QualiParis evidence files by id: the quality team downloads them, an inspector removes one not yet submitted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response

from api import evidence
from api.deps import DbId, S3Dep, SessionDep, SettingsDep
from api.errors import error_responses
from api.security import Principal, not_found, require
from domain.audit.task_states import TaskState
from ville.models.audit import AuditEvidence, AuditTask
from ville.models.people import Role

router = APIRouter(prefix="/api/qualiparis", tags=["qualiparis"])
InspectorUser = Annotated[Principal, require(Role.inspector)]
QualityTeam = Annotated[Principal, require(Role.quality_team)]


def _file(session: SessionDep, task_id: int, evidence_id: int, inspector_id: int | None = None) -> AuditEvidence:
    """A recorded file of the task (of the inspector's own task when given), or 404: never a key from the client."""
    task = session.get(AuditTask, task_id)
    if task is None or (inspector_id is not None and (task.inspector_id != inspector_id or task.opened_at is None)):
        raise not_found()
    row = evidence.find(session, task, evidence_id)
    if row is None:
        raise not_found()
    return row


@router.get("/tasks/{task_id}/evidence/{evidence_id}", responses=error_responses(404))
async def download_evidence(
    task_id: DbId, evidence_id: DbId, principal: QualityTeam, session: SessionDep, s3: S3Dep, settings: SettingsDep
) -> Response:
    """One evidence file, as an attachment of the type its bytes showed, with `nosniff`."""
    row = _file(session, task_id, evidence_id)
    body = await evidence.read(s3, settings.s3_bucket, row)
    return Response(body, media_type=row.content_type, headers=evidence.download_headers(row))


@router.delete(
    "/inspector/tasks/{task_id}/evidence/{evidence_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404, 409),
)
async def remove_evidence(
    task_id: DbId, evidence_id: DbId, principal: InspectorUser, session: SessionDep, s3: S3Dep, settings: SettingsDep
) -> Response:
    """Remove one of the inspector's files, by its id; a file already submitted stays for the reviewer."""
    row = _file(session, task_id, evidence_id, principal.inspector_id or 0)
    task = session.get(AuditTask, task_id)
    assert task is not None
    submitted = {k for keys in (task.evidence or {}).values() for k in keys}
    if task.state not in (TaskState.ACCEPTED, TaskState.SENT_BACK) or row.s3_key in submitted:
        raise HTTPException(status.HTTP_409_CONFLICT, "Ce fichier a déjà été transmis : il ne peut plus être retiré.")
    await evidence.remove(session, s3, settings.s3_bucket, row)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
