"""Console page « Paiements en difficulté »: the payment workflows failed or stuck, each with its action."""

from __future__ import annotations

from typing import Any

from fastapi import Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import temporal_refusal
from api.pages.common import check_csrf, page_router, signed_in
from api.pages.console import BILLING_ROLES, console_page, ui_url
from api.routes.operator.payment_incidents import file_payment, payment_incidents, stop_payment
from api.schemas.payment_incidents import IncidentAction
from ville.settings import Settings

router = page_router()


PAGE = "/operateur/paiements"


NOTICES = {
    "arret": "Suivi arrêté : la famille peut de nouveau payer cette facture.",
    "classement": "Incident classé.",
}


async def _incidents_page(
    request: Request, session: Session, temporal: Client, settings: Settings, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    try:
        rows = await payment_incidents(temporal, session)
    except RPCError as err:
        raise temporal_refusal(err, "") from None
    return console_page(
        request,
        "operateur_paiements.html",
        status_code,
        title="Paiements en difficulté",
        rows=[(r, ui_url(settings, r.workflow_id)) for r in rows],
        notice=NOTICES.get(request.query_params.get("fait", "")),
        **extra,
    )


@router.get(PAGE, response_class=HTMLResponse)
async def incidents_page(
    request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> Response:
    """Payment workflows failed, expired, stopped or stuck retrying a step."""
    signed_in(request, *BILLING_ROLES)
    return await _incidents_page(request, session, temporal, settings)


async def _act(
    request: Request, number: str, run_id: str, csrf: str, motif: str, session: Session, temporal: Client,
    settings: Settings, action: str,
) -> Response:  # fmt: skip
    principal = signed_in(request, *BILLING_ROLES)
    check_csrf(request, csrf)
    try:
        body = IncidentAction(reason=motif, run_id=run_id)
    except ValidationError:
        message = "Indiquez le motif de l'action (3 caractères au moins)."
        return await _incidents_page(request, session, temporal, settings, 422, error=message)
    try:
        if action == "arret":
            await stop_payment(number, body, principal, session, temporal)
        else:
            await file_payment(number, body, principal, session, temporal)
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        return await _incidents_page(request, session, temporal, settings, 409, error=str(exc.detail))
    return RedirectResponse(f"{PAGE}?fait={action}", 303)


@router.post(PAGE + "/{number}/arreter")
async def stop(
    request: Request, number: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    run_id: str = Form(""), csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Stop a stuck payment run (the family can pay again)."""
    return await _act(request, number, run_id, csrf, motif, session, temporal, settings, "arret")


@router.post(PAGE + "/{number}/classer")
async def file(
    request: Request, number: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    run_id: str = Form(""), csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """File a failed payment run once looked at."""
    return await _act(request, number, run_id, csrf, motif, session, temporal, settings, "classement")
