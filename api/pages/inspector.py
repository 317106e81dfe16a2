"""QualiParis pages for inspectors: missions by state, one mission (accept, decline, checklist)."""

from __future__ import annotations

from datetime import UTC, date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import structlog
from fastapi import Form, Header, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import col, select

from api import evidence as evidence_files
from api.deps import DbId, S3Dep, SessionDep, SettingsDep, TemporalDep
from api.form_dates import FormDateError, parse_form_date
from api.pages.common import PageRedirect, check_csrf, page_router, render, signed_in
from api.routes.audit import (
    DeclineIn,
    EvidenceIn,
    SubmissionIn,
    accept_task,
    decline_task,
    evidence_upload_url,
    my_task,
    my_tasks,
    submit_task,
)
from domain import labels
from domain.audit.campaign import VisitWindow, paris_date, visit_window
from domain.audit.evidence import KINDS, MAX_FILES_PER_CRITERION, MAX_MB, TYPE_REFUSED, declared_kind, size_problem
from domain.audit.task_states import TaskState
from ville.models.audit import AuditAssignment, AuditTask
from ville.models.people import Role

log = structlog.get_logger(__name__)
router = page_router("/inspecteur")

MODE_FR = {"visit": "Visite mystère", "call": "Appel mystère", "email": "Test par e-mail"}
# the four piles an inspector works from, in the order of the work
GROUPS: list[tuple[str, str, frozenset[str]]] = [
    ("a-accepter", "À accepter", frozenset({TaskState.ASSIGNED.value})),
    ("en-cours", "En cours", frozenset({TaskState.ACCEPTED.value})),
    ("renvoyees", "Renvoyées pour correction", frozenset({TaskState.SENT_BACK.value})),
    (
        "terminees",
        "Terminées",
        frozenset(
            {TaskState.SUBMITTED.value, TaskState.APPROVED.value, TaskState.WITHDRAWN.value, TaskState.EXPIRED.value}
        ),
    ),
]
# photos from a phone, or a scan; type and size are signed into the upload form and checked again on submission
PHOTO_TYPES = {k.content_type: k.label for k in KINDS.values()}


@router.get("/missions", response_class=HTMLResponse)
def missions_page(request: Request, session: SessionDep) -> Response:
    """The inspector's tasks, grouped by state."""
    principal = signed_in(request, Role.inspector)
    listing = my_tasks(principal, session, None)
    groups = [(slug, label, [t for t in listing.tasks if t.state in states]) for slug, label, states in GROUPS]
    return render(
        request,
        "inspecteur_missions.html",
        title="Mes missions",
        groups=groups,
        empty=not listing.tasks,
        state_fr=labels.task_state,
        mode_fr=MODE_FR,
    )


def _task_page(request: Request, session: Any, task_id: int, status_code: int = 200, **extra: Any) -> HTMLResponse:
    principal = signed_in(request, Role.inspector)
    task = my_task(task_id, principal, session)
    evidence = extra.pop("evidence", None)
    if evidence is None:
        evidence = {k: list(v) for k, v in (task.evidence or {}).items()}
    row = session.get(AuditTask, task_id)
    assert row is not None
    file_names = evidence_files.names(session, row)
    # only files recorded for this task are shown back (a refused file was removed; a foreign key never was ours)
    evidence = {code: [k for k in keys if k in file_names] for code, keys in evidence.items()}
    return render(
        request,
        "inspecteur_mission.html",
        status_code,
        title=f"Mission — {task.site_name}",
        task=task,
        visit_hint=_visit_window(session, task.id, task.window_start, task.window_end, task.due_on).hint_fr(),
        state_fr=labels.task_state,
        mode_fr=MODE_FR,
        can_answer=task.state in (TaskState.ASSIGNED.value,),
        can_submit=task.state in (TaskState.ACCEPTED.value, TaskState.SENT_BACK.value),
        values=extra.pop("values", None) or {k: _show(v) for k, v in (task.answers or {}).items()},
        errors=extra.pop("errors", {}),
        evidence=evidence,
        file_name=file_names.__getitem__,
        photo_types=",".join(PHOTO_TYPES),
        max_mb=MAX_MB,
        **extra,
    )


def _visit_window(session: Any, task_id: int, window_start: date, window_end: date, due_on: date) -> VisitWindow:
    """The mission's visit window (domain rule), from when it was given to this inspector.

    The acceptance itself is not recorded; the assignment that the inspector accepted is the latest one.
    """
    assigned_at = session.exec(
        select(AuditAssignment.assigned_at)
        .where(AuditAssignment.task_id == task_id)
        .order_by(col(AuditAssignment.round).desc())
    ).first()
    if assigned_at is not None and assigned_at.tzinfo is None:  # SQLite returns UTC without its zone
        assigned_at = assigned_at.replace(tzinfo=UTC)
    taken_on = paris_date(assigned_at) if assigned_at is not None else None
    return visit_window(window_start, window_end, due_on, taken_on)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)


@router.get("/missions/{task_id}", response_class=HTMLResponse)
def mission_page(request: Request, task_id: DbId, session: SessionDep) -> Response:
    """One task with its checklist."""
    return _task_page(request, session, task_id, notice=_notice(request.query_params.get("fait")))


def _notice(done: str | None) -> str | None:
    return {
        "accepte": "Mission acceptée : vous pouvez remplir la grille.",
        "envoye": "Grille envoyée pour relecture. Merci.",
    }.get(done or "")


@router.post("/missions/{task_id}/accepter")
async def mission_accept(
    request: Request, task_id: DbId, session: SessionDep, temporal: TemporalDep, csrf: str = Form("")
) -> Response:
    """Accept the task."""
    principal = signed_in(request, Role.inspector)
    check_csrf(request, csrf)
    await accept_task(task_id, principal, session, temporal)
    return RedirectResponse(f"/inspecteur/missions/{task_id}?fait=accepte", status.HTTP_303_SEE_OTHER)


@router.post("/missions/{task_id}/decliner")
async def mission_decline(
    request: Request,
    task_id: DbId,
    session: SessionDep,
    temporal: TemporalDep,
    csrf: str = Form(""),
    reason: str = Form(""),
) -> Response:
    """Decline the task: it leaves the inspector's list."""
    principal = signed_in(request, Role.inspector)
    check_csrf(request, csrf)
    await decline_task(task_id, DeclineIn(reason=reason[:300]), principal, session, temporal)
    return RedirectResponse("/inspecteur/missions?decline=1", status.HTTP_303_SEE_OTHER)


def _parse(criterion: Any, raw: str) -> tuple[Any, str | None]:
    """The typed answer of one criterion, or a French message saying what is expected."""
    raw = raw.strip()
    if criterion.answer_type == "yes_no":
        if raw in ("oui", "non"):
            return raw == "oui", None
        return None, "Répondez par oui ou par non."
    if not raw:
        return None, "Réponse obligatoire."
    if criterion.answer_type == "scale":
        top = criterion.scale_max or 5
        if raw.isdigit() and 0 <= int(raw) <= top:
            return int(raw), None
        return None, f"Saisissez une note entière de 0 à {top}."
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        return None, "Saisissez un nombre, par exemple 12 ou 2,5."
    if value < 0:
        return None, "La mesure ne peut pas être négative."
    return (int(value) if value == value.to_integral_value() else float(value)), None


@router.post("/missions/{task_id}/grille", response_class=HTMLResponse)
async def mission_submit(
    request: Request,
    task_id: DbId,
    session: SessionDep,
    temporal: TemporalDep,
    s3: S3Dep,
    settings: SettingsDep,
) -> Response:
    """Check the checklist field by field, then submit it (the cited files are checked there, by their bytes)."""
    principal = signed_in(request, Role.inspector)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    task = my_task(task_id, principal, session)
    values = {c.code: str(form.get(f"answer_{c.code}", "")) for c in task.checklist}
    errors: dict[str, str] = {}
    answers: dict[str, Any] = {}
    for c in task.checklist:
        answer, problem = _parse(c, values[c.code])
        if problem:
            errors[c.code] = problem
        else:
            answers[c.code] = answer
    evidence: dict[str, list[str]] = {}
    for c in task.checklist:
        keys = [str(k) for k in form.getlist(f"evidence_{c.code}") if str(k).strip()]
        if keys:
            evidence[c.code] = keys[:MAX_FILES_PER_CRITERION]
    visit_raw = str(form.get("visit_date", ""))
    values["visit_date"] = visit_raw
    comment = str(form.get("comment", ""))[:2000]
    values["comment"] = comment
    visit: date | None = None
    try:
        visit = parse_form_date(visit_raw, "Indiquez la date de la visite (jj/mm/aaaa).")
    except FormDateError as err:
        errors["visit_date"] = str(err)
    if errors or visit is None:
        return _task_page(request, session, task_id, 422, values=values, errors=errors, evidence=evidence)
    try:
        await submit_task(
            task_id,
            SubmissionIn(visit_date=visit, answers=answers, evidence=evidence, comment=comment),
            principal,
            session,
            temporal,
            s3,
            settings,
        )
    except HTTPException as exc:
        if exc.status_code != 422 or not isinstance(exc.detail, dict):
            raise
        for f in exc.detail.get("fields", []):
            errors.setdefault(_error_key(str(f.get("field", "")), values), str(f.get("message", "")))
        if not errors:
            errors["_"] = str(exc.detail.get("message", "Grille refusée."))
        return _task_page(request, session, task_id, 422, values=values, errors=errors, evidence=evidence)
    return RedirectResponse(f"/inspecteur/missions/{task_id}?fait=envoye", status.HTTP_303_SEE_OTHER)


def _error_key(field: str, values: dict[str, str]) -> str:
    """Where a workflow's field error is shown: `answers.X` next to X, `evidence.X` next to X's photo."""
    kind, _, code = field.partition(".")  # codes contain dots themselves: E01.1
    if kind == "evidence" and code in values:
        return f"evidence_{code}"
    return code if code in values else "_"


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
