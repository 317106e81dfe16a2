"""The family's payment plans: the invoice page's section (request form, schedule), its plans on « Mes paiements »."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.pages.common import check_csrf, page_router, signed_in
from api.rendering import render
from api.routes.family.invoices import own_invoice
from api.routes.family.payment_plans import ask_for_family
from api.schemas.billing import InvoiceDetail
from api.schemas.payment_plans import PlanOut, PlanRequestIn, plan_out
from api.security import Principal
from domain.dunning import PAYABLE_STATUSES
from domain.payment_plans import (
    HOLDING_STATUSES,
    MAX_INSTALMENTS,
    MIN_INSTALMENTS,
    TEXT_MAX,
    TEXT_MIN,
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

router = page_router()


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
    return RedirectResponse(f"/famille/factures/{number}?echeancier=1#echeancier", 303)
