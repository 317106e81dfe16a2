"""Referrals sent to the signed-in partner's organisation: read them, acknowledge, accept or refuse."""

from __future__ import annotations

from fastapi import APIRouter

from api import referral_answers
from api.deps import ReferralsDep, TemporalDep
from api.referral_access import PartnerUser, organization_referral
from api.referral_views import partner_out
from api.schemas.referrals import AcceptIn, PartnerReferralOut, RefuseIn
from contracts.referrals import ActorKind

router = APIRouter(prefix="/api/rif", tags=["rif"])


@router.get("/partner/referrals")
def partner_referrals(
    principal: PartnerUser, referrals: ReferralsDep, open_only: bool = False
) -> list[PartnerReferralOut]:
    """Referrals sent to the caller's organisation, newest first."""
    if principal.partner_org_id is None:
        return []
    rows = referrals.referrals_of_organization(principal.partner_org_id, open_only)
    return [partner_out(referrals, r) for r in rows]


@router.get("/partner/referrals/{referral_ref}")
def partner_referral(referral_ref: str, principal: PartnerUser, referrals: ReferralsDep) -> PartnerReferralOut:
    """One referral of the caller's organisation (404 for any other)."""
    return partner_out(referrals, organization_referral(referrals, principal.partner_org_id, referral_ref))


@router.post("/partner/referrals/{referral_ref}/acknowledge")
async def partner_acknowledge(referral_ref: str, principal: PartnerUser, referrals: ReferralsDep,
                              temporal: TemporalDep) -> PartnerReferralOut:  # fmt: skip
    """The partner has seen the referral (stops the SLA clock)."""
    r = organization_referral(referrals, principal.partner_org_id, referral_ref)
    return await referral_answers.acknowledge(referrals, temporal, r, ActorKind.PARTNER, principal.user_id)


@router.post("/partner/referrals/{referral_ref}/accept")
async def partner_accept(referral_ref: str, body: AcceptIn, principal: PartnerUser, referrals: ReferralsDep,
                         temporal: TemporalDep) -> PartnerReferralOut:  # fmt: skip
    """Accept: an appointment date or the family contacted."""
    r = organization_referral(referrals, principal.partner_org_id, referral_ref)
    return await referral_answers.accept(referrals, temporal, r, body, ActorKind.PARTNER, principal.user_id)


@router.post("/partner/referrals/{referral_ref}/refuse")
async def partner_refuse(referral_ref: str, body: RefuseIn, principal: PartnerUser, referrals: ReferralsDep,
                         temporal: TemporalDep) -> PartnerReferralOut:  # fmt: skip
    """Refuse with a reason from the list and a message for the relay."""
    r = organization_referral(referrals, principal.partner_org_id, referral_ref)
    return await referral_answers.refuse(referrals, temporal, r, body, ActorKind.PARTNER, principal.user_id)
