"""QualiParis pages for inspectors: missions by state, one mission (accept, decline, checklist)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import S3Dep, SessionDep, SettingsDep, TemporalDep
from api.pages.common import check_csrf, guarded, render, signed_in
from api.routes.audit import (
    DeclineIn,
    SubmissionIn,
    accept_task,
    decline_task,
    my_task,
    my_tasks,
    submit_task,
)
from domain.audit.task_states import TaskState
from ville.models.people import Role

router = APIRouter(prefix="/inspecteur", tags=["pages"], include_in_schema=False)

MODE_FR = {"visit": "Visite mystère", "call": "Appel mystère", "email": "Test par e-mail"}
STATE_ORDER = [s.value for s in TaskState] + ["unassigned"]


def _state_fr(state: str) -> str:
    try:
        return TaskState(state).label
    except ValueError:
        return state


@router.get("/missions", response_class=HTMLResponse)
def missions_page(request: Request, session: SessionDep) -> Response:
    """The inspector's tasks, grouped by state."""
    try:
        principal = signed_in(request, Role.inspector)
    except Exception as exc:
        return guarded(request, exc)
    listing = my_tasks(principal, session, None)
    groups = [(s, [t for t in listing.tasks if t.state == s]) for s in STATE_ORDER if listing.counts.get(s)]
    return render(
        request, "inspecteur_missions.html", title="Mes missions", groups=groups, state_fr=_state_fr, mode_fr=MODE_FR
    )


def _task_page(request: Request, session: Any, task_id: int, status_code: int = 200, **extra: Any) -> HTMLResponse:
    principal = signed_in(request, Role.inspector)
    task = my_task(task_id, principal, session)
    return render(
        request,
        "inspecteur_mission.html",
        status_code,
        title=f"Mission — {task.site_name}",
        task=task,
        state_fr=_state_fr,
        mode_fr=MODE_FR,
        can_answer=task.state in (TaskState.ASSIGNED.value,),
        can_submit=task.state in (TaskState.ACCEPTED.value, TaskState.SENT_BACK.value),
        values=extra.pop("values", None) or {k: _show(v) for k, v in (task.answers or {}).items()},
        errors=extra.pop("errors", {}),
        **extra,
    )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)


@router.get("/missions/{task_id}", response_class=HTMLResponse)
def mission_page(request: Request, task_id: int, session: SessionDep) -> Response:
    """One task with its checklist."""
    try:
        return _task_page(request, session, task_id, notice=_notice(request.query_params.get("fait")))
    except Exception as exc:
        return guarded(request, exc)


def _notice(done: str | None) -> str | None:
    return {
        "accepte": "Mission acceptée : vous pouvez remplir la grille.",
        "envoye": "Grille envoyée pour relecture. Merci.",
    }.get(done or "")


@router.post("/missions/{task_id}/accepter")
async def mission_accept(
    request: Request, task_id: int, session: SessionDep, temporal: TemporalDep, csrf: str = Form("")
) -> Response:
    """Accept the task."""
    try:
        principal = signed_in(request, Role.inspector)
        check_csrf(request, csrf)
        await accept_task(task_id, principal, session, temporal)
    except Exception as exc:
        return guarded(request, exc)
    return RedirectResponse(f"/inspecteur/missions/{task_id}?fait=accepte", status.HTTP_303_SEE_OTHER)


@router.post("/missions/{task_id}/decliner")
async def mission_decline(
    request: Request,
    task_id: int,
    session: SessionDep,
    temporal: TemporalDep,
    csrf: str = Form(""),
    reason: str = Form(""),
) -> Response:
    """Decline the task: it leaves the inspector's list."""
    try:
        principal = signed_in(request, Role.inspector)
        check_csrf(request, csrf)
        await decline_task(task_id, DeclineIn(reason=reason[:300]), principal, session, temporal)
    except Exception as exc:
        return guarded(request, exc)
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
    task_id: int,
    session: SessionDep,
    temporal: TemporalDep,
    s3: S3Dep,
    settings: SettingsDep,
) -> Response:
    """Check the checklist field by field, then submit it to the inspection workflow."""
    try:
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
        visit_raw = str(form.get("visit_date", ""))
        values["visit_date"] = visit_raw
        comment = str(form.get("comment", ""))[:2000]
        values["comment"] = comment
        visit: date | None = None
        try:
            visit = date.fromisoformat(visit_raw)
        except ValueError:
            errors["visit_date"] = "Indiquez la date de la visite (jj/mm/aaaa)."
        if errors or visit is None:
            return _task_page(request, session, task_id, 422, values=values, errors=errors)
        try:
            await submit_task(
                task_id,
                SubmissionIn(visit_date=visit, answers=answers, comment=comment),
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
                key = str(f.get("field", "")).split(".")[-1]
                errors[key if key in values else "_"] = str(f.get("message", ""))
            if not errors:
                errors["_"] = str(exc.detail.get("message", "Grille refusée."))
            return _task_page(request, session, task_id, 422, values=values, errors=errors)
    except Exception as exc:
        return guarded(request, exc)
    return RedirectResponse(f"/inspecteur/missions/{task_id}?fait=envoye", status.HTTP_303_SEE_OTHER)
