"""Console pages: the queue of families' contests and the billing operator's decision."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import SessionDep, TemporalDep
from api.pages.common import check_csrf, page_router, signed_in
from api.pages.console import BILLING_ROLES, console_page
from api.routes.billing_operator.contests import decide_for_operator, queue_item
from api.routes.family.contests import today_paris
from api.schemas.contests import DecisionIn
from domain.contests import REASON_LABEL, DecisionKind
from domain.money import parse_eur
from services import contests

router = page_router()


QUEUE = "/operateur/reclamations"


DECISION_LABEL = {
    DecisionKind.ACCEPT_FULL: "Accepter en totalité",
    DecisionKind.ACCEPT_PARTIAL: "Accepter en partie",
    DecisionKind.REFUSE: "Refuser",
}


def _queue_page(request: Request, session: Session, status_code: int = 200, **extra: Any) -> HTMLResponse:
    today = today_paris()
    return console_page(
        request,
        "operateur_reclamations.html",
        status_code,
        title="Réclamations",
        rows=[queue_item(r, today) for r in contests.open_queue(session)],
        decisions=list(DECISION_LABEL.items()),
        reason_labels={r.value: label for r, label in REASON_LABEL.items()},
        notice="Décision enregistrée et transmise à la famille." if request.query_params.get("fait") else None,
        **extra,
    )


@router.get(QUEUE, response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep) -> Response:
    """Open contests, nearest deadline first, each with its decision form."""
    signed_in(request, *BILLING_ROLES)
    return _queue_page(request, session)


def _amounts(form: dict[str, str]) -> dict[str, int]:
    """`montant-<code>` fields in euros ("12,50") as cents; empty fields are left out."""
    out = {}
    for name, value in form.items():
        if name.startswith("montant-") and value.strip():
            out[name.removeprefix("montant-")] = parse_eur(value)
    return out


@router.post(QUEUE + "/{ref}/decision")
async def decision_form(request: Request, ref: str, session: SessionDep, temporal: TemporalDep) -> Response:
    """A billing operator's decision form: handed to the contest's workflow, journalled with the reason."""
    principal = signed_in(request, *BILLING_ROLES)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf", ""))
    try:
        body = DecisionIn(
            kind=form.get("decision", ""),
            answer=form.get("reponse", ""),
            amounts_by_activity=_amounts(form) if form.get("decision") == DecisionKind.ACCEPT_PARTIAL else {},
            reason=form.get("motif", ""),
        )
    except (ValidationError, ValueError):
        message = (
            "Choisissez une décision, écrivez la réponse à la famille (10 caractères au moins), "
            "le motif pour le journal, et des montants en euros (12,50)."
        )
        return _queue_page(request, session, 422, error=message)
    try:
        await decide_for_operator(session, temporal, principal, ref, body)
    except HTTPException as exc:
        if exc.status_code not in (409, 422):
            raise
        detail = exc.detail
        message = detail.get("message", "") if isinstance(detail, dict) else str(detail)
        return _queue_page(request, session, exc.status_code, error=message)
    return RedirectResponse(f"{QUEUE}?fait=1", 303)
