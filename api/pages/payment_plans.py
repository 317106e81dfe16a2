"""Payment plan pages: the family's section of the invoice page (form and schedule), its plans on « Mes paiements »,
and the billing team's console of requests."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.pages.common import check_csrf, guarded, render, signed_in
from api.pages.operator import BILLING_ROLES, NAV, _page
from api.routes.billing_family import InvoiceDetail, own_invoice
from api.routes.billing_operator_plans import decide_for_operator
from api.routes.family.payment_plans import ask_for_family
from api.schemas.payment_plans import PlanDecisionIn, PlanOut, PlanRequestIn, plan_out
from api.security import Principal
from domain.dunning import PAYABLE_STATUSES
from domain.payment_plans import (
    HOLDING_STATUSES,
    MAX_INSTALMENTS,
    MIN_INSTALMENTS,
    TEXT_MAX,
    TEXT_MIN,
    DecisionKind,
    Instalment,
    PlanRefused,
    PlanStatus,
    covered,
    max_instalments,
    next_due,
)
from services import contests, payment_plans
from ville.models.payment_plans import PaymentPlan
from ville.models.people import Role

router = APIRouter(tags=["pages"], include_in_schema=False)
CONSOLE = "/operateur/echeanciers"
_ENTRY = (CONSOLE, "Échéanciers", BILLING_ROLES)
if _ENTRY not in NAV:  # the console's navigation gains the plans for the billing roles
    NAV.insert(next((i + 1 for i, e in enumerate(NAV) if e[0] == "/operateur/reclamations"), len(NAV)), _ENTRY)
DECISION_LABEL = {
    DecisionKind.APPROVE: "Accorder le nombre demandé",
    DecisionKind.ADJUST: "Accorder avec un autre nombre d'échéances",
    DecisionKind.REFUSE: "Refuser",
}


def _instalments(row: PaymentPlan) -> list[Instalment]:
    return [Instalment(i["seq"], date.fromisoformat(i["due_on"]), i["amount_cents"]) for i in row.instalments]


def plan_section(session: Session, principal: Principal, detail: InvoiceDetail) -> dict[str, Any]:
    """What the invoice page shows about plans: the invoice's plans, the form while one may ask, and the amount the
    card form asks for while a plan runs (the instalment due, not the whole rest)."""
    account = principal.family_account_id
    rows = payment_plans.of_account(session, account, detail.number) if account is not None else []
    busy = any(r.status in HOLDING_STATUSES or r.status == PlanStatus.DEFAULTED for r in rows)
    most = max_instalments(detail.remaining_cents)
    may_ask = detail.status in PAYABLE_STATUSES and not busy and most >= MIN_INSTALMENTS
    card_cents = None
    running = next((r for r in rows if r.status == PlanStatus.APPROVED), None)
    if running is not None and running.invoice_id:
        held = contests.held_by_invoice(session, [running.invoice_id]).get(running.invoice_id, 0)
        due = next_due(_instalments(running), covered(running.total_cents, detail.remaining_cents), held)
        card_cents = min(due[1], detail.payable_now_cents) if due else None
    return {
        "plans": [plan_out(r) for r in rows],
        "plan_counts": list(range(MIN_INSTALMENTS, min(most, MAX_INSTALMENTS) + 1)) if may_ask else [],
        "plan_card_cents": card_cents,
        "plan_text_min": TEXT_MIN,
        "plan_text_max": TEXT_MAX,
    }


def family_plans(session: Session, principal: Principal) -> list[PlanOut]:
    """The family's plans for « Mes paiements » (none for an administrator, who has no account)."""
    if principal.family_account_id is None:
        return []
    return [plan_out(r) for r in payment_plans.of_account(session, principal.family_account_id)]


def _error(request: Request, number: str, message: str) -> Response:
    return render(
        request, "famille_echeancier_erreur.html", 422, title="Demande d'échéancier non envoyée", number=number,
        message=message,
    )  # fmt: skip


@router.post("/famille/factures/{number}/echeancier")
async def plan_form(
    request: Request,
    number: str,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form()] = "",
    count: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """The family's request form: recorded, then back to the invoice page with a confirmation."""
    try:
        principal = signed_in(request, Role.family)
        check_csrf(request, csrf)
        own_invoice(session, principal, number)  # 404 for another family's invoice, before anything else
        try:
            body = PlanRequestIn(count=int(count) if count.isdigit() else 0, reason=reason)
        except ValidationError:
            return _error(
                request,
                number,
                f"Choisissez de {MIN_INSTALMENTS} à {MAX_INSTALMENTS} échéances et expliquez votre demande "
                f"({TEXT_MIN} à {TEXT_MAX} caractères).",
            )
        try:
            await ask_for_family(session, temporal, settings.task_queue, principal, number, body)
        except PlanRefused as err:
            return _error(request, number, err.message_fr)
    except Exception as exc:
        return guarded(request, exc)
    return RedirectResponse(f"/famille/factures/{number}?echeancier=1#echeancier", 303)


def _console(request: Request, session: Session, status_code: int = 200, **extra: Any) -> HTMLResponse:
    rows = [plan_out(r) for r in payment_plans.queue(session)]
    return _page(
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
def console_page(request: Request, session: SessionDep) -> Response:
    """Plan requests awaiting a decision (each with its form), then the plans running."""
    try:
        signed_in(request, *BILLING_ROLES)
        return _console(request, session)
    except Exception as exc:
        return guarded(request, exc)


@router.post(CONSOLE + "/{ref}/decision")
async def decision_form(request: Request, ref: str, session: SessionDep, temporal: TemporalDep) -> Response:
    """A billing operator's decision form: handed to the plan's workflow, journalled with the reason."""
    try:
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
            detail = exc.detail
            message = detail.get("message", "") if isinstance(detail, dict) else str(detail)
            return _console(request, session, exc.status_code, error=message)
    except Exception as exc:
        return guarded(request, exc)
    return RedirectResponse(f"{CONSOLE}?fait=1", 303)
