"""Requests and answers of the RIF API: the directory, agents' cases, partners' answers, families' status."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, Field

from domain.hsds import ServiceStatus
from domain.referral_cases import CaseOutcome, CaseStatus, ConsentScope, ContactChannel, NeedCategory
from domain.referrals import ReferralState, RefusalReason

EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class OrganizationRef(BaseModel):
    """A partner organisation, briefly."""

    id: int
    name: str


class LocationOut(BaseModel):
    """Where a service receives."""

    name: str
    address_1: str
    postal_code: str
    arrondissement: int | None


class ServiceOut(BaseModel):
    """A service of the directory (HSDS service with its organisation, area and places)."""

    id: int
    hsds_id: str
    name: str
    organization: OrganizationRef
    description: str
    status: ServiceStatus
    status_label: str
    categories: list[NeedCategory]
    arrondissements: list[int]
    eligibility_description: str
    minimum_age: int | None
    maximum_age: int | None
    email: str | None
    url: str | None
    locations: list[LocationOut]


class LoadReportOut(BaseModel):
    """What an import did."""

    organizations_created: int
    organizations_updated: int
    services_created: int
    services_updated: int
    locations: int
    contacts: int
    errors: list[str]


class LabelOut(BaseModel):
    """A code and its French label."""

    code: str
    label: str


class ConsentIn(BaseModel):
    """The family's consent: when, and to what."""

    given_at: AwareDatetime
    scope: list[ConsentScope] = Field(min_length=1)


class CaseCreate(BaseModel):
    """A case opened by an agent of the relay."""

    contact_name: str = Field(min_length=1, max_length=200)
    contact_email: str | None = Field(None, max_length=254, pattern=EMAIL_RE)
    contact_phone: str | None = Field(None, max_length=30)
    preferred_channel: ContactChannel
    arrondissement: int | None = Field(None, ge=1, le=20)
    needs: list[NeedCategory] = Field(min_length=1)
    situation: str = Field("", max_length=4000, description="agent-only notes, never shown to partners")
    partner_summary: str = Field("", max_length=2000, description="what every partner of the case may read")
    consent: ConsentIn
    family_account_id: int | None = None


class ReferIn(BaseModel):
    """Refer the family to a service (or re-refer a refused/expired referral elsewhere)."""

    service_id: int
    need: NeedCategory
    replaces_ref: str | None = Field(None, max_length=24)


class CloseIn(BaseModel):
    """Close the case."""

    outcome: CaseOutcome
    comment: str = Field("", max_length=2000)
    force: bool = False


class AcceptIn(BaseModel):
    """A partner accepts: an appointment date, or the family was contacted."""

    appointment_on: date | None = None
    contact_made: bool = False


class RefuseIn(BaseModel):
    """A partner refuses with a reason from the list and a message."""

    reason: RefusalReason
    message: str = Field("", max_length=2000)


class TokenIn(BaseModel):
    """A signed link token carried in the body."""

    token: str = Field(min_length=10, max_length=2000)


class LinkAcceptIn(TokenIn, AcceptIn):
    """Accept through the secure link."""


class LinkRefuseIn(TokenIn, RefuseIn):
    """Refuse through the secure link."""


class AttachmentIn(BaseModel):
    """A document the agent is about to upload."""

    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(max_length=100)
    size_bytes: int = Field(gt=0)


class ServiceRef(BaseModel):
    """The service a referral goes to."""

    id: int
    name: str
    organization_id: int
    organization_name: str


class HistoryOut(BaseModel):
    """One line of the case history."""

    seq: int
    at: datetime
    event: str
    label: str
    referral_ref: str | None
    from_status: str | None
    to_status: str | None
    actor_kind: str
    info: str


class ReferralOut(BaseModel):
    """A referral as the relay's agents see it."""

    ref: str
    service: ServiceRef
    need: NeedCategory
    need_label: str
    status: ReferralState
    status_label: str
    sent_at: datetime | None
    sla_deadline: datetime | None
    acked_at: datetime | None
    escalated_at: datetime | None
    reminders_sent: int
    link_expires_at: datetime | None
    answered_at: datetime | None
    appointment_on: date | None
    contact_made: bool
    refusal_reason: RefusalReason | None
    refusal_reason_label: str | None
    refusal_message: str | None
    replaces_ref: str | None
    replaced_by_ref: str | None
    follow_up_at: datetime | None
    follow_up_done_at: datetime | None
    follow_up_channel: str | None


class ContactOut(BaseModel):
    """The family's contact details (agents only)."""

    name: str
    email: str | None
    phone: str | None
    preferred_channel: ContactChannel


class ConsentOut(BaseModel):
    """The recorded consent."""

    given_at: datetime
    scope: list[ConsentScope]


class AttachmentOut(BaseModel):
    """A document of the case."""

    id: int
    filename: str
    content_type: str
    size_bytes: int
    status: str
    created_at: datetime
    deleted_at: datetime | None


class CaseSummary(BaseModel):
    """A case in a list."""

    ref: str
    relay_id: int
    arrondissement: int | None
    status: CaseStatus
    business_status: str
    needs: list[NeedCategory]
    outcome: CaseOutcome | None
    opened_at: datetime
    closed_at: datetime | None
    referrals: int
    awaiting_answer: int


class CaseOut(CaseSummary):
    """A case with everything the relay knows about it."""

    contact: ContactOut
    situation: str
    partner_summary: str
    consent: ConsentOut
    family_account_id: int | None
    attachments_deleted_at: datetime | None
    anonymised_at: datetime | None
    closure_comment: str | None
    referral_list: list[ReferralOut]
    history: list[HistoryOut]
    attachments: list[AttachmentOut]


class FamilyForPartner(BaseModel):
    """What a partner learns about the family: its name and, if it agreed, how to reach it."""

    name: str
    preferred_channel: ContactChannel
    contact_shared: bool
    email: str | None = None
    phone: str | None = None


class RelayOut(BaseModel):
    """The relay that referred the family."""

    name: str
    email: str | None
    phone: str | None


class PartnerReferralOut(BaseModel):
    """A referral as its partner sees it: no agent notes, no other partner, no attachment."""

    ref: str
    case_ref: str
    service: ServiceRef
    need: NeedCategory
    need_label: str
    status: ReferralState
    status_label: str
    sent_at: datetime | None
    sla_deadline: datetime | None
    link_expires_at: datetime | None
    acked_at: datetime | None
    answered_at: datetime | None
    appointment_on: date | None
    contact_made: bool
    refusal_reason: RefusalReason | None
    refusal_message: str | None
    arrondissement: int | None
    partner_summary: str
    family: FamilyForPartner
    relay: RelayOut
    history: list[HistoryOut]


class BreachOut(BaseModel):
    """A referral whose acknowledgement SLA was breached."""

    referral_ref: str
    case_ref: str
    service: ServiceRef
    status: ReferralState
    status_label: str
    sent_at: datetime | None
    sla_deadline: datetime | None
    escalated_at: datetime | None
    acked_at: datetime | None
    reminders_sent: int


class FamilyReferralOut(BaseModel):
    """One referral, as the family sees it."""

    service_name: str
    need_label: str
    status: ReferralState
    status_label: str
    appointment_on: date | None


class FamilyStatusOut(BaseModel):
    """The family's view of its case."""

    case_ref: str
    relay: RelayOut
    status: CaseStatus
    referrals: list[FamilyReferralOut]


class UploadOut(BaseModel):
    """Where to POST the file (an S3 presigned form), valid 15 minutes."""

    attachment_id: int
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


class DownloadOut(BaseModel):
    """A short-lived download URL."""

    url: str
    expires_at: datetime


class MessageOut(BaseModel):
    """A plain confirmation."""

    message: str
