"""Partner pages opened from the secure link: the referral, accept it or refuse it."""

from __future__ import annotations

from datetime import date

from fastapi import Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SessionDep, TemporalDep
from api.form_dates import FormDateError, parse_form_date
from api.pages.common import page_router
from api.referral_access import link_rate_limit as _link_rate_limit
from api.referral_access import links as _links
from api.referral_access import referral_of_link
from api.referral_views import partner_out
from api.rendering import render
from api.routes.family.referral_link import link_accept, link_refuse
from api.schemas.referrals import LinkAcceptIn, LinkRefuseIn
from domain.referrals import ReferralState, RefusalReason
from services.referrals import ReferralService

router = page_router("/partenaire")


MISSING_ANSWER = "Indiquez la date du rendez-vous ou cochez « Famille déjà contactée »."


REASONS = [(r.value, r.label) for r in RefusalReason]


def _page(request: Request, session: SessionDep, token: str, status_code: int = 200, **extra: object) -> Response:
    referrals = ReferralService(session)
    referral = partner_out(referrals, referral_of_link(referrals, _links(request), token))
    return render(
        request,
        "partenaire_orientation.html",
        status_code,
        title=f"Orientation {referral.ref}",
        referral=referral,
        token=token,
        reasons=REASONS,
        reason_fr=dict(REASONS),
        open=referral.status == ReferralState.OPEN,
        errors=extra.pop("errors", {}),
        values=extra.pop("values", {}),
        **extra,
    )


@router.get("/orientation", response_class=HTMLResponse)
async def referral_page(request: Request, session: SessionDep, token: str = "") -> Response:
    """The referral opened from the partner's secure link."""
    await _link_rate_limit(request)
    done = request.query_params.get("fait")
    notice = {"accepte": "Orientation acceptée.", "refuse": "Refus enregistré et transmis au relais."}.get(done or "")
    return _page(request, session, token, notice=notice)


@router.post("/orientation/accepter", response_class=HTMLResponse)
async def referral_accept(
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    token: str = Form(""),
    appointment_on: str = Form(""),
    contact_made: str | None = Form(None),
) -> Response:
    """Accept with an appointment date, or say the family was contacted."""
    # the link token itself is the secret: a forged cross-site form cannot know it (it plays the CSRF role)
    await _link_rate_limit(request)
    values = {"appointment_on": appointment_on, "contact_made": contact_made or ""}
    appointment: date | None = None
    if appointment_on:
        try:
            appointment = parse_form_date(appointment_on)
        except FormDateError as err:
            return _page(request, session, token, 422, values=values, errors={"appointment_on": str(err)})
    if appointment is None and contact_made != "oui":
        return _page(request, session, token, 422, values=values,
                     errors={"appointment_on": MISSING_ANSWER})  # fmt: skip
    body = LinkAcceptIn(token=token, appointment_on=appointment, contact_made=contact_made == "oui")
    try:
        await link_accept(body, ReferralService(session), temporal, _links(request))
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        message = exc.detail["message"] if isinstance(exc.detail, dict) else str(exc.detail)
        return _page(request, session, token, 422, values=values, errors={"appointment_on": message})
    return RedirectResponse(f"/partenaire/orientation?token={token}&fait=accepte", status.HTTP_303_SEE_OTHER)


@router.post("/orientation/refuser", response_class=HTMLResponse)
async def referral_refuse(
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    token: str = Form(""),
    reason: str = Form(""),
    message: str = Form(""),
) -> Response:
    """Refuse with a reason from the list (and a message, required for « Autre »)."""
    await _link_rate_limit(request)
    values = {"reason": reason, "message": message}
    if reason not in {r.value for r in RefusalReason}:
        return _page(request, session, token, 422, values=values, errors={"reason": "Choisissez un motif."})
    body = LinkRefuseIn(token=token, reason=RefusalReason(reason), message=message[:2000])
    try:
        await link_refuse(body, ReferralService(session), temporal, _links(request))
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        text = exc.detail["message"] if isinstance(exc.detail, dict) else str(exc.detail)
        return _page(request, session, token, 422, values=values, errors={"message": text})
    return RedirectResponse(f"/partenaire/orientation?token={token}&fait=refuse", status.HTTP_303_SEE_OTHER)
