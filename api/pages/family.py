"""Facil'familles pages for families: invoices, one invoice (PDF, pay by card), payments, preferences."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from activities.payment_store import not_payable_reason
from api.deps import S3Dep, SessionDep, SettingsDep
from api.pages.common import check_csrf, guarded, render, signed_in
from api.routes.billing_family import (
    PreferencesIn,
    ensure_invoice_pdf,
    invoice_detail,
    my_account,
    my_invoices,
    my_payments,
    own_invoice,
    set_preferences,
)
from domain.dunning import InvoiceStatus
from domain.periods import period_from_key
from ville.models.billing import DeliveryChannel, MandateStatus, PaymentStatus
from ville.models.people import Role

router = APIRouter(prefix="/famille", tags=["pages"], include_in_schema=False)

STATUS_FR = {
    InvoiceStatus.DRAFT: "Brouillon",
    InvoiceStatus.ISSUED: "À payer",
    InvoiceStatus.PARTIALLY_PAID: "Partiellement payée",
    InvoiceStatus.PAID: "Payée",
    InvoiceStatus.OVERDUE: "En retard",
    InvoiceStatus.TRANSFERRED: "Transmise au Trésor Public",
    InvoiceStatus.CANCELLED: "Annulée",
}
PAYMENT_STATUS_FR = {
    PaymentStatus.pending: "En cours",
    PaymentStatus.succeeded: "Accepté",
    PaymentStatus.failed: "Refusé",
    PaymentStatus.refunded: "Remboursé",
}
METHOD_FR = {
    "card": "Carte bancaire",
    "sepa_debit": "Prélèvement SEPA",
    "cesu": "CESU",
    "cheque": "Chèque",
    "cash_counter": "Espèces (guichet)",
    "credit_note": "Avoir",
}
MANDATE_FR = {
    MandateStatus.none: "Aucun mandat",
    MandateStatus.pending: "Mandat en cours de validation",
    MandateStatus.active: "Mandat actif",
    MandateStatus.suspended: "Mandat suspendu après deux rejets",
    MandateStatus.revoked: "Mandat révoqué",
}


def _period_fr(period_key: str) -> str:
    """'2026-09' → 'septembre–octobre 2026'."""
    try:
        return period_from_key(period_key).label_fr
    except ValueError:
        return period_key


@router.get("/factures", response_class=HTMLResponse)
def invoices_page(request: Request, session: SessionDep) -> Response:
    """The family's invoices."""
    try:
        principal = signed_in(request, Role.family)
    except Exception as exc:
        return guarded(request, exc)
    invoices = my_invoices(principal, session)
    return render(
        request,
        "famille_factures.html",
        title="Mes factures",
        invoices=invoices,
        status_fr=STATUS_FR,
        period=_period_fr,
    )


@router.get("/factures/{number}", response_class=HTMLResponse)
def invoice_page(request: Request, number: str, session: SessionDep, settings: SettingsDep) -> Response:
    """One invoice: lines per child, totals, PDF, and the card form while it is payable online."""
    try:
        principal = signed_in(request, Role.family)
        detail = invoice_detail(session, own_invoice(session, principal, number))
    except Exception as exc:
        return guarded(request, exc)
    children: dict[str, list[object]] = {}
    for line in detail.lines:
        children.setdefault(line.child_first_name, []).append(line)
    blocked = None if detail.status is InvoiceStatus.CANCELLED else not_payable_reason(detail.status)
    return render(
        request,
        "famille_facture.html",
        title=f"Facture {detail.number}",
        invoice=detail,
        children=children,
        status_fr=STATUS_FR,
        period=_period_fr,
        blocked=blocked,
        transferred=detail.status is InvoiceStatus.TRANSFERRED,
        stripe_js_url=settings.stripe_js_url,
        paid=request.query_params.get("paye") == "1",
    )


@router.get("/factures/{number}/pdf")
async def invoice_pdf(request: Request, number: str, session: SessionDep, s3: S3Dep, settings: SettingsDep) -> Response:
    """Redirect to a short-lived link to the invoice PDF."""
    try:
        principal = signed_in(request, Role.family)
        invoice = own_invoice(session, principal, number)
        url = await asyncio.to_thread(
            ensure_invoice_pdf,
            request.app.state.billing_store,
            s3,
            settings.s3_bucket,
            settings.public_base_url,
            invoice.number,
            f"invoices/{invoice.period_key}/{invoice.number}.pdf",
        )
    except Exception as exc:
        return guarded(request, exc)
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)


@router.get("/paiements", response_class=HTMLResponse)
def payments_page(request: Request, session: SessionDep) -> Response:
    """The family's payments and their outcome."""
    try:
        principal = signed_in(request, Role.family)
    except Exception as exc:
        return guarded(request, exc)
    return render(
        request,
        "famille_paiements.html",
        title="Mes paiements",
        payments=my_payments(principal, session),
        status_fr=PAYMENT_STATUS_FR,
        method_fr=METHOD_FR,
    )


@router.get("/preferences", response_class=HTMLResponse)
def preferences_page(request: Request, session: SessionDep) -> Response:
    """How invoices and reminders reach the family."""
    try:
        principal = signed_in(request, Role.family)
        account = my_account(principal, session)
    except Exception as exc:
        return guarded(request, exc)
    return render(
        request,
        "famille_preferences.html",
        title="Mes préférences",
        account=account,
        mandate_fr=MANDATE_FR,
        saved=request.query_params.get("enregistre") == "1",
    )


@router.post("/preferences", response_class=HTMLResponse)
def preferences_submit(
    request: Request,
    session: SessionDep,
    csrf: str = Form(""),
    delivery_channel: str = Form(""),
    sms_opt_in: str | None = Form(None),
) -> Response:
    """Save the preferences, then show them again (post/redirect/get)."""
    try:
        principal = signed_in(request, Role.family)
        check_csrf(request, csrf)
        if delivery_channel not in {c.value for c in DeliveryChannel}:
            account = my_account(principal, session)
            return render(
                request,
                "famille_preferences.html",
                422,
                title="Mes préférences",
                account=account,
                mandate_fr=MANDATE_FR,
                field_error="Choisissez la réception par e-mail ou par courrier.",
            )
        set_preferences(
            PreferencesIn(delivery_channel=DeliveryChannel(delivery_channel), sms_opt_in=sms_opt_in == "oui"),
            principal,
            session,
        )
    except Exception as exc:
        return guarded(request, exc)
    return RedirectResponse("/famille/preferences?enregistre=1", status.HTTP_303_SEE_OTHER)
