"""Signed links of the RIF process: a partner answers a referral, a family follows its case (no account).

The token travels in the query string or the body and is never logged; each client is rate limited.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from api import referral_answers
from api.deps import ReferralsDep, TemporalDep
from api.referral_access import LinkLimited, LinksDep, now, referral_of_link, update_case
from api.referral_views import partner_out, relay_out
from api.schemas.referrals import (
    FamilyReferralOut,
    FamilyStatusOut,
    LinkAcceptIn,
    LinkRefuseIn,
    MessageOut,
    PartnerReferralOut,
    TokenIn,
)
from api.security import not_found
from contracts.referrals import ActorKind, RenewLink
from domain.referral_cases import CaseStatus, ConsentScope, NeedCategory
from domain.referrals import ReferralState
from ville.referral_links import LinkState
from workflows.referrals import ReferralCaseWorkflow

router = APIRouter(prefix="/api/rif", tags=["rif"])


@router.get("/link", dependencies=[LinkLimited])
def link_referral(token: str, referrals: ReferralsDep, links: LinksDep, response: Response) -> PartnerReferralOut:
    """The referral behind a partner's secure link."""
    response.headers["Cache-Control"] = "no-store"
    return partner_out(referrals, referral_of_link(referrals, links, token))


@router.post("/link/acknowledge", dependencies=[LinkLimited])
async def link_acknowledge(body: TokenIn, referrals: ReferralsDep, temporal: TemporalDep,
                           links: LinksDep) -> PartnerReferralOut:  # fmt: skip
    """Acknowledge through the secure link."""
    r = referral_of_link(referrals, links, body.token)
    return await referral_answers.acknowledge(referrals, temporal, r, ActorKind.PARTNER_LINK, None)


@router.post("/link/accept", dependencies=[LinkLimited])
async def link_accept(body: LinkAcceptIn, referrals: ReferralsDep, temporal: TemporalDep,
                      links: LinksDep) -> PartnerReferralOut:  # fmt: skip
    """Accept through the secure link."""
    r = referral_of_link(referrals, links, body.token)
    return await referral_answers.accept(referrals, temporal, r, body, ActorKind.PARTNER_LINK, None)


@router.post("/link/refuse", dependencies=[LinkLimited])
async def link_refuse(body: LinkRefuseIn, referrals: ReferralsDep, temporal: TemporalDep,
                      links: LinksDep) -> PartnerReferralOut:  # fmt: skip
    """Refuse through the secure link."""
    r = referral_of_link(referrals, links, body.token)
    return await referral_answers.refuse(referrals, temporal, r, body, ActorKind.PARTNER_LINK, None)


@router.post("/link/renew", dependencies=[LinkLimited], status_code=status.HTTP_202_ACCEPTED)
async def link_renew(body: TokenIn, referrals: ReferralsDep, temporal: TemporalDep, links: LinksDep) -> MessageOut:
    """A fresh link, sent to the service's own address (never to the caller), even from an expired one."""
    r = referral_of_link(referrals, links, body.token, allow_expired=True)
    case = referrals.case(r.case_id)
    await update_case(temporal, case.ref, ReferralCaseWorkflow.renew_link,
                      RenewLink(r.ref, ActorKind.PARTNER_LINK, None, r.organization_id))  # fmt: skip
    return MessageOut(message="Un nouveau lien a été envoyé à l'adresse du service.")


@router.get("/family/status", dependencies=[LinkLimited])
def family_status(token: str, referrals: ReferralsDep, links: LinksDep, response: Response) -> FamilyStatusOut:
    """The family's referrals, through the link it asked for."""
    response.headers["Cache-Control"] = "no-store"
    state, claims = links.read_family_token(token, now())
    if state is LinkState.INVALID or claims is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Lien invalide.")
    if state is LinkState.EXPIRED:
        raise HTTPException(status.HTTP_410_GONE, "Lien expiré : contactez votre relais.")
    case = referrals.case_by_ref(claims.case_ref)
    if case is None or case.anonymised_at is not None or ConsentScope.STATUS_LINK.value not in case.consent_scope:
        raise not_found()
    return FamilyStatusOut(
        case_ref=case.ref,
        relay=relay_out(referrals, case.relay_id),
        status=CaseStatus(case.status),
        referrals=[
            FamilyReferralOut(
                service_name=referrals.service_and_organization(r.service_id)[0].name,
                need_label=NeedCategory(r.need).label,
                status=ReferralState(r.status),
                status_label=ReferralState(r.status).label,
                appointment_on=r.appointment_on,
            )
            for r in referrals.referrals_of_case(case.id)
        ],
    )
