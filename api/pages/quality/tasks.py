"""Console pages of the quality team: audit tasks late or without inspector, assignment, due dates."""

from __future__ import annotations

from typing import Any

from fastapi import Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from api.audit_log import audit
from api.deps import DbId, SessionDep, SettingsDep, TemporalDep
from api.form_dates import FormDateError, parse_form_date
from api.pages.common import check_csrf, page_router, refusal_message, signed_in
from api.pages.console import AUDIT_ROLES, NOTICES, console_page, done_redirect, required_motif, ui_url
from api.routes.quality.review import assign_task, extend_task_deadline
from api.schemas.audit import AssignIn, DeadlineIn
from domain import labels
from services.audit_campaigns import AuditCampaigns
from services.audit_tasks import AuditTasks
from ville.ids import inspection_id
from ville.settings import Settings

router = page_router()


def _tasks(session: Session, campaign_id: int | None, only: str) -> list[dict[str, Any]]:
    return [{"task": t, "site": s} for t, s in AuditTasks(session).console_list(campaign_id, only)]


@router.get("/operateur/taches", response_class=HTMLResponse)
def tasks_page(
    request: Request, session: SessionDep, settings: SettingsDep, campagne: str = "", filtre: str = "retard"
) -> Response:
    """Late tasks, or tasks left without inspector (with the assignment form)."""
    signed_in(request, *AUDIT_ROLES)
    return _tasks_page(request, session, settings, campagne, filtre)


def _tasks_page(
    request: Request, session: Session, settings: Settings, campagne: str, filtre: str, status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:  # fmt: skip
    campaign_id = int(campagne) if campagne.isdigit() else None
    only = filtre if filtre in ("retard", "sans-inspecteur", "toutes") else "retard"
    inspectors = AuditCampaigns(session).active_inspectors()
    return console_page(
        request,
        "operateur_taches.html",
        status_code,
        title="Tâches d'audit",
        rows=[{**r, "url": ui_url(settings, inspection_id(r["task"].id))} for r in _tasks(session, campaign_id, only)],
        inspectors=inspectors,
        state_fr=labels.task_state,
        filters={"campagne": campagne, "filtre": only},
        notice=NOTICES.get(request.query_params.get("fait", "")),
        **extra,
    )


@router.post("/operateur/taches/{task_id}/attribuer")
async def task_assign(
    request: Request, task_id: DbId, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""), inspector_id: str = Form(""),
) -> Response:  # fmt: skip
    """Assign a task left without inspector (the inspection workflow checks area, conflicts, capacity)."""
    principal = signed_in(request, *AUDIT_ROLES)
    check_csrf(request, csrf)
    try:
        reason = required_motif(motif)
        if not inspector_id.isdigit():
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Choisissez un inspecteur.")
        await assign_task(task_id, AssignIn(inspector_id=int(inspector_id)), principal, session, temporal)
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        message = exc.detail.get("message", "") if isinstance(exc.detail, dict) else str(exc.detail)
        return _tasks_page(
            request, session, settings, "", "sans-inspecteur", 422, error=message or "Attribution refusée."
        )
    audit(session, principal, "task.assign", inspection_id(task_id), f"{reason} (inspecteur {inspector_id})")
    return done_redirect("/operateur/taches?filtre=sans-inspecteur", "attribution")


@router.post("/operateur/taches/{task_id}/echeance")
async def task_deadline(
    request: Request, task_id: DbId, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""), echeance: str = Form(""),
) -> Response:  # fmt: skip
    """Move a task's due date later (the inspection workflow moves its reminders and late detection)."""
    principal = signed_in(request, *AUDIT_ROLES)
    check_csrf(request, csrf)
    try:
        reason = required_motif(motif)
        try:
            new_due = parse_form_date(echeance, "Indiquez la nouvelle échéance (jj/mm/aaaa).")
        except FormDateError as err:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from None
        await extend_task_deadline(task_id, DeadlineIn(new_due_on=new_due, reason=reason), principal, session,
                                   temporal)  # fmt: skip
    except HTTPException as exc:
        if exc.status_code not in (409, 422):
            raise
        return _tasks_page(
            request, session, settings, "", "toutes", exc.status_code,
            error=refusal_message(exc, "Report refusé."),
        )  # fmt: skip
    return done_redirect("/operateur/taches?filtre=toutes", "echeance")
