"""Operator console: messages whose delivery failed, and their resend."""

from __future__ import annotations

from typing import Any

from fastapi import Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from api.audit_log import OperatorReason
from api.deps import DbId, SessionDep, SettingsDep, TemporalDep
from api.pages.common import check_csrf, page_router, refusal_message, signed_in
from api.pages.console import NOTICES, NOTIFICATION_ROLES, console_page, done_redirect, required_motif
from api.routes.operator.notifications import resend
from services.delivery import failed_notifications

router = page_router()


def _notifications_page(request: Request, session: Session, status_code: int = 200, **extra: Any) -> HTMLResponse:
    return console_page(
        request,
        "operateur_notifications.html",
        status_code,
        title="Messages en échec",
        rows=failed_notifications(session, 200),
        notice=NOTICES.get(request.query_params.get("fait", "")),
        **extra,
    )


@router.get("/operateur/notifications", response_class=HTMLResponse)
def notifications_page(request: Request, session: SessionDep) -> Response:
    """Messages whose delivery failed, with a resend button when their content was kept."""
    signed_in(request, *NOTIFICATION_ROLES)
    return _notifications_page(request, session)


@router.post("/operateur/notifications/{notification_id}/renvoyer")
async def notification_resend(
    request: Request, notification_id: DbId, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Resend a failed message through the delivery workflow of this minute."""
    principal = signed_in(request, *NOTIFICATION_ROLES)
    check_csrf(request, csrf)
    try:
        reason = required_motif(motif)
        await resend(notification_id, OperatorReason(reason=reason), principal, session, temporal, settings)
    except HTTPException as exc:
        if exc.status_code not in (409, 422):
            raise
        return _notifications_page(request, session, exc.status_code, error=refusal_message(exc, "Renvoi refusé."))
    return done_redirect("/operateur/notifications", "renvoi")
