"""Pages of the signed-in partner: the referrals sent to the organisation."""

from __future__ import annotations

from dataclasses import replace

from fastapi import Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SessionDep
from api.pages.common import page_router, signed_in
from api.referral_access import links as _links
from api.referral_access import now as _now
from api.referral_access import organization_referral
from api.rendering import render
from api.routes.partner.referrals import partner_referrals
from domain.referral_links import LinkClaims
from services.referrals import ReferralService
from ville.models.people import Role
from ville.models.referrals import as_utc

router = page_router("/partenaire")


# the signed-in partner opens a referral through the same answer page as the e-mail's link, with a fresh link
SIGNED_IN_LINK_DAYS = 1


@router.get("/orientations", response_class=HTMLResponse)
def referrals_page(request: Request, session: SessionDep) -> Response:
    """Referrals sent to the signed-in partner's organisation."""
    principal = signed_in(request, Role.partner)
    return render(
        request, "partenaire_orientations.html", title="Orientations reçues",
        referrals=partner_referrals(principal, ReferralService(session), False),
    )  # fmt: skip


@router.get("/orientations/{ref}")
def referral_of_my_organisation(request: Request, ref: str, session: SessionDep) -> Response:
    """One referral of the signed-in partner's list: its answer page (404 for another organisation's)."""
    principal = signed_in(request, Role.partner)
    row = organization_referral(ReferralService(session), principal.partner_org_id, ref)
    fresh = LinkClaims.issue(row.ref, str(row.organization_id), _now(), days=SIGNED_IN_LINK_DAYS)
    # never older than the latest link sent to the service: an older one counts as revoked (is_superseded)
    latest = as_utc(row.link_expires_at) if row.link_expires_at else None
    claims = fresh if latest is None or latest < fresh.expires_at else replace(fresh, expires_at=latest)
    token = _links(request).partner_token(claims)
    return RedirectResponse(f"/partenaire/orientation?token={token}", status.HTTP_303_SEE_OTHER)
