"""Console pages: the billing team's queue of payment plan requests, its decisions, and the plans running."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import SessionDep, TemporalDep
from api.pages.common import check_csrf, page_router, refusal_message, signed_in
from api.pages.console import BILLING_ROLES, console_page
from api.routes.billing_operator.payment_plans import decide_for_operator
from api.schemas.payment_plans import PlanDecisionIn, plan_out
from domain.payment_plans import MAX_INSTALMENTS, MIN_INSTALMENTS, DecisionKind, PlanStatus
from services import payment_plans

router = page_router()
CONSOLE = "/operateur/echeanciers"
DECISION_LABEL = {
    DecisionKind.APPROVE: "Accorder le nombre demandé",
    DecisionKind.ADJUST: "Accorder avec un autre nombre d'échéances",
    DecisionKind.REFUSE: "Refuser",
}


def _console(request: Request, session: Session, status_code: int = 200, **extra: Any) -> HTMLResponse:
    rows = [plan_out(r) for r in payment_plans.queue(session)]
    return console_page(
        request,
        "operateur_echeanciers.html",
        status_code,
        title="Échéanciers",
        requests=[r for r in rows if r.status is PlanStatus.REQUESTED],
        running=[r for r in rows if r.status is PlanStatus.APPROVED],
        decisions=list(DECISION_LABEL.items()),
        counts=list(range(MIN_INSTALMENTS, MAX_INSTALMENTS + 1)),
        notice="Décision enregistrée et transmise à la famille." if request.query_params.get("fait") else None,
        **extra,
    )


@router.get(CONSOLE, response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep) -> Response:
    """Plan requests awaiting a decision (each with its form), then the plans running."""
    signed_in(request, *BILLING_ROLES)
    return _console(request, session)


@router.post(CONSOLE + "/{ref}/decision")
async def decision_form(request: Request, ref: str, session: SessionDep, temporal: TemporalDep) -> Response:
    """A billing operator's decision form: handed to the plan's workflow, journalled with the reason."""
    principal = signed_in(request, *BILLING_ROLES)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf", ""))
    kind = form.get("decision", "")
    try:
        body = PlanDecisionIn(
            kind=kind,
            count=int(form["nombre"]) if kind == DecisionKind.ADJUST and form.get("nombre", "").isdigit() else None,
            answer=form.get("reponse", ""),
            reason=form.get("motif", ""),
        )
    except ValidationError:
        message = (
            "Choisissez une décision (et le nombre d'échéances pour un ajustement), écrivez la réponse à la "
            "famille (10 caractères au moins) et le motif pour le journal."
        )
        return _console(request, session, 422, error=message)
    try:
        await decide_for_operator(session, temporal, principal, ref, body)
    except HTTPException as exc:
        if exc.status_code not in (409, 422):
            raise
        return _console(request, session, exc.status_code, error=refusal_message(exc))
    return RedirectResponse(f"{CONSOLE}?fait=1", 303)
