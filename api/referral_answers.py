"""A partner's answers to a referral, from its account or through its signed link: same updates, same views."""

from __future__ import annotations

from fastapi import HTTPException
from temporalio.client import Client

from api.errors import field_error
from api.referral_access import update_case
from api.referral_views import partner_out
from api.schemas.referrals import AcceptIn, PartnerReferralOut, RefuseIn
from contracts.referrals import ActorKind, PartnerAccept, PartnerAcknowledge, PartnerRefuse
from domain.referrals import validate_refusal
from services.referrals import ReferralService
from ville.models.referrals import Referral
from workflows.referrals import ReferralCaseWorkflow


async def acknowledge(referrals: ReferralService, temporal: Client, r: Referral, kind: ActorKind, uid: int | None,
                      ) -> PartnerReferralOut:  # fmt: skip
    """The partner has seen the referral (stops the SLA clock)."""
    case = referrals.case(r.case_id)
    await update_case(temporal, case.ref, ReferralCaseWorkflow.acknowledge,
                      PartnerAcknowledge(r.ref, r.organization_id, kind, uid))  # fmt: skip
    referrals.refresh()
    return partner_out(referrals, referrals.referral(r.id))


async def accept(referrals: ReferralService, temporal: Client, r: Referral, body: AcceptIn, kind: ActorKind,
                 uid: int | None) -> PartnerReferralOut:  # fmt: skip
    """Accept: an appointment date or the family contacted."""
    case = referrals.case(r.case_id)
    answer = PartnerAccept(r.ref, r.organization_id, body.appointment_on, body.contact_made, kind, uid)
    await update_case(temporal, case.ref, ReferralCaseWorkflow.accept, answer)
    referrals.refresh()
    return partner_out(referrals, referrals.referral(r.id))


async def refuse(referrals: ReferralService, temporal: Client, r: Referral, body: RefuseIn, kind: ActorKind,
                 uid: int | None) -> PartnerReferralOut:  # fmt: skip
    """Refuse with a reason and a message; the message is a note the update names by id."""
    errors = validate_refusal(body.reason, body.message)
    if errors:
        raise field_error("message", " ".join(errors))
    case = referrals.case(r.case_id)
    note_id = referrals.add_note(case, r.id, "refusal", kind.value, uid, body.message, True)
    try:
        await update_case(temporal, case.ref, ReferralCaseWorkflow.refuse,
                          PartnerRefuse(r.ref, r.organization_id, body.reason, note_id, kind, uid))  # fmt: skip
    except HTTPException:
        referrals.drop_note(note_id)
        raise
    referrals.refresh()
    return partner_out(referrals, referrals.referral(r.id))
