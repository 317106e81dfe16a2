"""RIF agents' cases: open one for a family that consented (its workflow starts at once), list, read, close."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, HTTPException, Query, status
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api.deps import ReferralsDep, SettingsDep, TemporalDep
from api.errors import field_error
from api.referral_access import Agent, RelayStaff, case_for, now, relay_scope, update_case
from api.referral_views import case_out, summary
from api.schemas.referrals import CaseCreate, CaseOut, CaseSummary, CloseIn
from contracts.referrals import CloseCaseRequest, ReferralCaseInput
from domain.calendar import PARIS
from domain.referral_cases import CaseStatus, validate_consent
from ville.ids import referral_case_id
from ville.models.referrals import ReferralCase
from ville.temporal import SA_ARRONDISSEMENT, SA_BUSINESS_STATUS, SA_RELAY
from workflows.referrals import ReferralCaseWorkflow

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/rif", tags=["rif"])


def _e164(phone: str) -> str:
    """French numbers as +33…, the form SMS needs."""
    digits = re.sub(r"[\s.\-()]", "", phone)
    if re.fullmatch(r"0[1-9]\d{8}", digits):
        return "+33" + digits[1:]
    if re.fullmatch(r"\+\d{8,15}", digits):
        return digits
    raise field_error("contact_phone", "Numéro de téléphone invalide (ex. 06 12 34 56 78).")


@router.post("/cases", status_code=status.HTTP_201_CREATED)
async def open_case(
    body: CaseCreate, principal: Agent, referrals: ReferralsDep, temporal: TemporalDep, settings: SettingsDep
) -> CaseOut:
    """Open a case for a family that consented; its workflow starts at once."""
    if principal.relay_id is None:
        raise field_error("relay", "Votre compte n'est rattaché à aucun relais.")
    phone = _e164(body.contact_phone) if body.contact_phone else None
    errors = validate_consent(set(body.consent.scope), body.preferred_channel, bool(body.contact_email), bool(phone))
    if errors:
        raise field_error("consent", " ".join(errors))
    if body.consent.given_at > now() + timedelta(minutes=5):
        raise field_error("consent.given_at", "La date du consentement ne peut pas être dans le futur.")
    if body.family_account_id is not None and not referrals.family_account_exists(body.family_account_id):
        raise field_error("family_account_id", "Compte famille inconnu.")
    opened_at = now()
    case = ReferralCase(
        ref=referrals.next_case_ref(opened_at.astimezone(PARIS).year),
        relay_id=principal.relay_id,
        arrondissement=body.arrondissement,
        opened_by_user_id=principal.user_id,
        family_account_id=body.family_account_id,
        contact_name=body.contact_name.strip(),
        contact_email=body.contact_email,
        contact_phone=phone,
        situation=body.situation,
        partner_summary=body.partner_summary,
        preferred_channel=body.preferred_channel.value,
        needs=[n.value for n in dict.fromkeys(body.needs)],
        consent_given_at=body.consent.given_at.astimezone(UTC),
        consent_scope=[c.value for c in dict.fromkeys(body.consent.scope)],
        opened_at=opened_at,
    )
    referrals.add_case(case)
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(SA_RELAY, str(principal.relay_id)),
        SearchAttributePair(SA_BUSINESS_STATUS, CaseStatus.OPEN.value),
    ]
    if body.arrondissement is not None:
        pairs.append(SearchAttributePair(SA_ARRONDISSEMENT, body.arrondissement))
    try:
        await temporal.start_workflow(
            ReferralCaseWorkflow.run,
            ReferralCaseInput(case.ref, principal.relay_id, body.arrondissement, opened_by_user_id=principal.user_id),
            id=referral_case_id(case.ref),
            task_queue=settings.task_queue,
            search_attributes=TypedSearchAttributes(pairs),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except RPCError as err:
        # no process without its workflow: the case row goes, the agent retries
        referrals.delete_case(case)
        log.error("referral.case_start_failed", case_ref=case.ref, status=err.status.name)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Service momentanément indisponible") from err
    log.info("referral.case_opened", case_ref=case.ref, relay_id=principal.relay_id)
    return case_out(referrals, case)


@router.get("/cases")
def list_cases(
    principal: RelayStaff,
    referrals: ReferralsDep,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
) -> list[CaseSummary]:
    """Cases of the caller's relay, newest first."""
    rows = referrals.cases(relay_scope(principal), status_.value if status_ is not None else None)
    return [summary(referrals, c) for c in rows]


@router.get("/cases/{ref}")
def get_case(ref: str, principal: RelayStaff, referrals: ReferralsDep) -> CaseOut:
    """A case of the caller's relay, with its referrals, history and attachments (404 otherwise)."""
    return case_out(referrals, case_for(referrals, principal, ref))


@router.post("/cases/{ref}/close")
async def close_case(
    ref: str, body: CloseIn, principal: Agent, referrals: ReferralsDep, temporal: TemporalDep
) -> CaseOut:
    """Close the case with an outcome (`force` cancels referrals awaiting an answer, with a comment)."""
    case = case_for(referrals, principal, ref)
    note_id = referrals.add_note(case, None, "closure", "agent", principal.user_id, body.comment, False)
    try:
        await update_case(
            temporal, case.ref, ReferralCaseWorkflow.close,
            CloseCaseRequest(body.outcome, principal.user_id, body.force, note_id),
        )  # fmt: skip
    except HTTPException:
        referrals.drop_note(note_id)
        raise
    referrals.refresh()
    return case_out(referrals, case_for(referrals, principal, ref))
