"""Family pages: how the family receives its invoices and notices."""

from __future__ import annotations

from fastapi import Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SessionDep
from api.pages.common import check_csrf, page_router, signed_in
from api.rendering import render
from api.routes.family.account import my_account
from api.routes.family.preferences import set_preferences
from api.schemas.billing import PreferencesIn
from ville.models.billing import DeliveryChannel
from ville.models.people import Role

router = page_router("/famille")


@router.get("/preferences", response_class=HTMLResponse)
def preferences_page(request: Request, session: SessionDep) -> Response:
    """How invoices and reminders reach the family."""
    principal = signed_in(request, Role.family)
    account = my_account(principal, session)
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
    return RedirectResponse("/famille/preferences?enregistre=1", status.HTTP_303_SEE_OTHER)
