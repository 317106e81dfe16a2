"""Operator console home page: state of each process (billing cycle, audit campaigns, referrals)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.pages.common import page_router, signed_in
from api.pages.console import (
    AUDIT_ROLES,
    BILLING_ROLES,
    CONSOLE_ROLES,
    NOTICES,
    REFERRAL_ROLES,
    can,
    console_page,
    temporal_failure,
)
from api.pages.operator.dashboard import campaigns, current_cycle, referral_view, workflow_counts
from domain import labels
from domain.periods import period_from_key
from ville.settings import Settings

router = page_router()


@router.get("/exploitation")
def legacy_home() -> Response:
    """Where sign-in sends staff: the operator console."""
    return RedirectResponse("/operateur", status.HTTP_303_SEE_OTHER)


def _period_key(value: str | None) -> str | None:
    """A period key from the query string, or None when absent or not a period ('2026-05')."""
    try:
        return period_from_key(value).key if value else None
    except ValueError:
        return None


async def home_page(
    request: Request, session: Session, temporal: Client, settings: Settings, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    principal = signed_in(request, *CONSOLE_ROLES)
    try:
        shown = _period_key(request.query_params.get("cycle"))
        cycle = await current_cycle(temporal, session, settings, shown) if can(principal, BILLING_ROLES) else None
        counts = await workflow_counts(temporal)
        referrals = await referral_view(session, temporal) if can(principal, REFERRAL_ROLES) else None
    except RPCError as err:
        raise temporal_failure(err) from None
    return console_page(
        request,
        "operateur_accueil.html",
        status_code,
        title="Console d'exploitation",
        show_billing=can(principal, BILLING_ROLES),
        show_audit=can(principal, AUDIT_ROLES),
        show_referrals=can(principal, REFERRAL_ROLES),
        cycle=cycle,
        counts=counts,
        campaigns=campaigns(session, settings) if can(principal, AUDIT_ROLES) else [],
        referrals=referrals,
        state_fr=labels.task_state,
        notice=NOTICES.get(request.query_params.get("fait", "")),
        **extra,
    )


@router.get("/operateur", response_class=HTMLResponse)
@router.get("/operateur/accueil", response_class=HTMLResponse)
async def home(request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep) -> Response:
    """State of each process: billing cycle, audit campaigns, referrals."""
    return await home_page(request, session, temporal, settings)
