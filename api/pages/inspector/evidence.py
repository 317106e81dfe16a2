"""Inspector page endpoint: upload of a piece of evidence from the mission page's script."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Header, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.deps import DbId, S3Dep, SessionDep, SettingsDep
from api.pages.common import PageRedirect, check_csrf, page_router, signed_in
from api.routes.inspector.evidence import evidence_upload_url
from api.schemas.audit import EvidenceIn
from domain.audit.evidence import TYPE_REFUSED, declared_kind, size_problem
from ville.models.people import Role

log = structlog.get_logger(__name__)

router = page_router("/inspecteur")


class EvidenceRequest(BaseModel):
    """A file the page is about to upload as evidence for one criterion."""

    criterion_code: str = Field(min_length=1, max_length=20)
    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(max_length=100)
    size_bytes: int = Field(ge=0)


def _json_error(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code, headers={"Cache-Control": "no-store"})


@router.post("/missions/{task_id}/preuves")
async def mission_evidence(
    request: Request,
    task_id: DbId,
    body: EvidenceRequest,
    session: SessionDep,
    s3: S3Dep,
    settings: SettingsDep,
    x_csrf_token: Annotated[str, Header()] = "",
) -> Response:
    """A presigned POST for one photo (type and 1 B–10 MB signed in its policy), called by the page's script."""
    try:
        principal = signed_in(request, Role.inspector)
        check_csrf(request, x_csrf_token)
    except HTTPException as exc:
        return _json_error(exc.status_code, "Session expirée : rechargez la page.")
    except PageRedirect:  # signed out, or not an inspector: a script gets JSON, not the sign-in page
        return _json_error(status.HTTP_401_UNAUTHORIZED, "Session expirée : reconnectez-vous.")
    if declared_kind(body.content_type) is None:
        return _json_error(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, TYPE_REFUSED)
    too = size_problem(body.size_bytes)
    if too:  # an empty file is not « too big »: the message names the bound crossed
        return _json_error(status.HTTP_413_CONTENT_TOO_LARGE, too)
    try:
        upload = await evidence_upload_url(
            task_id,
            EvidenceIn(
                criterion_code=body.criterion_code,
                filename=body.filename,
                content_type=body.content_type,
                size_bytes=body.size_bytes,
            ),
            principal,
            session,
            s3,
            settings,
        )
    except HTTPException as exc:
        detail = exc.detail
        message = str(detail["message"]) if isinstance(detail, dict) else str(detail)
        if exc.status_code == status.HTTP_404_NOT_FOUND:
            message = "Mission introuvable."
        return _json_error(exc.status_code, message)
    log.info("pages.evidence_url", task_id=task_id, criterion=body.criterion_code, size=body.size_bytes)
    return JSONResponse(
        {
            "evidence_id": upload.evidence_id,
            "key": upload.key,
            "upload_url": upload.upload_url,
            "method": upload.method,
            "fields": upload.fields,
            "name": upload.name,
        },
        headers={"Cache-Control": "no-store"},
    )
