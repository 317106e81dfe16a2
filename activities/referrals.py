"""RIF referral activities: the database projection, partner/agent/family messages, retention on S3.

Personal data (names, addresses, the secure links) is read and used here only: the workflow passes refs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from temporalio.exceptions import ApplicationError

from activities.definition import defn
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
from domain.calendar import PARIS, format_date_fr
from domain.hsds import ServiceStatus
from domain.referral_cases import ConsentScope, ContactChannel, NeedCategory, attachment_prefix
from domain.referral_dates import ack_last_day, expires_at
from domain.referral_links import LinkClaims
from domain.referrals import ReferralState, RefusalReason
from services.notifications import NotificationRequest, Notifier, raise_if_retryable
from services.referrals import ReferralNotFound, ReferralService
from ville.db import SessionFactory
from ville.metrics import REFERRAL_SLA_BREACHES
from ville.models.referrals import Referral, ReferralCase, as_utc
from ville.referral_links import FamilyLinkClaims, ReferralLinkSigner
from ville.settings import Settings

log = structlog.get_logger(__name__)


def _case(s: ReferralService, case_ref: str) -> ReferralCase:
    case = s.case_by_ref(case_ref)
    if case is None or case.id is None:
        raise ApplicationError(f"Dossier {case_ref} introuvable.", type="CaseNotFound", non_retryable=True)
    return case


def _referral(s: ReferralService, ref: str) -> Referral:
    row = s.referral_by_ref(ref)
    if row is None:
        raise _no_referral(ref)
    return row


def _no_referral(ref: str) -> ApplicationError:
    return ApplicationError(f"Orientation {ref} introuvable.", type="CaseNotFound", non_retryable=True)


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

    @defn(name=ReferralActivity.CREATE)
    def create_referral(self, inp: CreateReferralInput) -> CreatedReferral:
        """Insert the referral row (idempotent by ref) if the service exists and is open."""
        with self.sessions() as session:
            s = ReferralService(session)
            case = _case(s, inp.case_ref)
            existing = s.referral_by_ref(inp.referral_ref)
            if existing is not None:
                return CreatedReferral(existing.ref, existing.organization_id)
            service = s.service(inp.service_id)
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
            s.add_referral(
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
            return CreatedReferral(inp.referral_ref, service.organization_id)

    @defn(name=ReferralActivity.RECORD)
    def record(self, inp: RecordInput) -> None:
        """Append one history entry and update the projection it implies (once per entry)."""
        e = inp.entry
        with self.sessions() as session:
            s = ReferralService(session)
            try:
                if not s.record(_case(s, inp.case_ref), inp):
                    return
            except ReferralNotFound as err:
                raise _no_referral(err.ref) from None
        if e.event is HistoryEvent.REFERRAL_ESCALATED:
            REFERRAL_SLA_BREACHES.inc()
        log.info("referral.recorded", case_ref=inp.case_ref, event_name=e.event.value, seq=e.seq)

    @defn(name=ReferralActivity.NOTIFY)
    def notify(self, inp: NoticeInput) -> NoticeResult:
        """Send one kind of message (each key at most once); returns the channel used."""
        with self.sessions() as session:
            s = ReferralService(session)
            channel, requests = self._requests(s, _case(s, inp.case_ref), inp)
        if not requests:
            return NoticeResult(channel, 0)
        outcome = self.notifier.send_many(requests)
        raise_if_retryable(outcome)
        sent = outcome.sent + outcome.already_sent + outcome.scheduled
        if outcome.failed:
            log.warning("referral.notice_failed", case_ref=inp.case_ref, kind=inp.kind.value, failed=outcome.failed)
        return NoticeResult(channel if sent else "failed", sent)

    def _requests(
        self, s: ReferralService, case: ReferralCase, inp: NoticeInput
    ) -> tuple[str, list[NotificationRequest]]:
        assert case.id is not None
        relay = s.relay(case.relay_id)
        relay_name = relay.name if relay else "Relais Informations Familles"
        ctx: dict[str, str] = {"case_ref": case.ref, "relay_name": relay_name}
        referral = _referral(s, inp.referral_ref) if inp.referral_ref else None
        service = s.service(referral.service_id) if referral else None
        if referral is not None and service is not None:
            org = s.organization(service.organization_id)
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
            return "email", [
                req("email", "referral_coordinator_escalation", "referral_user", uid, f"{inp.key}:{uid}")
                for uid in s.coordinators(case.relay_id)
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

    @defn(name=ReferralActivity.DELETE_ATTACHMENTS)
    def delete_attachments(self, inp: RetentionInput) -> RetentionResult:
        """Delete every S3 object of the case and mark its attachments deleted (idempotent)."""
        objects = self._delete_prefix(inp.case_ref)
        with self.sessions() as session:
            s = ReferralService(session)
            rows = s.mark_attachments_deleted(_case(s, inp.case_ref).id, inp.at)
        log.info("referral.attachments_deleted", case_ref=inp.case_ref, objects=objects, rows=rows)
        return RetentionResult(objects, rows)

    @defn(name=ReferralActivity.ANONYMISE)
    def anonymise(self, inp: RetentionInput) -> RetentionResult:
        """Remove the case's personal data from the database and S3; keep codes, dates and the history."""
        objects = self._delete_prefix(inp.case_ref)
        with self.sessions() as session:
            s = ReferralService(session)
            notes = s.anonymise(_case(s, inp.case_ref), inp.at)
        log.info("referral.anonymised", case_ref=inp.case_ref, objects=objects)
        return RetentionResult(objects, 1 + notes)

    def _delete_prefix(self, case_ref: str) -> int:
        deleted = 0
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=attachment_prefix(case_ref)):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted
