"""Console actions on a running billing cycle: pause, resume, retry failed batches, cancel."""

from __future__ import annotations

import structlog
from fastapi import Form, HTTPException, Request, status
from fastapi.responses import Response
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from api.audit_log import OperatorReason
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.pages.common import check_csrf, page_router, signed_in
from api.pages.console import BILLING_ROLES, PERIOD_KEY, done_redirect, required_motif, temporal_failure
from api.pages.operator.home import home_page
from api.routes.billing_operator.cycles import cancel_cycle, pause_cycle, resume_cycle, retry_batches
from api.schemas.billing import ActionReason
from ville.ids import billing_cycle_id
from ville.settings import Settings

log = structlog.get_logger(__name__)

router = page_router()


async def _cycle_action(
    request: Request, period_key: str, csrf: str, motif: str, session: Session, temporal: Client, settings: Settings,
    action: str,
) -> Response:  # fmt: skip
    principal = signed_in(request, *BILLING_ROLES)
    check_csrf(request, csrf)
    if not PERIOD_KEY.match(period_key):
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    try:
        reason = ActionReason(reason=required_motif(motif))
    except HTTPException as exc:
        return await home_page(request, session, temporal, settings, 422, error=str(exc.detail), motif_for=action)
    try:
        if action == "pause":
            await pause_cycle(period_key, reason, principal, session, temporal)
        elif action == "annulation":
            await cancel_cycle(period_key, OperatorReason(reason=reason.reason), principal, session, temporal)
        elif action == "reprise":
            await resume_cycle(period_key, reason, principal, session, temporal)
        else:
            await retry_batches(period_key, reason, principal, session, temporal)
    except RPCError as err:
        raise temporal_failure(err) from None
    log.info("operator.cycle_action", action=action, workflow_id=billing_cycle_id(period_key))
    return done_redirect("/operateur", action)


@router.post("/operateur/cycles/{period_key}/pause")
async def cycle_pause(
    request: Request, period_key: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Pause the cycle (no new batch starts)."""
    return await _cycle_action(request, period_key, csrf, motif, session, temporal, settings, "pause")


@router.post("/operateur/cycles/{period_key}/reprise")
async def cycle_resume(
    request: Request, period_key: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Resume the cycle."""
    return await _cycle_action(request, period_key, csrf, motif, session, temporal, settings, "reprise")


@router.post("/operateur/cycles/{period_key}/relance-lots")
async def cycle_retry(
    request: Request, period_key: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Run the cycle's failed batches again."""
    return await _cycle_action(request, period_key, csrf, motif, session, temporal, settings, "relance")


@router.post("/operateur/cycles/{period_key}/annulation")
async def cycle_cancel(
    request: Request, period_key: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""), confirmation: str = Form(""),
) -> Response:  # fmt: skip
    """Cancel the cycle (confirmed): batches in flight finish, issued invoices stay."""
    if confirmation != "1":
        signed_in(request, *BILLING_ROLES)
        check_csrf(request, csrf)
        return await home_page(
            request, session, temporal, settings, 422,
            error="Cochez la case de confirmation pour annuler le cycle.", motif_for="annulation",
        )  # fmt: skip
    return await _cycle_action(request, period_key, csrf, motif, session, temporal, settings, "annulation")
