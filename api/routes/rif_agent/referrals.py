"""The referrals of a case: refer the family to a service, withdraw, send the partner a fresh link, escalate."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.audit_log import OperatorReason, audit
from api.deps import ReferralsDep, SessionDep, TemporalDep
from api.errors import field_error
from api.referral_access import Agent, Escalator, case_for, referral_of_case, update_case
from api.referral_views import referral_out
from api.schemas.referrals import ReferIn, ReferralOut
from contracts.referrals import ActorKind, CancelReferral, EscalateReferral, ReferRequest, RenewLink
from domain.hsds import ServiceStatus
from ville.ids import referral_case_id
from workflows.referrals import ReferralCaseWorkflow

router = APIRouter(prefix="/api/rif", tags=["rif"])


@router.post("/cases/{ref}/referrals", status_code=status.HTTP_201_CREATED)
async def refer(
    ref: str, body: ReferIn, principal: Agent, referrals: ReferralsDep, temporal: TemporalDep
) -> ReferralOut:
    """Refer the family to a service; the partner gets a secure link at once."""
    case = case_for(referrals, principal, ref)
    service = referrals.service(body.service_id)
    if service is None:
        raise field_error("service_id", "Service inconnu de l'annuaire.")
    if service.status != ServiceStatus.ACTIVE.value:
        label = ServiceStatus(service.status).label.lower()
        raise field_error("service_id", f"Ce service ne reçoit pas d'orientation ({label}).")
    if body.replaces_ref is not None:
        referral_of_case(referrals, case, body.replaces_ref)
    result = await update_case(
        temporal, case.ref, ReferralCaseWorkflow.refer,
        ReferRequest(body.service_id, body.need.value, principal.user_id, body.replaces_ref),
    )  # fmt: skip
    referrals.refresh()
    return referral_out(referrals, referral_of_case(referrals, case, result.ref))


@router.post("/cases/{ref}/referrals/{referral_ref}/cancel")
async def cancel_referral(
    ref: str, referral_ref: str, principal: Agent, referrals: ReferralsDep, temporal: TemporalDep
) -> ReferralOut:
    """Withdraw a referral still awaiting an answer."""
    case = case_for(referrals, principal, ref)
    r = referral_of_case(referrals, case, referral_ref)
    await update_case(
        temporal, case.ref, ReferralCaseWorkflow.cancel_referral, CancelReferral(r.ref, principal.user_id)
    )
    referrals.refresh()
    return referral_out(referrals, referral_of_case(referrals, case, referral_ref))


@router.post("/cases/{ref}/referrals/{referral_ref}/renew-link")
async def renew_link(
    ref: str, referral_ref: str, principal: Agent, referrals: ReferralsDep, temporal: TemporalDep
) -> ReferralOut:
    """Send the partner a fresh 8-day link."""
    case = case_for(referrals, principal, ref)
    r = referral_of_case(referrals, case, referral_ref)
    await update_case(
        temporal, case.ref, ReferralCaseWorkflow.renew_link, RenewLink(r.ref, ActorKind.AGENT, principal.user_id)
    )
    referrals.refresh()
    return referral_out(referrals, referral_of_case(referrals, case, referral_ref))


@router.post("/cases/{ref}/referrals/{referral_ref}/escalate")
async def escalate_referral(
    ref: str,
    referral_ref: str,
    body: OperatorReason,
    principal: Escalator,
    referrals: ReferralsDep,
    session: SessionDep,
    temporal: TemporalDep,
) -> ReferralOut:
    """Escalate a referral awaiting an answer by hand: the relay's coordination is alerted, like at the SLA."""
    case = case_for(referrals, principal, ref)
    r = referral_of_case(referrals, case, referral_ref)
    await update_case(
        temporal, case.ref, ReferralCaseWorkflow.escalate,
        EscalateReferral(r.ref, principal.user_id, ActorKind.COORDINATOR),
    )  # fmt: skip
    audit(session, principal, "referral.escalate", f"{referral_case_id(case.ref)}/{r.ref}", body.reason)
    referrals.refresh()
    return referral_out(referrals, referral_of_case(referrals, case, referral_ref))
