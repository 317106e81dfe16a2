"""Family pages: the SEPA direct debit mandate (IBAN form, signature, confirmation)."""

from __future__ import annotations

import stripe
from fastapi import Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import PaymentsDep, SessionDep, SettingsDep
from api.pages.common import check_csrf, page_router, signed_in
from api.rendering import render
from api.routes.family.mandate import mandate_confirm, mandate_setup, mandate_summary
from api.schemas.billing import MandateConfirmIn, SetupIntentOut
from domain.sepa import holder_error, iban_error, mask_iban, normalize_iban
from services import accounts
from ville.models.billing import FamilyAccount, MandateStatus, Payer
from ville.models.people import Role

router = page_router("/famille")


NOT_CONFIRMED = "Le mandat n'a pas été confirmé par la banque : vérifiez l'IBAN et recommencez."


def _account_and_payer(session: SessionDep, account_id: int | None) -> tuple[FamilyAccount, Payer | None]:
    account = accounts.account(session, account_id)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Compte introuvable")
    return account, accounts.payer(session, account.id)


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
    principal = signed_in(request, Role.family)
    return _mandate_page(request, session, principal.family_account_id,
                         saved=request.query_params.get("enregistre") == "1")  # fmt: skip


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
    principal = signed_in(request, Role.family)
    check_csrf(request, csrf)
    errors = {k: v for k, v in (("holder", holder_error(holder)), ("iban", iban_error(iban))) if v}
    if errors:
        return _mandate_page(request, session, principal.family_account_id, 422, errors=errors,
                             values={"holder": holder, "iban": iban})  # fmt: skip
    setup: SetupIntentOut = await mandate_setup(principal, payments, settings)
    _, payer = _account_and_payer(session, principal.family_account_id)
    normalized = normalize_iban(iban)
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
    principal = signed_in(request, Role.family)
    check_csrf(request, csrf)
    try:
        await mandate_confirm(MandateConfirmIn(setup_intent_id=setup_intent_id), principal, session, payments)
    except (HTTPException, ValueError, stripe.StripeError) as exc:
        if isinstance(exc, HTTPException) and exc.status_code != 422:
            raise
        return _mandate_page(request, session, principal.family_account_id, 422, general_error=NOT_CONFIRMED)
    return RedirectResponse("/famille/mandat?enregistre=1", status.HTTP_303_SEE_OTHER)
