"""Inspector pages: the missions grouped by state, one mission, accept or decline it."""

from __future__ import annotations

from datetime import UTC, date
from typing import Any

from fastapi import Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api import evidence as evidence_files
from api.deps import DbId, SessionDep, TemporalDep
from api.pages.common import check_csrf, page_router, signed_in
from api.rendering import render
from api.routes.inspector.tasks import accept_task, decline_task, my_task, my_tasks
from api.schemas.audit import DeclineIn
from domain import labels
from domain.audit.campaign import VisitWindow, paris_date, visit_window
from domain.audit.evidence import KINDS, MAX_MB
from domain.audit.task_states import TaskState
from services.audit_tasks import AuditTasks
from ville.models.audit import AuditTask
from ville.models.people import Role

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


def task_page(request: Request, session: Any, task_id: int, status_code: int = 200, **extra: Any) -> HTMLResponse:
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


def _visit_window(session: Session, task_id: int, window_start: date, window_end: date, due_on: date) -> VisitWindow:
    """The mission's visit window (domain rule), from when it was given to this inspector.

    The acceptance itself is not recorded; the assignment that the inspector accepted is the latest one.
    """
    assigned_at = AuditTasks(session).latest_assigned_at(task_id)
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
    return task_page(request, session, task_id, notice=_notice(request.query_params.get("fait")))


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
