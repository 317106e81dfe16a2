"""Operator console: referrals past their SLA, and the actions on them (close a case, escalate)."""

from __future__ import annotations

from typing import Any

from fastapi import Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from api.audit_log import OperatorReason, audit
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.pages.common import check_csrf, page_router, refusal_message, signed_in
from api.pages.console import NOTICES, REFERRAL_ROLES, console_page, done_redirect, required_motif, ui_url
from api.routes.rif_agent.cases import close_case
from api.routes.rif_agent.referrals import escalate_referral
from api.routes.rif_coordination.sla_breaches import sla_breaches
from api.schemas.referrals import CloseIn
from api.security import Principal
from domain.referral_cases import CaseOutcome
from services.referral_reports import ReferralReports
from services.referrals import ReferralService
from ville.ids import referral_case_id
from ville.settings import Settings

router = page_router()


@router.get("/operateur/orientations", response_class=HTMLResponse)
def referrals_page(request: Request, session: SessionDep, settings: SettingsDep, ouvertes: str = "1") -> Response:
    """Referrals that breached their acknowledgement SLA, each linked to its case workflow."""
    principal = signed_in(request, *REFERRAL_ROLES)
    return _referrals_page(request, session, settings, principal, ouvertes != "0")


def _referrals_page(
    request: Request, session: Session, settings: Settings, principal: Principal, open_only: bool,
    status_code: int = 200, **extra: Any,
) -> HTMLResponse:  # fmt: skip
    rows = sla_breaches(principal, ReferralService(session), open_only)
    waiting = ReferralReports(session).awaiting_acknowledgement()
    return console_page(
        request,
        "operateur_orientations.html",
        status_code,
        title="Orientations hors délai",
        rows=[(b, ui_url(settings, referral_case_id(b.case_ref))) for b in rows],
        outcomes=[(o.value, o.label) for o in CaseOutcome],
        waiting=waiting,
        open_only=open_only,
        notice=NOTICES.get(request.query_params.get("fait", "")),
        **extra,
    )


@router.post("/operateur/orientations/{case_ref}/clore")
async def case_close(
    request: Request, case_ref: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""), outcome: str = Form(""), force: str = Form(""),
) -> Response:  # fmt: skip
    """Close a case with an outcome (`force` withdraws the referrals still awaiting an answer)."""
    principal = signed_in(request, *REFERRAL_ROLES)
    check_csrf(request, csrf)
    try:
        reason = required_motif(motif)
        try:
            body = CloseIn(outcome=CaseOutcome(outcome), comment=reason, force=force == "1")
        except ValueError:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Choisissez l'issue du dossier.") from None
        await close_case(case_ref, body, principal, ReferralService(session), temporal)
    except HTTPException as exc:
        if exc.status_code not in (409, 422):
            raise
        message = exc.detail.get("message", "") if isinstance(exc.detail, dict) else str(exc.detail)
        return _referrals_page(
            request, session, settings, principal, True, exc.status_code, error=message or "Clôture refusée."
        )
    audit(session, principal, "case.close", referral_case_id(case_ref), reason)
    return done_redirect("/operateur/orientations", "cloture")


@router.post("/operateur/orientations/{case_ref}/{referral_ref}/escalader")
async def referral_escalate(
    request: Request, case_ref: str, referral_ref: str, session: SessionDep, temporal: TemporalDep,
    settings: SettingsDep, csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Escalate a referral awaiting an answer by hand (coordination alerted, as at the SLA)."""
    principal = signed_in(request, *REFERRAL_ROLES)
    check_csrf(request, csrf)
    try:
        reason = required_motif(motif)
        await escalate_referral(
            case_ref,
            referral_ref,
            OperatorReason(reason=reason),
            principal,
            ReferralService(session),
            session,
            temporal,
        )
    except HTTPException as exc:
        if exc.status_code not in (409, 422):
            raise
        return _referrals_page(
            request, session, settings, principal, True, exc.status_code,
            error=refusal_message(exc, "Escalade refusée."),
        )  # fmt: skip
    return done_redirect("/operateur/orientations", "escalade")
