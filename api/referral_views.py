"""The RIF API's answers built from the referral service: what agents, partners and coordinators may read."""

from __future__ import annotations

from api.schemas.referrals import (
    AttachmentOut,
    BreachOut,
    CaseOut,
    CaseSummary,
    ConsentOut,
    ContactOut,
    FamilyForPartner,
    HistoryOut,
    LoadReportOut,
    LocationOut,
    OrganizationRef,
    PartnerReferralOut,
    ReferralOut,
    RelayOut,
    ServiceOut,
    ServiceRef,
)
from contracts.referrals import HistoryEvent
from domain.hsds import ServiceStatus
from domain.referral_cases import CaseOutcome, CaseStatus, ConsentScope, ContactChannel, NeedCategory
from domain.referrals import ReferralState, RefusalReason
from services.referral_directory import LoadReport, ServiceHit
from services.referrals import ReferralService
from ville.models.referrals import Referral, ReferralAttachment, ReferralCase, ReferralHistory, as_utc


def history_out(rows: list[ReferralHistory], refs: dict[int, str]) -> list[HistoryOut]:
    """History entries, with the ref of the referral each names."""
    return [
        HistoryOut(
            seq=h.seq,
            at=as_utc(h.at),
            event=h.event,
            label=HistoryEvent(h.event).label,
            referral_ref=refs.get(h.referral_id) if h.referral_id else None,
            from_status=h.from_status,
            to_status=h.to_status,
            actor_kind=h.actor_kind,
            info=h.info,
        )
        for h in rows
    ]


def service_ref(referrals: ReferralService, service_id: int) -> ServiceRef:
    """The service a referral goes to, with its organisation."""
    svc, org = referrals.service_and_organization(service_id)
    return ServiceRef(id=service_id, name=svc.name, organization_id=org.id or 0, organization_name=org.name)


def referral_out(referrals: ReferralService, r: Referral) -> ReferralOut:
    """A referral as the relay's agents see it."""
    reason = RefusalReason(r.refusal_reason) if r.refusal_reason else None
    return ReferralOut(
        ref=r.ref,
        service=service_ref(referrals, r.service_id),
        need=NeedCategory(r.need),
        need_label=NeedCategory(r.need).label,
        status=ReferralState(r.status),
        status_label=ReferralState(r.status).label,
        sent_at=as_utc(r.sent_at),
        sla_deadline=as_utc(r.sla_deadline),
        acked_at=as_utc(r.acked_at),
        escalated_at=as_utc(r.escalated_at),
        reminders_sent=r.reminders_sent,
        link_expires_at=as_utc(r.link_expires_at),
        answered_at=as_utc(r.answered_at),
        appointment_on=r.appointment_on,
        contact_made=r.contact_made,
        refusal_reason=reason,
        refusal_reason_label=reason.label if reason else None,
        refusal_message=referrals.note_body(r.refusal_note_id),
        replaces_ref=r.replaces_ref,
        replaced_by_ref=r.replaced_by_ref,
        follow_up_at=as_utc(r.follow_up_at),
        follow_up_done_at=as_utc(r.follow_up_done_at),
        follow_up_channel=r.follow_up_channel,
    )


def summary(referrals: ReferralService, c: ReferralCase) -> CaseSummary:
    """A case in a list."""
    states = referrals.referral_states(c.id)
    return CaseSummary(
        ref=c.ref,
        relay_id=c.relay_id,
        arrondissement=c.arrondissement,
        status=CaseStatus(c.status),
        business_status=c.business_status,
        needs=[NeedCategory(n) for n in c.needs],
        outcome=CaseOutcome(c.outcome) if c.outcome else None,
        opened_at=as_utc(c.opened_at),
        closed_at=as_utc(c.closed_at),
        referrals=len(states),
        awaiting_answer=sum(1 for s in states if ReferralState(s).is_active),
    )


def attachment_out(a: ReferralAttachment) -> AttachmentOut:
    """A document of the case."""
    return AttachmentOut(
        id=a.id or 0,
        filename=a.filename,
        content_type=a.content_type,
        size_bytes=a.size_bytes,
        status=a.status,
        created_at=as_utc(a.created_at),
        deleted_at=as_utc(a.deleted_at),
    )


def case_out(referrals: ReferralService, c: ReferralCase) -> CaseOut:
    """A case with everything the relay knows about it."""
    rows = referrals.referrals_of_case(c.id)
    refs = {r.id: r.ref for r in rows if r.id is not None}
    return CaseOut(
        **summary(referrals, c).model_dump(),
        contact=ContactOut(
            name=c.contact_name,
            email=c.contact_email,
            phone=c.contact_phone,
            preferred_channel=ContactChannel(c.preferred_channel),
        ),
        situation=c.situation,
        partner_summary=c.partner_summary,
        consent=ConsentOut(given_at=as_utc(c.consent_given_at), scope=[ConsentScope(x) for x in c.consent_scope]),
        family_account_id=c.family_account_id,
        attachments_deleted_at=as_utc(c.attachments_deleted_at),
        anonymised_at=as_utc(c.anonymised_at),
        closure_comment=referrals.closure_comment(c.id),
        referral_list=[referral_out(referrals, r) for r in rows],
        history=history_out(referrals.history(c.id), refs),
        attachments=[attachment_out(a) for a in referrals.attachments(c.id)],
    )


def relay_out(referrals: ReferralService, relay_id: int) -> RelayOut:
    """The relay that referred the family."""
    relay = referrals.relay(relay_id)
    return RelayOut(
        name=relay.name if relay else "Relais Informations Familles",
        email=relay.email if relay else None,
        phone=relay.phone if relay else None,
    )


def partner_out(referrals: ReferralService, r: Referral) -> PartnerReferralOut:
    """A referral as its partner sees it: no agent notes, no other partner, no attachment."""
    case = referrals.case(r.case_id)
    shared = ConsentScope.SHARE_CONTACT.value in case.consent_scope and case.anonymised_at is None
    return PartnerReferralOut(
        ref=r.ref,
        case_ref=case.ref,
        service=service_ref(referrals, r.service_id),
        need=NeedCategory(r.need),
        need_label=NeedCategory(r.need).label,
        status=ReferralState(r.status),
        status_label=ReferralState(r.status).label,
        sent_at=as_utc(r.sent_at),
        sla_deadline=as_utc(r.sla_deadline),
        link_expires_at=as_utc(r.link_expires_at),
        acked_at=as_utc(r.acked_at),
        answered_at=as_utc(r.answered_at),
        appointment_on=r.appointment_on,
        contact_made=r.contact_made,
        refusal_reason=RefusalReason(r.refusal_reason) if r.refusal_reason else None,
        refusal_message=referrals.note_body(r.refusal_note_id),
        arrondissement=case.arrondissement,
        partner_summary=case.partner_summary,
        family=FamilyForPartner(
            name=case.contact_name,
            preferred_channel=ContactChannel(case.preferred_channel),
            contact_shared=shared,
            email=case.contact_email if shared else None,
            phone=case.contact_phone if shared else None,
        ),
        relay=relay_out(referrals, case.relay_id),
        history=history_out(referrals.partner_history(r.id), {r.id or 0: r.ref}),
    )


def breach_out(referrals: ReferralService, r: Referral, case_ref: str) -> BreachOut:
    """A referral whose acknowledgement SLA was breached."""
    return BreachOut(
        referral_ref=r.ref,
        case_ref=case_ref,
        service=service_ref(referrals, r.service_id),
        status=ReferralState(r.status),
        status_label=ReferralState(r.status).label,
        sent_at=as_utc(r.sent_at),
        sla_deadline=as_utc(r.sla_deadline),
        escalated_at=as_utc(r.escalated_at),
        acked_at=as_utc(r.acked_at),
        reminders_sent=r.reminders_sent,
    )


def service_out(hit: ServiceHit) -> ServiceOut:
    """A service of the directory, with its organisation, area and places."""
    s, o = hit.service, hit.organization
    return ServiceOut(
        id=s.id or 0,
        hsds_id=s.hsds_id,
        name=s.name,
        organization=OrganizationRef(id=o.id or 0, name=o.name),
        description=s.description,
        status=ServiceStatus(s.status),
        status_label=ServiceStatus(s.status).label,
        categories=[NeedCategory(c) for c in hit.categories],
        arrondissements=hit.arrondissements,
        eligibility_description=s.eligibility_description,
        minimum_age=s.minimum_age,
        maximum_age=s.maximum_age,
        email=s.email,
        url=s.url,
        locations=[
            LocationOut(
                name=loc.name, address_1=loc.address_1, postal_code=loc.postal_code, arrondissement=loc.arrondissement
            )
            for loc in hit.locations
        ],
    )


def report_out(report: LoadReport) -> LoadReportOut:
    """What a directory import did."""
    return LoadReportOut(**vars(report))
