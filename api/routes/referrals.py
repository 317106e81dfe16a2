"""RIF referrals: the partner directory, agents' cases, partners' answers, coordinators' SLA breaches, families.

Process changes go to the case's workflow as typed updates (it validates them and writes the projection
before answering); reads come from the projection. Partners and families may come through signed links
(token in the query string or the body, never logged), rate limited per client.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, File, HTTPException, Query, Request, Response, UploadFile, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api.audit_log import OperatorReason, audit
from api.deps import DbId, S3Dep, SessionDep, SettingsDep, TemporalDep
from api.errors import field_error
from api.ratelimit import RateLimiter
from api.security import Principal, not_found, require
from api.workflow_updates import Refusals, execute_update
from contracts.referrals import (
    ActorKind,
    CancelReferral,
    CloseCaseRequest,
    EscalateReferral,
    HistoryEvent,
    PartnerAccept,
    PartnerAcknowledge,
    PartnerRefuse,
    ReferralCaseInput,
    ReferralError,
    ReferRequest,
    RenewLink,
)
from domain.hsds import ServiceStatus, csv_tables, parse_directory
from domain.referrals import (
    LINK_SUPERSEDED,
    PARIS,
    CaseOutcome,
    CaseStatus,
    ConsentScope,
    ContactChannel,
    NeedCategory,
    ReferralState,
    RefusalReason,
    attachment_prefix,
    attachments_delete_at,
    format_case_ref,
    is_superseded,
    validate_consent,
    validate_refusal,
)
from ville.ids import referral_case_id
from ville.models.billing import FamilyAccount
from ville.models.people import Role
from ville.models.referrals import (
    PartnerOrganization,
    PartnerService,
    Referral,
    ReferralAttachment,
    ReferralCase,
    ReferralCaseCounter,
    ReferralHistory,
    ReferralNote,
    RifRelay,
    as_utc,
)
from ville.referral_directory import LoadReport, ServiceHit, load_directory, search_services
from ville.referral_links import LinkState, ReferralLinkSigner
from ville.settings import Settings
from ville.temporal import SA_ARRONDISSEMENT, SA_BUSINESS_STATUS, SA_RELAY
from workflows.referrals import ReferralCaseWorkflow

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/rif", tags=["rif"])

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = {"application/pdf", "image/jpeg", "image/png"}
UPLOAD_URL_SECONDS = 15 * 60
MAX_CSV_BYTES = 5 * 1024 * 1024
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

Agent = Annotated[Principal, require(Role.rif_agent)]
RelayStaff = Annotated[Principal, require(Role.rif_agent, Role.coordinator)]
Coordinator = Annotated[Principal, require(Role.coordinator)]
Escalator = Annotated[Principal, require(Role.coordinator, Role.operator)]
PartnerUser = Annotated[Principal, require(Role.partner)]
DirectoryUser = Annotated[Principal, require(Role.rif_agent, Role.coordinator, Role.partner, Role.operator)]
DirectoryOperator = Annotated[Principal, require(Role.operator)]


async def _link_rate_limit(request: Request) -> None:
    """Link endpoints are anonymous: limit each client (one bucket per app, so tests do not share it)."""
    limiter: RateLimiter | None = getattr(request.app.state, "referral_link_limiter", None)
    if limiter is None:
        limiter = RateLimiter("referral-links", rate=60, per=60, burst=20)
        request.app.state.referral_link_limiter = limiter
    await limiter(request)


LinkLimited = Depends(_link_rate_limit)


def _links(request: Request) -> ReferralLinkSigner:
    settings: Settings = request.app.state.settings
    return ReferralLinkSigner(settings.session_keys)


LinksDep = Annotated[ReferralLinkSigner, Depends(_links)]


# --- models -----------------------------------------------------------------------------------------


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


# --- helpers ----------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _relay_scope(principal: Principal) -> int | None:
    """The relay whose cases the caller sees (None: every relay, for admins and the operator console)."""
    if principal.role in (Role.admin, Role.operator):
        return None
    return principal.relay_id if principal.relay_id is not None else -1


def _case_for(session: Session, principal: Principal, ref: str) -> ReferralCase:
    case = session.exec(select(ReferralCase).where(ReferralCase.ref == ref)).first()
    scope = _relay_scope(principal)
    if case is None or (scope is not None and case.relay_id != scope):
        raise not_found()
    return case


def _referral_of_case(session: Session, case: ReferralCase, ref: str) -> Referral:
    row = session.exec(select(Referral).where(Referral.ref == ref, Referral.case_id == case.id)).first()
    if row is None:
        raise not_found()
    return row


def _partner_referral(session: Session, org_id: int | None, ref: str) -> Referral:
    row = session.exec(select(Referral).where(Referral.ref == ref)).first()
    if row is None or org_id is None or row.organization_id != org_id:
        raise not_found()
    return row


def _handle(temporal: Client, case_ref: str) -> WorkflowHandle[ReferralCaseWorkflow, Any]:
    return temporal.get_workflow_handle_for(ReferralCaseWorkflow.run, referral_case_id(case_ref))


REFERRAL_REFUSALS = Refusals(
    closed="Ce dossier n'accepte plus de modification.",
    not_found=frozenset({ReferralError.NOT_FOUND}),
    conflict=frozenset({ReferralError.ILLEGAL}),
)


async def _update(temporal: Client, case_ref: str, update: Any, arg: Any) -> Any:
    return await execute_update(_handle(temporal, case_ref), update, arg, REFERRAL_REFUSALS)


def _history(rows: list[ReferralHistory], refs: dict[int, str]) -> list[HistoryOut]:
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


def _service_ref(session: Session, service_id: int) -> ServiceRef:
    svc = session.get_one(PartnerService, service_id)
    org = session.get_one(PartnerOrganization, svc.organization_id)
    return ServiceRef(id=service_id, name=svc.name, organization_id=org.id or 0, organization_name=org.name)


def _note_body(session: Session, note_id: int | None) -> str | None:
    note = session.get(ReferralNote, note_id) if note_id else None
    return note.body if note else None


def _referral_out(session: Session, r: Referral) -> ReferralOut:
    reason = RefusalReason(r.refusal_reason) if r.refusal_reason else None
    return ReferralOut(
        ref=r.ref,
        service=_service_ref(session, r.service_id),
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
        refusal_message=_note_body(session, r.refusal_note_id),
        replaces_ref=r.replaces_ref,
        replaced_by_ref=r.replaced_by_ref,
        follow_up_at=as_utc(r.follow_up_at),
        follow_up_done_at=as_utc(r.follow_up_done_at),
        follow_up_channel=r.follow_up_channel,
    )


def _summary(session: Session, c: ReferralCase) -> CaseSummary:
    states = session.exec(select(Referral.status).where(Referral.case_id == c.id)).all()
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


def _case_out(session: Session, c: ReferralCase) -> CaseOut:
    referrals = list(session.exec(select(Referral).where(Referral.case_id == c.id).order_by(col(Referral.ref))))
    refs = {r.id: r.ref for r in referrals if r.id is not None}
    history = list(
        session.exec(select(ReferralHistory).where(ReferralHistory.case_id == c.id).order_by(col(ReferralHistory.seq)))
    )
    attachments = session.exec(
        select(ReferralAttachment).where(ReferralAttachment.case_id == c.id).order_by(col(ReferralAttachment.id))
    ).all()
    return CaseOut(
        **_summary(session, c).model_dump(),
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
        closure_comment=session.exec(
            select(ReferralNote.body)
            .where(ReferralNote.case_id == c.id, ReferralNote.kind == "closure")
            .order_by(col(ReferralNote.id).desc())
        ).first(),
        referral_list=[_referral_out(session, r) for r in referrals],
        history=_history(history, refs),
        attachments=[
            AttachmentOut(
                id=a.id or 0,
                filename=a.filename,
                content_type=a.content_type,
                size_bytes=a.size_bytes,
                status=a.status,
                created_at=as_utc(a.created_at),
                deleted_at=as_utc(a.deleted_at),
            )
            for a in attachments
        ],
    )


def _relay_out(session: Session, relay_id: int) -> RelayOut:
    relay = session.get(RifRelay, relay_id)
    return RelayOut(
        name=relay.name if relay else "Relais Informations Familles",
        email=relay.email if relay else None,
        phone=relay.phone if relay else None,
    )


def _partner_out(session: Session, r: Referral) -> PartnerReferralOut:
    case = session.get_one(ReferralCase, r.case_id)
    shared = ConsentScope.SHARE_CONTACT.value in case.consent_scope and case.anonymised_at is None
    history = list(
        session.exec(
            select(ReferralHistory)
            .where(ReferralHistory.referral_id == r.id, col(ReferralHistory.partner_visible).is_(True))
            .order_by(col(ReferralHistory.seq))
        )
    )
    return PartnerReferralOut(
        ref=r.ref,
        case_ref=case.ref,
        service=_service_ref(session, r.service_id),
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
        refusal_message=_note_body(session, r.refusal_note_id),
        arrondissement=case.arrondissement,
        partner_summary=case.partner_summary,
        family=FamilyForPartner(
            name=case.contact_name,
            preferred_channel=ContactChannel(case.preferred_channel),
            contact_shared=shared,
            email=case.contact_email if shared else None,
            phone=case.contact_phone if shared else None,
        ),
        relay=_relay_out(session, case.relay_id),
        history=_history(history, {r.id or 0: r.ref}),
    )


def _service_out(hit: ServiceHit) -> ServiceOut:
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


def _report_out(report: LoadReport) -> LoadReportOut:
    return LoadReportOut(**vars(report))


def _e164(phone: str) -> str:
    """French numbers as +33…, the form SMS needs."""
    digits = re.sub(r"[\s.\-()]", "", phone)
    if re.fullmatch(r"0[1-9]\d{8}", digits):
        return "+33" + digits[1:]
    if re.fullmatch(r"\+\d{8,15}", digits):
        return digits
    raise field_error("contact_phone", "Numéro de téléphone invalide (ex. 06 12 34 56 78).")


def _next_case_ref(session: Session, year: int) -> str:
    counter = session.exec(
        select(ReferralCaseCounter).where(ReferralCaseCounter.year == year).with_for_update()
    ).first()
    if counter is None:
        counter = ReferralCaseCounter(year=year, next_seq=1)
    ref = format_case_ref(year, counter.next_seq)
    counter.next_seq += 1
    session.add(counter)
    return ref


# --- directory ----------------------------------------------------------------------------------------


@router.get("/needs")
def needs() -> list[LabelOut]:
    """Categories of need (public list)."""
    return [LabelOut(code=n.value, label=n.label) for n in NeedCategory]


@router.get("/refusal-reasons")
def refusal_reasons() -> list[LabelOut]:
    """Reasons a partner may give for a refusal (public list)."""
    return [LabelOut(code=r.value, label=r.label) for r in RefusalReason]


@router.get("/directory/services")
def directory_search(
    principal: DirectoryUser,
    session: SessionDep,
    need: NeedCategory | None = None,
    arrondissement: Annotated[int | None, Query(ge=1, le=20)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    include_unavailable: bool = False,
) -> list[ServiceOut]:
    """Services by need and arrondissement (active ones unless asked); local places first."""
    hits = search_services(session, need, arrondissement, q, include_unavailable)
    return [_service_out(h) for h in hits]


@router.post("/directory/import")
def directory_import(principal: DirectoryOperator, session: SessionDep,
                     data: Annotated[dict[str, Any], Body()]) -> LoadReportOut:  # fmt: skip
    """Load an HSDS JSON dataset (flat tables or nested organizations); upsert by HSDS id."""
    directory = parse_directory(data)
    if not directory.organizations and not directory.services:
        raise field_error("body", "Aucune organisation ni aucun service HSDS reconnu.")
    report = load_directory(session, directory)
    log.info("referral.directory_loaded", services=report.services_created + report.services_updated)
    return _report_out(report)


@router.post("/directory/import/csv")
async def directory_import_csv(
    principal: DirectoryOperator, session: SessionDep, files: Annotated[list[UploadFile], File(min_length=1)]
) -> LoadReportOut:
    """Load an HSDS CSV data package (organizations.csv, services.csv, locations.csv, ...)."""
    texts: dict[str, str] = {}
    total = 0
    for f in files:
        raw = await f.read(MAX_CSV_BYTES + 1)
        total += len(raw)
        if total > MAX_CSV_BYTES:
            raise field_error("files", "Fichiers trop volumineux (5 Mo au total).", 413)
        try:
            texts[f.filename or "table.csv"] = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise field_error("files", f"{f.filename} n'est pas encodé en UTF-8.") from None
    directory = parse_directory(csv_tables(texts))
    if not directory.organizations and not directory.services:
        raise field_error("files", "Aucune organisation ni aucun service HSDS reconnu.")
    report = await asyncio.to_thread(load_directory, session, directory)
    return _report_out(report)


# --- agents: cases --------------------------------------------------------------------------------------


@router.post("/cases", status_code=status.HTTP_201_CREATED)
async def open_case(
    body: CaseCreate, principal: Agent, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> CaseOut:
    """Open a case for a family that consented; its workflow starts at once."""
    if principal.relay_id is None:
        raise field_error("relay", "Votre compte n'est rattaché à aucun relais.")
    phone = _e164(body.contact_phone) if body.contact_phone else None
    errors = validate_consent(set(body.consent.scope), body.preferred_channel, bool(body.contact_email), bool(phone))
    if errors:
        raise field_error("consent", " ".join(errors))
    if body.consent.given_at > _now() + timedelta(minutes=5):
        raise field_error("consent.given_at", "La date du consentement ne peut pas être dans le futur.")
    if body.family_account_id is not None and session.get(FamilyAccount, body.family_account_id) is None:
        raise field_error("family_account_id", "Compte famille inconnu.")
    now = _now()
    case = ReferralCase(
        ref=_next_case_ref(session, now.astimezone(PARIS).year),
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
        opened_at=now,
    )
    session.add(case)
    session.commit()
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
        session.delete(case)
        session.commit()
        log.error("referral.case_start_failed", case_ref=case.ref, status=err.status.name)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Service momentanément indisponible") from err
    log.info("referral.case_opened", case_ref=case.ref, relay_id=principal.relay_id)
    return _case_out(session, case)


@router.get("/cases")
def list_cases(
    principal: RelayStaff, session: SessionDep, status_: Annotated[CaseStatus | None, Query(alias="status")] = None
) -> list[CaseSummary]:
    """Cases of the caller's relay, newest first."""
    query = select(ReferralCase).order_by(col(ReferralCase.opened_at).desc()).limit(500)
    scope = _relay_scope(principal)
    if scope is not None:
        query = query.where(ReferralCase.relay_id == scope)
    if status_ is not None:
        query = query.where(ReferralCase.status == status_.value)
    return [_summary(session, c) for c in session.exec(query)]


@router.get("/cases/{ref}")
def get_case(ref: str, principal: RelayStaff, session: SessionDep) -> CaseOut:
    """A case of the caller's relay, with its referrals, history and attachments (404 otherwise)."""
    return _case_out(session, _case_for(session, principal, ref))


@router.post("/cases/{ref}/referrals", status_code=status.HTTP_201_CREATED)
async def refer(ref: str, body: ReferIn, principal: Agent, session: SessionDep, temporal: TemporalDep) -> ReferralOut:
    """Refer the family to a service; the partner gets a secure link at once."""
    case = _case_for(session, principal, ref)
    service = session.get(PartnerService, body.service_id)
    if service is None:
        raise field_error("service_id", "Service inconnu de l'annuaire.")
    if service.status != ServiceStatus.ACTIVE.value:
        label = ServiceStatus(service.status).label.lower()
        raise field_error("service_id", f"Ce service ne reçoit pas d'orientation ({label}).")
    if body.replaces_ref is not None:
        _referral_of_case(session, case, body.replaces_ref)
    result = await _update(
        temporal, case.ref, ReferralCaseWorkflow.refer,
        ReferRequest(body.service_id, body.need.value, principal.user_id, body.replaces_ref),
    )  # fmt: skip
    session.expire_all()
    return _referral_out(session, _referral_of_case(session, case, result.ref))


@router.post("/cases/{ref}/referrals/{referral_ref}/cancel")
async def cancel_referral(
    ref: str, referral_ref: str, principal: Agent, session: SessionDep, temporal: TemporalDep
) -> ReferralOut:
    """Withdraw a referral still awaiting an answer."""
    case = _case_for(session, principal, ref)
    r = _referral_of_case(session, case, referral_ref)
    await _update(temporal, case.ref, ReferralCaseWorkflow.cancel_referral, CancelReferral(r.ref, principal.user_id))
    session.expire_all()
    return _referral_out(session, _referral_of_case(session, case, referral_ref))


@router.post("/cases/{ref}/referrals/{referral_ref}/renew-link")
async def renew_link(
    ref: str, referral_ref: str, principal: Agent, session: SessionDep, temporal: TemporalDep
) -> ReferralOut:
    """Send the partner a fresh 8-day link."""
    case = _case_for(session, principal, ref)
    r = _referral_of_case(session, case, referral_ref)
    await _update(
        temporal, case.ref, ReferralCaseWorkflow.renew_link, RenewLink(r.ref, ActorKind.AGENT, principal.user_id)
    )
    session.expire_all()
    return _referral_out(session, _referral_of_case(session, case, referral_ref))


@router.post("/cases/{ref}/referrals/{referral_ref}/escalade")
async def escalate_referral(
    ref: str, referral_ref: str, body: OperatorReason, principal: Escalator, session: SessionDep, temporal: TemporalDep
) -> ReferralOut:
    """Escalate a referral awaiting an answer by hand: the relay's coordination is alerted, like at the SLA."""
    case = _case_for(session, principal, ref)
    r = _referral_of_case(session, case, referral_ref)
    await _update(
        temporal, case.ref, ReferralCaseWorkflow.escalate,
        EscalateReferral(r.ref, principal.user_id, ActorKind.COORDINATOR),
    )  # fmt: skip
    audit(session, principal, "referral.escalate", f"{referral_case_id(case.ref)}/{r.ref}", body.reason)
    session.expire_all()
    return _referral_out(session, _referral_of_case(session, case, referral_ref))


@router.post("/cases/{ref}/close")
async def close_case(ref: str, body: CloseIn, principal: Agent, session: SessionDep, temporal: TemporalDep) -> CaseOut:
    """Close the case with an outcome (`force` cancels referrals awaiting an answer, with a comment)."""
    case = _case_for(session, principal, ref)
    note_id = _add_note(session, case, None, "closure", "agent", principal.user_id, body.comment, False)
    try:
        await _update(
            temporal, case.ref, ReferralCaseWorkflow.close,
            CloseCaseRequest(body.outcome, principal.user_id, body.force, note_id),
        )  # fmt: skip
    except HTTPException:
        _drop_note(session, note_id)
        raise
    session.expire_all()
    return _case_out(session, _case_for(session, principal, ref))


def _add_note(session: Session, case: ReferralCase, referral_id: int | None, kind: str, author_kind: str,
              author_user_id: int | None, body: str, partner_visible: bool) -> int | None:  # fmt: skip
    """Free text stays in the database: the update carries only its id."""
    if not body.strip():
        return None
    assert case.id is not None
    note = ReferralNote(case_id=case.id, referral_id=referral_id, kind=kind, author_kind=author_kind,
                        author_user_id=author_user_id, body=body.strip(), partner_visible=partner_visible)  # fmt: skip
    session.add(note)
    session.commit()
    return note.id


def _drop_note(session: Session, note_id: int | None) -> None:
    if note_id is not None:
        note = session.get(ReferralNote, note_id)
        if note is not None:
            session.delete(note)
            session.commit()


# --- agents: attachments ---------------------------------------------------------------------------------


@router.post("/cases/{ref}/attachments", status_code=status.HTTP_201_CREATED)
async def start_upload(
    ref: str, body: AttachmentIn, principal: Agent, session: SessionDep, s3: S3Dep, settings: SettingsDep
) -> UploadOut:
    """A presigned S3 form for one document (PDF, JPEG or PNG, 10 MB at most)."""
    case = _case_for(session, principal, ref)
    if body.content_type not in ATTACHMENT_TYPES:
        raise field_error("content_type", "Formats acceptés : PDF, JPEG, PNG.", 415)
    if body.size_bytes > MAX_ATTACHMENT_BYTES:
        raise field_error("size_bytes", "Le fichier dépasse 10 Mo.", 413)
    now = _now()
    if (
        case.status != CaseStatus.OPEN.value
        or case.attachments_deleted_at is not None
        or now >= attachments_delete_at(as_utc(case.opened_at))
    ):
        raise HTTPException(status.HTTP_409_CONFLICT, "Ce dossier n'accepte plus de pièce jointe.")
    key = f"{attachment_prefix(case.ref)}{secrets.token_hex(16)}"
    assert case.id is not None
    att = ReferralAttachment(case_id=case.id, s3_key=key, filename=re.split(r"[\\/]", body.filename)[-1][:200],
                             content_type=body.content_type, size_bytes=body.size_bytes,
                             uploaded_by_user_id=principal.user_id)  # fmt: skip
    post = await asyncio.to_thread(
        s3.generate_presigned_post,
        Bucket=settings.s3_bucket,
        Key=key,
        Fields={"Content-Type": body.content_type},
        Conditions=[{"Content-Type": body.content_type}, ["content-length-range", 1, body.size_bytes]],
        ExpiresIn=UPLOAD_URL_SECONDS,
    )
    session.add(att)
    session.commit()
    return UploadOut(attachment_id=att.id or 0, url=post["url"], fields=post["fields"],
                     expires_at=now + timedelta(seconds=UPLOAD_URL_SECONDS), max_bytes=body.size_bytes)  # fmt: skip


def _attachment(session: Session, case: ReferralCase, attachment_id: int) -> ReferralAttachment:
    att = session.get(ReferralAttachment, attachment_id)
    if att is None or att.case_id != case.id:
        raise not_found()
    return att


@router.post("/cases/{ref}/attachments/{attachment_id}/complete")
async def complete_upload(ref: str, attachment_id: DbId, principal: Agent, session: SessionDep, s3: S3Dep,
                          settings: SettingsDep) -> AttachmentOut:  # fmt: skip
    """Check the uploaded object (size and type) and mark the attachment uploaded."""
    case = _case_for(session, principal, ref)
    att = _attachment(session, case, attachment_id)
    if att.status != "pending":
        raise HTTPException(status.HTTP_409_CONFLICT, "Pièce jointe déjà traitée.")
    try:
        head = await asyncio.to_thread(s3.head_object, Bucket=settings.s3_bucket, Key=att.s3_key)
    except Exception:
        raise HTTPException(status.HTTP_409_CONFLICT, "Le fichier n'a pas été reçu.") from None
    if head["ContentLength"] > att.size_bytes or head.get("ContentType") != att.content_type:
        await asyncio.to_thread(s3.delete_object, Bucket=settings.s3_bucket, Key=att.s3_key)
        raise field_error("file", "Le fichier reçu ne correspond pas à la déclaration (taille ou format).")
    att.status, att.size_bytes = "uploaded", int(head["ContentLength"])
    session.add(att)
    session.commit()
    return AttachmentOut(id=att.id or 0, filename=att.filename, content_type=att.content_type,
                         size_bytes=att.size_bytes, status=att.status, created_at=as_utc(att.created_at),
                         deleted_at=None)  # fmt: skip


@router.get("/cases/{ref}/attachments/{attachment_id}/download")
async def download_attachment(ref: str, attachment_id: DbId, principal: RelayStaff, session: SessionDep, s3: S3Dep,
                              settings: SettingsDep) -> DownloadOut:  # fmt: skip
    """A 5-minute download URL for an uploaded document."""
    case = _case_for(session, principal, ref)
    att = _attachment(session, case, attachment_id)
    if att.status != "uploaded":
        raise not_found()
    url = await asyncio.to_thread(
        s3.generate_presigned_url, "get_object", Params={"Bucket": settings.s3_bucket, "Key": att.s3_key},
        ExpiresIn=300,
    )  # fmt: skip
    return DownloadOut(url=url, expires_at=_now() + timedelta(seconds=300))


# --- partners (account) -------------------------------------------------------------------------------------


@router.get("/partner/referrals")
def partner_referrals(principal: PartnerUser, session: SessionDep, open_only: bool = False) -> list[PartnerReferralOut]:
    """Referrals sent to the caller's organisation, newest first."""
    if principal.partner_org_id is None:
        return []
    query = select(Referral).where(Referral.organization_id == principal.partner_org_id)
    if open_only:
        query = query.where(Referral.status == ReferralState.OPEN.value)
    rows = session.exec(query.order_by(col(Referral.created_at).desc()).limit(200)).all()
    return [_partner_out(session, r) for r in rows]


@router.get("/partner/referrals/{referral_ref}")
def partner_referral(referral_ref: str, principal: PartnerUser, session: SessionDep) -> PartnerReferralOut:
    """One referral of the caller's organisation (404 for any other)."""
    return _partner_out(session, _partner_referral(session, principal.partner_org_id, referral_ref))


async def _acknowledge(session: Session, temporal: Client, r: Referral, kind: ActorKind, uid: int | None,
                       ) -> PartnerReferralOut:  # fmt: skip
    case = session.get_one(ReferralCase, r.case_id)
    await _update(temporal, case.ref, ReferralCaseWorkflow.acknowledge,
                  PartnerAcknowledge(r.ref, r.organization_id, kind, uid))  # fmt: skip
    session.expire_all()
    return _partner_out(session, session.get_one(Referral, r.id))


async def _accept(session: Session, temporal: Client, r: Referral, body: AcceptIn, kind: ActorKind,
                  uid: int | None) -> PartnerReferralOut:  # fmt: skip
    case = session.get_one(ReferralCase, r.case_id)
    appointment = body.appointment_on.isoformat() if body.appointment_on else None
    await _update(temporal, case.ref, ReferralCaseWorkflow.accept,
                  PartnerAccept(r.ref, r.organization_id, appointment, body.contact_made, kind, uid))  # fmt: skip
    session.expire_all()
    return _partner_out(session, session.get_one(Referral, r.id))


async def _refuse(session: Session, temporal: Client, r: Referral, body: RefuseIn, kind: ActorKind,
                  uid: int | None) -> PartnerReferralOut:  # fmt: skip
    errors = validate_refusal(body.reason, body.message)
    if errors:
        raise field_error("message", " ".join(errors))
    case = session.get_one(ReferralCase, r.case_id)
    note_id = _add_note(session, case, r.id, "refusal", kind.value, uid, body.message, True)
    try:
        await _update(temporal, case.ref, ReferralCaseWorkflow.refuse,
                      PartnerRefuse(r.ref, r.organization_id, body.reason, note_id, kind, uid))  # fmt: skip
    except HTTPException:
        _drop_note(session, note_id)
        raise
    session.expire_all()
    return _partner_out(session, session.get_one(Referral, r.id))


@router.post("/partner/referrals/{referral_ref}/acknowledge")
async def partner_acknowledge(referral_ref: str, principal: PartnerUser, session: SessionDep,
                              temporal: TemporalDep) -> PartnerReferralOut:  # fmt: skip
    """The partner has seen the referral (stops the SLA clock)."""
    r = _partner_referral(session, principal.partner_org_id, referral_ref)
    return await _acknowledge(session, temporal, r, ActorKind.PARTNER, principal.user_id)


@router.post("/partner/referrals/{referral_ref}/accept")
async def partner_accept(referral_ref: str, body: AcceptIn, principal: PartnerUser, session: SessionDep,
                         temporal: TemporalDep) -> PartnerReferralOut:  # fmt: skip
    """Accept: an appointment date or the family contacted."""
    r = _partner_referral(session, principal.partner_org_id, referral_ref)
    return await _accept(session, temporal, r, body, ActorKind.PARTNER, principal.user_id)


@router.post("/partner/referrals/{referral_ref}/refuse")
async def partner_refuse(referral_ref: str, body: RefuseIn, principal: PartnerUser, session: SessionDep,
                         temporal: TemporalDep) -> PartnerReferralOut:  # fmt: skip
    """Refuse with a reason from the list and a message for the relay."""
    r = _partner_referral(session, principal.partner_org_id, referral_ref)
    return await _refuse(session, temporal, r, body, ActorKind.PARTNER, principal.user_id)


# --- partners (secure link) ---------------------------------------------------------------------------------


def _link_referral(session: Session, links: ReferralLinkSigner, token: str, allow_expired: bool = False) -> Referral:
    state, claims = links.read_partner_token(token, _now())
    if state is LinkState.INVALID or claims is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Lien invalide.")
    row = session.exec(select(Referral).where(Referral.ref == claims.referral_ref)).first()
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


@router.get("/link", dependencies=[LinkLimited])
def link_referral(token: str, session: SessionDep, links: LinksDep, response: Response) -> PartnerReferralOut:
    """The referral behind a partner's secure link."""
    response.headers["Cache-Control"] = "no-store"
    return _partner_out(session, _link_referral(session, links, token))


@router.post("/link/acknowledge", dependencies=[LinkLimited])
async def link_acknowledge(body: TokenIn, session: SessionDep, temporal: TemporalDep,
                           links: LinksDep) -> PartnerReferralOut:  # fmt: skip
    """Acknowledge through the secure link."""
    r = _link_referral(session, links, body.token)
    return await _acknowledge(session, temporal, r, ActorKind.PARTNER_LINK, None)


@router.post("/link/accept", dependencies=[LinkLimited])
async def link_accept(body: LinkAcceptIn, session: SessionDep, temporal: TemporalDep,
                      links: LinksDep) -> PartnerReferralOut:  # fmt: skip
    """Accept through the secure link."""
    r = _link_referral(session, links, body.token)
    return await _accept(session, temporal, r, body, ActorKind.PARTNER_LINK, None)


@router.post("/link/refuse", dependencies=[LinkLimited])
async def link_refuse(body: LinkRefuseIn, session: SessionDep, temporal: TemporalDep,
                      links: LinksDep) -> PartnerReferralOut:  # fmt: skip
    """Refuse through the secure link."""
    r = _link_referral(session, links, body.token)
    return await _refuse(session, temporal, r, body, ActorKind.PARTNER_LINK, None)


@router.post("/link/renew", dependencies=[LinkLimited], status_code=status.HTTP_202_ACCEPTED)
async def link_renew(body: TokenIn, session: SessionDep, temporal: TemporalDep, links: LinksDep) -> MessageOut:
    """A fresh link, sent to the service's own address (never to the caller), even from an expired one."""
    r = _link_referral(session, links, body.token, allow_expired=True)
    case = session.get_one(ReferralCase, r.case_id)
    await _update(temporal, case.ref, ReferralCaseWorkflow.renew_link,
                  RenewLink(r.ref, ActorKind.PARTNER_LINK, None, r.organization_id))  # fmt: skip
    return MessageOut(message="Un nouveau lien a été envoyé à l'adresse du service.")


# --- coordinators ---------------------------------------------------------------------------------------------


@router.get("/coordination/sla-breaches")
def sla_breaches(principal: Coordinator, session: SessionDep, open_only: bool = True) -> list[BreachOut]:
    """Referrals of the coordinator's relay that missed the acknowledgement SLA."""
    query = (
        select(Referral, ReferralCase.ref)
        .join(ReferralCase, col(ReferralCase.id) == col(Referral.case_id))
        .where(col(Referral.escalated_at).is_not(None))
    )
    scope = _relay_scope(principal)
    if scope is not None:
        query = query.where(ReferralCase.relay_id == scope)
    if open_only:
        query = query.where(Referral.status == ReferralState.OPEN.value)
    rows = session.exec(query.order_by(col(Referral.escalated_at).desc()).limit(500)).all()
    return [
        BreachOut(
            referral_ref=r.ref,
            case_ref=case_ref,
            service=_service_ref(session, r.service_id),
            status=ReferralState(r.status),
            status_label=ReferralState(r.status).label,
            sent_at=as_utc(r.sent_at),
            sla_deadline=as_utc(r.sla_deadline),
            escalated_at=as_utc(r.escalated_at),
            acked_at=as_utc(r.acked_at),
            reminders_sent=r.reminders_sent,
        )
        for r, case_ref in rows
    ]


# --- families -----------------------------------------------------------------------------------------------


@router.get("/family/status", dependencies=[LinkLimited])
def family_status(token: str, session: SessionDep, links: LinksDep, response: Response) -> FamilyStatusOut:
    """The family's referrals, through the link it asked for."""
    response.headers["Cache-Control"] = "no-store"
    state, claims = links.read_family_token(token, _now())
    if state is LinkState.INVALID or claims is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Lien invalide.")
    if state is LinkState.EXPIRED:
        raise HTTPException(status.HTTP_410_GONE, "Lien expiré : contactez votre relais.")
    case = session.exec(select(ReferralCase).where(ReferralCase.ref == claims.case_ref)).first()
    if case is None or case.anonymised_at is not None or ConsentScope.STATUS_LINK.value not in case.consent_scope:
        raise not_found()
    rows = session.exec(select(Referral).where(Referral.case_id == case.id).order_by(col(Referral.ref))).all()
    return FamilyStatusOut(
        case_ref=case.ref,
        relay=_relay_out(session, case.relay_id),
        status=CaseStatus(case.status),
        referrals=[
            FamilyReferralOut(
                service_name=session.get_one(PartnerService, r.service_id).name,
                need_label=NeedCategory(r.need).label,
                status=ReferralState(r.status),
                status_label=ReferralState(r.status).label,
                appointment_on=r.appointment_on,
            )
            for r in rows
        ],
    )
