"""RIF referral activities: the database projection, partner/agent/family messages, retention on S3.

Personal data (names, addresses, the secure links) is read and used here only: the workflow passes refs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.referrals import (
    CreatedReferral,
    CreateReferralInput,
    HistoryEvent,
    NoticeInput,
    NoticeKind,
    NoticeResult,
    RecordInput,
    ReferralActivity,
    RetentionInput,
    RetentionResult,
)
from domain.calendar import format_date_fr
from domain.hsds import ServiceStatus
from domain.referrals import (
    PARIS,
    ConsentScope,
    ContactChannel,
    LinkClaims,
    NeedCategory,
    ReferralState,
    RefusalReason,
    ack_last_day,
    attachment_prefix,
    expires_at,
)
from services.notifications import Contact, NotificationRequest, Notifier, raise_if_retryable, register_resolver
from ville.db import SessionFactory
from ville.metrics import REFERRAL_SLA_BREACHES
from ville.models.people import Role, UserAccount
from ville.models.referrals import (
    PartnerContact,
    PartnerOrganization,
    PartnerService,
    Referral,
    ReferralAttachment,
    ReferralCase,
    ReferralHistory,
    ReferralNote,
    RifRelay,
    as_utc,
)
from ville.referral_links import FamilyLinkClaims, ReferralLinkSigner
from ville.settings import Settings

log = structlog.get_logger(__name__)
ANONYMISED_NAME = "Anonymisé"


@register_resolver("referral_service")
def _service_contact(s: Session, service_id: int) -> Contact | None:
    """A service's address: its own, else a contact of the service, else its organisation's."""
    service = s.get(PartnerService, service_id)
    if service is None:
        return None
    email = (
        service.email
        or s.exec(
            select(PartnerContact.email).where(
                PartnerContact.service_id == service_id, col(PartnerContact.email).is_not(None)
            )
        ).first()
    )
    if not email:
        org = s.get(PartnerOrganization, service.organization_id)
        email = org.email if org else None
    return Contact(email=email, phone=None, display_name=service.name)


@register_resolver("referral_user")
def _user_contact(s: Session, user_id: int) -> Contact | None:
    """An agent's or coordinator's address."""
    user = s.get(UserAccount, user_id)
    if user is None or not user.active:
        return None
    return Contact(email=user.email, phone=None, display_name=user.display_name)


@register_resolver("referral_family")
def _family_contact(s: Session, case_id: int) -> Contact | None:
    """The family of a case, until it is anonymised."""
    case = s.get(ReferralCase, case_id)
    if case is None or case.anonymised_at is not None:
        return None
    return Contact(email=case.contact_email, phone=case.contact_phone, display_name=case.contact_name)


def _case(s: Session, case_ref: str) -> ReferralCase:
    case = s.exec(select(ReferralCase).where(ReferralCase.ref == case_ref)).first()
    if case is None or case.id is None:
        raise ApplicationError(f"Dossier {case_ref} introuvable.", type="CaseNotFound", non_retryable=True)
    return case


def _referral(s: Session, ref: str) -> Referral:
    row = s.exec(select(Referral).where(Referral.ref == ref)).first()
    if row is None:
        raise ApplicationError(f"Orientation {ref} introuvable.", type="CaseNotFound", non_retryable=True)
    return row


def _fr(dt: datetime | None) -> str:
    return format_date_fr(as_utc(dt).astimezone(PARIS).date()) if dt else ""


def _ack_by(deadline_at: datetime | None) -> str:
    """The last day to acknowledge, dd/mm/yyyy (the stored deadline is the instant after it)."""
    return format_date_fr(ack_last_day(as_utc(deadline_at))) if deadline_at else ""


class ReferralActivities:
    """Activities of the referral workflow, with the session factory, S3 and the notifier injected."""

    def __init__(self, sessions: SessionFactory, s3: Any, notifier: Notifier, settings: Settings) -> None:
        self.sessions = sessions
        self.s3 = s3
        self.notifier = notifier
        self.bucket = settings.s3_bucket
        self.base_url = settings.public_base_url.rstrip("/")
        self.links = ReferralLinkSigner(settings.session_keys)

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activities to register on a worker."""
        return [self.create_referral, self.record, self.notify, self.delete_attachments, self.anonymise]

    @activity.defn(name=ReferralActivity.CREATE)
    def create_referral(self, inp: CreateReferralInput) -> CreatedReferral:
        """Insert the referral row (idempotent by ref) if the service exists and is open."""
        with self.sessions() as s:
            case = _case(s, inp.case_ref)
            existing = s.exec(select(Referral).where(Referral.ref == inp.referral_ref)).first()
            if existing is not None:
                return CreatedReferral(existing.ref, existing.organization_id)
            service = s.get(PartnerService, inp.service_id)
            if service is None:
                raise ApplicationError("Service inconnu de l'annuaire.", type="ServiceUnknown", non_retryable=True)
            if service.status != ServiceStatus.ACTIVE.value:
                label = ServiceStatus(service.status).label.lower()
                raise ApplicationError(
                    f"Le service « {service.name} » ne reçoit pas d'orientation ({label}).",
                    type="ServiceUnavailable",
                    non_retryable=True,
                )
            assert case.id is not None
            s.add(
                Referral(
                    ref=inp.referral_ref,
                    case_id=case.id,
                    service_id=service.id,
                    organization_id=service.organization_id,
                    need=inp.need,
                    status=ReferralState.PENDING.value,
                    replaces_ref=inp.replaces_ref,
                    created_at=inp.at,
                )
            )
            s.commit()
            return CreatedReferral(inp.referral_ref, service.organization_id)

    @activity.defn(name=ReferralActivity.RECORD)
    def record(self, inp: RecordInput) -> None:
        """Append one history entry and update the projection it implies (once per entry)."""
        e = inp.entry
        with self.sessions() as s:
            case = _case(s, inp.case_ref)
            assert case.id is not None
            done = s.exec(
                select(ReferralHistory.id).where(ReferralHistory.case_id == case.id, ReferralHistory.seq == e.seq)
            ).first()
            if done is not None:
                return
            referral_id: int | None = None
            if inp.referral is not None:
                p = inp.referral
                row = _referral(s, p.ref)
                row.status = ReferralState(p.state).value
                row.replaces_ref, row.replaced_by_ref = p.replaces_ref, p.replaced_by_ref
                row.sent_at, row.sla_deadline, row.acked_at = p.opened_at, p.sla_deadline, p.acked_at
                row.escalated_at, row.last_reminder_at = p.escalated_at, p.last_reminder_at
                row.reminders_sent, row.links_issued, row.link_expires_at = (
                    p.reminders_sent, p.links_issued, p.link_expires_at,
                )  # fmt: skip
                row.answered_at, row.contact_made = p.answered_at, p.contact_made
                row.appointment_on = datetime.fromisoformat(p.appointment_on).date() if p.appointment_on else None
                row.refusal_reason = p.refusal_reason.value if p.refusal_reason else None
                row.refusal_note_id = p.refusal_note_id
                row.follow_up_at, row.follow_up_done_at = p.follow_up_at, p.follow_up_done_at
                row.follow_up_channel = p.follow_up_channel
                s.add(row)
                referral_id = row.id
                if p.refusal_note_id is not None:
                    note = s.get(ReferralNote, p.refusal_note_id)
                    if note is not None and note.case_id == case.id and note.referral_id is None:
                        note.referral_id = row.id
                        s.add(note)
            elif e.referral_ref is not None:
                referral_id = _referral(s, e.referral_ref).id
            c = inp.case
            case.status, case.business_status = c.status.value, c.business_status.value
            case.outcome = c.outcome.value if c.outcome else None
            if c.opened_at is not None:
                case.opened_at = c.opened_at
            case.closed_at, case.attachments_deleted_at, case.anonymised_at = (
                c.closed_at, c.attachments_deleted_at, c.anonymised_at,
            )  # fmt: skip
            s.add(case)
            s.add(
                ReferralHistory(
                    case_id=case.id,
                    seq=e.seq,
                    referral_id=referral_id,
                    at=e.at,
                    event=e.event.value,
                    from_status=e.from_status,
                    to_status=e.to_status,
                    actor_kind=e.actor_kind.value,
                    actor_user_id=e.actor_user_id,
                    partner_visible=e.partner_visible,
                    info=e.info[:200],
                )
            )
            s.commit()
        if e.event is HistoryEvent.REFERRAL_ESCALATED:
            REFERRAL_SLA_BREACHES.inc()
        log.info("referral.recorded", case_ref=inp.case_ref, event_name=e.event.value, seq=e.seq)

    @activity.defn(name=ReferralActivity.NOTIFY)
    def notify(self, inp: NoticeInput) -> NoticeResult:
        """Send one kind of message (each key at most once); returns the channel used."""
        with self.sessions() as s:
            case = _case(s, inp.case_ref)
            channel, requests = self._requests(s, case, inp)
        if not requests:
            return NoticeResult(channel, 0)
        outcome = self.notifier.send_many(requests)
        raise_if_retryable(outcome)
        sent = outcome.sent + outcome.already_sent + outcome.scheduled
        if outcome.failed:
            log.warning("referral.notice_failed", case_ref=inp.case_ref, kind=inp.kind.value, failed=outcome.failed)
        return NoticeResult(channel if sent else "failed", sent)

    def _requests(self, s: Session, case: ReferralCase, inp: NoticeInput) -> tuple[str, list[NotificationRequest]]:
        assert case.id is not None
        relay = s.get(RifRelay, case.relay_id)
        relay_name = relay.name if relay else "Relais Informations Familles"
        ctx: dict[str, str] = {"case_ref": case.ref, "relay_name": relay_name}
        referral = _referral(s, inp.referral_ref) if inp.referral_ref else None
        service = s.get(PartnerService, referral.service_id) if referral else None
        if referral is not None and service is not None:
            org = s.get(PartnerOrganization, service.organization_id)
            ctx |= {
                "referral_ref": referral.ref,
                "need": NeedCategory(referral.need).label,
                "service_name": service.name,
                "organization_name": org.name if org else "",
                "sent_on": _fr(referral.sent_at),
                "sla_deadline": _ack_by(inp.ack_deadline_at or referral.sla_deadline),
                "expires": _fr(expires_at(as_utc(referral.sent_at))) if referral.sent_at else "",
            }

        def req(channel: str, template: str, kind: str, rid: int, key: str = inp.key) -> NotificationRequest:
            return NotificationRequest(key, channel, template, kind, rid, inp.referral_ref or case.ref, dict(ctx))

        k = inp.kind
        if k in (NoticeKind.PARTNER_NEW, NoticeKind.PARTNER_REMINDER, NoticeKind.PARTNER_LINK):
            assert referral is not None and service is not None and service.id is not None
            assert inp.link_expires_at is not None
            claims = LinkClaims(referral.ref, str(referral.organization_id), inp.link_expires_at)
            ctx |= {
                "link": f"{self.base_url}/partenaire/orientation?token={self.links.partner_token(claims)}",
                "link_expires": _fr(inp.link_expires_at),
            }
            template = {
                NoticeKind.PARTNER_NEW: "referral_partner_new",
                NoticeKind.PARTNER_REMINDER: "referral_partner_reminder",
                NoticeKind.PARTNER_LINK: "referral_partner_link",
            }[k]
            return "email", [req("email", template, "referral_service", service.id)]
        if k is NoticeKind.COORDINATOR_ESCALATION:
            coordinators = s.exec(
                select(UserAccount.id).where(
                    UserAccount.role == Role.coordinator,
                    UserAccount.relay_id == case.relay_id,
                    col(UserAccount.active).is_(True),
                )
            ).all()
            return "email", [
                req("email", "referral_coordinator_escalation", "referral_user", uid, f"{inp.key}:{uid}")
                for uid in coordinators
                if uid is not None
            ]
        if k is NoticeKind.AGENT_ANSWER:
            assert referral is not None
            state = ReferralState(referral.status)
            if state is ReferralState.ACCEPTED:
                detail = (
                    f"Rendez-vous prévu le {format_date_fr(referral.appointment_on)}."
                    if referral.appointment_on
                    else "Le partenaire a pris contact avec la famille."
                )
            else:
                reason = RefusalReason(referral.refusal_reason) if referral.refusal_reason else None
                detail = f"Motif : {reason.label}." if reason else ""
            ctx |= {"status": state.label, "detail": detail}
            return "email", [req("email", "referral_agent_answer", "referral_user", case.opened_by_user_id)]
        if k is NoticeKind.AGENT_EXPIRED:
            return "email", [req("email", "referral_agent_expired", "referral_user", case.opened_by_user_id)]
        scope = {ConsentScope(x) for x in case.consent_scope}
        channel = ContactChannel(case.preferred_channel)
        if case.anonymised_at is not None:
            return ContactChannel.NONE.value, []
        link = ""
        if ConsentScope.STATUS_LINK in scope and inp.link_expires_at is not None:
            token = self.links.family_token(FamilyLinkClaims(case.ref, inp.link_expires_at))
            link = f"{self.base_url}/api/rif/family/status?token={token}"
        ctx |= {"link": link, "link_expires": _fr(inp.link_expires_at)}
        if k is NoticeKind.FAMILY_STATUS_LINK:
            if not link or channel not in (ContactChannel.EMAIL, ContactChannel.SMS):
                return ContactChannel.NONE.value, []
            return channel.value, [req(channel.value, "referral_family_link", "referral_family", case.id)]
        # FAMILY_FOLLOW_UP: through the family's channel, if it agreed to be followed up
        if ConsentScope.FOLLOW_UP not in scope or channel is ContactChannel.NONE:
            return ContactChannel.NONE.value, []
        ctx["relay_contact"] = " / ".join(x for x in ((relay.phone, relay.email) if relay else ()) if x)
        if channel is ContactChannel.PHONE:
            template = "referral_agent_followup_call"
            return channel.value, [req("email", template, "referral_user", case.opened_by_user_id)]
        return channel.value, [req(channel.value, "referral_family_followup", "referral_family", case.id)]

    @activity.defn(name=ReferralActivity.DELETE_ATTACHMENTS)
    def delete_attachments(self, inp: RetentionInput) -> RetentionResult:
        """Delete every S3 object of the case and mark its attachments deleted (idempotent)."""
        objects = self._delete_prefix(inp.case_ref)
        with self.sessions() as s:
            case = _case(s, inp.case_ref)
            rows = s.exec(
                select(ReferralAttachment).where(
                    ReferralAttachment.case_id == case.id, col(ReferralAttachment.deleted_at).is_(None)
                )
            ).all()
            for a in rows:
                a.status, a.deleted_at = "deleted", inp.at
                s.add(a)
            s.commit()
        log.info("referral.attachments_deleted", case_ref=inp.case_ref, objects=objects, rows=len(rows))
        return RetentionResult(objects, len(rows))

    @activity.defn(name=ReferralActivity.ANONYMISE)
    def anonymise(self, inp: RetentionInput) -> RetentionResult:
        """Remove the case's personal data from the database and S3; keep codes, dates and the history."""
        objects = self._delete_prefix(inp.case_ref)
        with self.sessions() as s:
            case = _case(s, inp.case_ref)
            case.contact_name, case.contact_email, case.contact_phone = ANONYMISED_NAME, None, None
            case.situation, case.partner_summary, case.family_account_id = "", "", None
            s.add(case)
            notes = s.exec(select(ReferralNote).where(ReferralNote.case_id == case.id)).all()
            for n in notes:
                n.body = ""
                s.add(n)
            for a in s.exec(select(ReferralAttachment).where(ReferralAttachment.case_id == case.id)).all():
                a.filename, a.status = ANONYMISED_NAME, "deleted"
                a.deleted_at = a.deleted_at or inp.at
                s.add(a)
            s.commit()
        log.info("referral.anonymised", case_ref=inp.case_ref, objects=objects)
        return RetentionResult(objects, 1 + len(notes))

    def _delete_prefix(self, case_ref: str) -> int:
        deleted = 0
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=attachment_prefix(case_ref)):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted
