"""Facil'familles pages for families: invoices (PDF, pay by card), payments, preferences, SEPA mandate, statement."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import stripe
from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select

from api.deps import BillingStoreDep, PaymentsDep, S3Dep, SessionDep, SettingsDep
from api.pages.common import check_csrf, guarded, render, signed_in
from api.pages.contests import contest_section
from api.pages.payment_plans import family_plans, plan_section
from api.rendering import NAV_BY_ROLE
from api.routes.billing_family import (
    MandateConfirmIn,
    PreferencesIn,
    SetupIntentOut,
    ensure_invoice_pdf,
    invoice_detail,
    mandate_confirm,
    mandate_setup,
    mandate_summary,
    my_account,
    my_invoices,
    my_payments,
    my_statements,
    own_invoice,
    own_statement,
    set_preferences,
    statement_pdf,
)
from domain.dunning import InvoiceStatus
from domain.periods import period_from_key
from domain.sepa import holder_error, iban_error, mask_iban, normalize_iban
from services.payments import not_payable_reason
from ville.models.billing import DeliveryChannel, FamilyAccount, MandateStatus, Payer
from ville.models.people import Role

T = TypeVar("T")
router = APIRouter(prefix="/famille", tags=["pages"], include_in_schema=False)

# The shared navigation lives in common.py; the family pages added here extend the family's entries.
for _entry in (("/famille/mandat", "Prélèvement"), ("/famille/attestations", "Attestations annuelles")):
    if _entry not in NAV_BY_ROLE.setdefault(Role.family, []):
        NAV_BY_ROLE[Role.family].append(_entry)


def _period_fr(period_key: str) -> str:
    """'2026-09' → 'septembre–octobre 2026'."""
    try:
        return period_from_key(period_key).label_fr
    except ValueError:
        return period_key


def _read(request: Request, read: Callable[[Session], T]) -> Awaitable[T]:
    """Run `read` on a session of its own in one worker thread (the two most viewed pages: one thread hand-off
    per request instead of three for a session dependency and a sync route; asyncio's executor is lighter than
    anyio's limiter here, bench/pages.py)."""

    def run() -> T:
        with request.app.state.sessions() as session:
            return read(session)

    return asyncio.to_thread(run)


@router.get("/factures", response_class=HTMLResponse)
async def invoices_page(request: Request) -> Response:
    """The family's invoices."""
    try:
        principal = signed_in(request, Role.family)
    except Exception as exc:
        return guarded(request, exc)
    invoices = await _read(request, lambda session: my_invoices(principal, session))
    return render(
        request,
        "famille_factures.html",
        title="Mes factures",
        invoices=invoices,
        period=_period_fr,
    )


@router.get("/factures/{number}", response_class=HTMLResponse)
async def invoice_page(request: Request, number: str, settings: SettingsDep) -> Response:
    """One invoice: lines per child, totals, PDF, and the card form while it is payable online."""
    try:
        principal = signed_in(request, Role.family)
        detail = await _read(request, lambda session: invoice_detail(session, own_invoice(session, principal, number)))
    except Exception as exc:
        return guarded(request, exc)
    children: dict[str, list[object]] = {}
    for line in detail.lines:
        children.setdefault(line.child_first_name, []).append(line)
    blocked = None if detail.status is InvoiceStatus.CANCELLED else not_payable_reason(detail.status)
    section = await _read(request, lambda session: contest_section(session, principal, detail))
    plan = await _read(request, lambda session: plan_section(session, principal, detail))
    return render(
        request,
        "famille_facture.html",
        title=f"Facture {detail.number}",
        invoice=detail,
        children=children,
        period=_period_fr,
        blocked=blocked,
        transferred=detail.status is InvoiceStatus.TRANSFERRED,
        stripe_js_url=settings.stripe_js_url,
        paid=request.query_params.get("paye") == "1",
        **section,
        **plan,
    )


@router.get("/factures/{number}/pdf")
async def invoice_pdf(
    request: Request, number: str, session: SessionDep, s3: S3Dep, settings: SettingsDep, store: BillingStoreDep
) -> Response:
    """Redirect to a short-lived link to the invoice PDF."""
    try:
        principal = signed_in(request, Role.family)
        invoice = own_invoice(session, principal, number)
        url = await asyncio.to_thread(
            ensure_invoice_pdf,
            store,
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
        plans=family_plans(session, principal),
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


# --- SEPA mandate -----------------------------------------------------------------------------------------

NOT_CONFIRMED = "Le mandat n'a pas été confirmé par la banque : vérifiez l'IBAN et recommencez."


def _account_and_payer(session: SessionDep, account_id: int | None) -> tuple[FamilyAccount, Payer | None]:
    account = session.get(FamilyAccount, account_id)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Compte introuvable")
    return account, session.exec(select(Payer).where(Payer.account_id == account.id)).first()


def _mandate_page(request: Request, session: SessionDep, account_id: int | None, status_code: int = 200,
                  **extra: object) -> HTMLResponse:  # fmt: skip
    account, payer = _account_and_payer(session, account_id)
    return render(
        request,
        "famille_mandat.html",
        status_code,
        title="Prélèvement automatique",
        mandate=mandate_summary(session, account),
        active=account.mandate_status is MandateStatus.active,
        holder_default=f"{payer.first_name} {payer.last_name}" if payer else "",
        errors=extra.pop("errors", {}),
        values=extra.pop("values", {}),
        **extra,
    )


@router.get("/mandat", response_class=HTMLResponse)
def mandate_page(request: Request, session: SessionDep) -> Response:
    """The family's SEPA mandate (reference, masked IBAN) and the form to set one up or change account."""
    try:
        principal = signed_in(request, Role.family)
        return _mandate_page(request, session, principal.family_account_id,
                             saved=request.query_params.get("enregistre") == "1")  # fmt: skip
    except Exception as exc:
        return guarded(request, exc)


@router.post("/mandat", response_class=HTMLResponse)
async def mandate_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    payments: PaymentsDep,
    csrf: str = Form(""),
    holder: str = Form(""),
    iban: str = Form(""),
) -> Response:
    """Check the IBAN and the holder, then show the mandate to sign (the bank confirms it through Stripe.js)."""
    try:
        principal = signed_in(request, Role.family)
        check_csrf(request, csrf)
        errors = {k: v for k, v in (("holder", holder_error(holder)), ("iban", iban_error(iban))) if v}
        if errors:
            return _mandate_page(request, session, principal.family_account_id, 422, errors=errors,
                                 values={"holder": holder, "iban": iban})  # fmt: skip
        setup: SetupIntentOut = await mandate_setup(principal, payments, settings)
        _, payer = _account_and_payer(session, principal.family_account_id)
        normalized = normalize_iban(iban)
    except Exception as exc:
        return guarded(request, exc)
    return render(
        request,
        "famille_mandat_signature.html",
        title="Signer le mandat de prélèvement",
        holder=" ".join(holder.split()),
        iban=normalized,
        iban_masked=mask_iban(normalized[-4:], normalized[:2]),
        email=payer.email if payer else "",
        setup=setup,
        stripe_js_url=settings.stripe_js_url,
    )


@router.post("/mandat/confirmation", response_class=HTMLResponse)
async def mandate_signed(
    request: Request,
    session: SessionDep,
    payments: PaymentsDep,
    csrf: str = Form(""),
    setup_intent_id: str = Form(""),
) -> Response:
    """Record the mandate the bank confirmed, then show its reference and the masked IBAN."""
    try:
        principal = signed_in(request, Role.family)
        check_csrf(request, csrf)
        try:
            await mandate_confirm(MandateConfirmIn(setup_intent_id=setup_intent_id), principal, session, payments)
        except (HTTPException, ValueError, stripe.StripeError) as exc:
            if isinstance(exc, HTTPException) and exc.status_code != 422:
                raise
            return _mandate_page(request, session, principal.family_account_id, 422, general_error=NOT_CONFIRMED)
    except Exception as exc:
        return guarded(request, exc)
    return RedirectResponse("/famille/mandat?enregistre=1", status.HTTP_303_SEE_OTHER)


# --- yearly statement -------------------------------------------------------------------------------------


@router.get("/attestations", response_class=HTMLResponse)
def statements_page(request: Request, session: SessionDep) -> Response:
    """The years the family paid in, each with its statement."""
    try:
        principal = signed_in(request, Role.family)
        years = my_statements(principal, session)
    except Exception as exc:
        return guarded(request, exc)
    return render(request, "famille_attestations.html", title="Attestations annuelles", years=years)


@router.get("/attestations/{ref}", response_class=HTMLResponse)
def statement_page(request: Request, ref: str, session: SessionDep) -> Response:
    """Sums paid in the year per child, the childcare share, and the PDF attestation for taxes."""
    try:
        principal = signed_in(request, Role.family)
        statement, _ = own_statement(session, principal, ref)
    except Exception as exc:
        return guarded(request, exc)
    return render(request, "famille_attestation.html", title=f"Attestation {statement.year}", statement=statement)


@router.get("/attestations/{ref}/pdf")
def statement_download(request: Request, ref: str, session: SessionDep) -> Response:
    """Download the attestation (PDF)."""
    try:
        principal = signed_in(request, Role.family)
        name, pdf = statement_pdf(session, principal, ref)
    except Exception as exc:
        return guarded(request, exc)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
