"""Inspector page: the checklist (grid) of a mission, checked and sent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import DbId, S3Dep, SessionDep, SettingsDep, TemporalDep
from api.form_dates import FormDateError, parse_form_date
from api.pages.common import check_csrf, page_router, signed_in
from api.pages.inspector.missions import task_page
from api.routes.inspector.tasks import my_task, submit_task
from api.schemas.audit import SubmissionIn
from domain.audit.evidence import MAX_FILES_PER_CRITERION
from ville.models.people import Role

router = page_router("/inspecteur")


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
        return task_page(request, session, task_id, 422, values=values, errors=errors, evidence=evidence)
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
        return task_page(request, session, task_id, 422, values=values, errors=errors, evidence=evidence)
    return RedirectResponse(f"/inspecteur/missions/{task_id}?fait=envoye", status.HTTP_303_SEE_OTHER)


def _error_key(field: str, values: dict[str, str]) -> str:
    """Where a workflow's field error is shown: `answers.X` next to X, `evidence.X` next to X's photo."""
    kind, _, code = field.partition(".")  # codes contain dots themselves: E01.1
    if kind == "evidence" and code in values:
        return f"evidence_{code}"
    return code if code in values else "_"
