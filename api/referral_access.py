"""What the RIF routers share: who may call, the signed links, lookups that answer 404, the case's updates.

Process changes go to the case's workflow as typed updates (it validates them and writes the projection before
answering); its refusals read over HTTP through `api.workflow_updates` with `REFERRAL_REFUSALS`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from temporalio.client import Client, WorkflowHandle

from api.ratelimit import RateLimiter
from api.security import Principal, not_found, require
from api.workflow_updates import Refusals, execute_update
from contracts.referrals import ReferralError
from domain.referral_links import LINK_SUPERSEDED, is_superseded
from services.referrals import ReferralService
from ville.ids import referral_case_id
from ville.models.people import Role
from ville.models.referrals import Referral, ReferralCase, as_utc
from ville.referral_links import LinkState, ReferralLinkSigner
from ville.settings import Settings
from workflows.referrals import ReferralCaseWorkflow

Agent = Annotated[Principal, require(Role.rif_agent)]
RelayStaff = Annotated[Principal, require(Role.rif_agent, Role.coordinator)]
Coordinator = Annotated[Principal, require(Role.coordinator)]
Escalator = Annotated[Principal, require(Role.coordinator, Role.operator)]
PartnerUser = Annotated[Principal, require(Role.partner)]
DirectoryUser = Annotated[Principal, require(Role.rif_agent, Role.coordinator, Role.partner, Role.operator)]
DirectoryOperator = Annotated[Principal, require(Role.operator)]

REFERRAL_REFUSALS = Refusals(
    closed="Ce dossier n'accepte plus de modification.",
    not_found=frozenset({ReferralError.NOT_FOUND}),
    conflict=frozenset({ReferralError.ILLEGAL}),
)


async def link_rate_limit(request: Request) -> None:
    """Link endpoints are anonymous: limit each client (one bucket per app, so tests do not share it)."""
    limiter: RateLimiter | None = getattr(request.app.state, "referral_link_limiter", None)
    if limiter is None:
        limiter = RateLimiter("referral-links", rate=60, per=60, burst=20)
        request.app.state.referral_link_limiter = limiter
    await limiter(request)


LinkLimited = Depends(link_rate_limit)


def links(request: Request) -> ReferralLinkSigner:
    """The signer of partners' and families' links, with the app's session keys."""
    settings: Settings = request.app.state.settings
    return ReferralLinkSigner(settings.session_keys)


LinksDep = Annotated[ReferralLinkSigner, Depends(links)]


def now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)


def relay_scope(principal: Principal) -> int | None:
    """The relay whose cases the caller sees (None: every relay, for admins and the operator console)."""
    if principal.role in (Role.admin, Role.operator):
        return None
    return principal.relay_id if principal.relay_id is not None else -1


def case_for(referrals: ReferralService, principal: Principal, ref: str) -> ReferralCase:
    """The case if the caller's relay holds it (404 otherwise)."""
    case = referrals.case_by_ref(ref)
    scope = relay_scope(principal)
    if case is None or (scope is not None and case.relay_id != scope):
        raise not_found()
    return case


def referral_of_case(referrals: ReferralService, case: ReferralCase, ref: str) -> Referral:
    """A referral of the case (404 otherwise)."""
    row = referrals.referral_of_case(case.id, ref)
    if row is None:
        raise not_found()
    return row


def organization_referral(referrals: ReferralService, org_id: int | None, ref: str) -> Referral:
    """A referral sent to the caller's organisation (404 for any other)."""
    row = referrals.referral_by_ref(ref)
    if row is None or org_id is None or row.organization_id != org_id:
        raise not_found()
    return row


def referral_of_link(
    referrals: ReferralService, signer: ReferralLinkSigner, token: str, allow_expired: bool = False
) -> Referral:
    """The referral behind a partner's link: 403 for a bad or revoked link, 410 for an expired one."""
    state, claims = signer.read_partner_token(token, now())
    if state is LinkState.INVALID or claims is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Lien invalide.")
    row = referrals.referral_by_ref(claims.referral_ref)
    if row is None or str(row.organization_id) != claims.partner_ref:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Lien invalide.")
    # a revoked link says so before saying it expired: only the latest link may ask for a new one
    if is_superseded(claims.expires_at, as_utc(row.link_expires_at)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, LINK_SUPERSEDED)
    if state is LinkState.EXPIRED and not allow_expired:
        raise HTTPException(
            status.HTTP_410_GONE, "Lien expiré : demandez un nouveau lien, il sera envoyé à l'adresse du service."
        )
    return row


def _handle(temporal: Client, case_ref: str) -> WorkflowHandle[ReferralCaseWorkflow, Any]:
    return temporal.get_workflow_handle_for(ReferralCaseWorkflow.run, referral_case_id(case_ref))


async def update_case(temporal: Client, case_ref: str, update: Any, arg: Any) -> Any:
    """Run an update of the case's workflow; a refusal becomes its HTTP answer."""
    return await execute_update(_handle(temporal, case_ref), update, arg, REFERRAL_REFUSALS)
