"""RIF referrals: the only code reading and writing the cases, referrals, history, notes, attachments and relays.

The API (a request's session) and the referral activities (their own sessions) use the same service; the
partner directory's tables are `services/referral_directory.py`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from contracts.referrals import RecordInput
from domain.hsds import Directory
from domain.referral_cases import NeedCategory, format_case_ref
from domain.referrals import ReferralState
from services.notification_registry import Contact, register_resolver
from services.referral_directory import LoadReport, ServiceHit, load_directory, search_services
from ville.models.billing import FamilyAccount
from ville.models.people import Role, UserAccount
from ville.models.referrals import (
    PartnerContact,
    PartnerOrganization,
    PartnerService,
    Referral,
    ReferralAttachment,
    ReferralCase,
    ReferralCaseCounter,
    ReferralHistory,
    ReferralNote,
    RifRelay,
)

ANONYMISED_NAME = "Anonymisé"


class ReferralNotFound(LookupError):
    """A history entry names a referral the projection does not hold."""

    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


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


class ReferralService:
    """The referral tables through one session: the caller owns the session and its lifetime."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def refresh(self) -> None:
        """Forget what was loaded: the case's workflow wrote the projection in another session meanwhile."""
        self.session.expire_all()

    # --- cases -------------------------------------------------------------------------------------

    def case_by_ref(self, ref: str) -> ReferralCase | None:
        """The case with this ref, if any."""
        return self.session.exec(select(ReferralCase).where(ReferralCase.ref == ref)).first()

    def case(self, case_id: int) -> ReferralCase:
        """The case with this id (it exists: a referral points to it)."""
        return self.session.get_one(ReferralCase, case_id)

    def cases(self, relay_id: int | None, status: str | None, limit: int = 500) -> Sequence[ReferralCase]:
        """Cases, newest first, of one relay (None: every relay) and in one status (None: any)."""
        query = select(ReferralCase).order_by(col(ReferralCase.opened_at).desc()).limit(limit)
        if relay_id is not None:
            query = query.where(ReferralCase.relay_id == relay_id)
        if status is not None:
            query = query.where(ReferralCase.status == status)
        return self.session.exec(query).all()

    def family_account_exists(self, account_id: int) -> bool:
        """True if the family account a case links to exists."""
        return self.session.get(FamilyAccount, account_id) is not None

    def next_case_ref(self, year: int) -> str:
        """The next case ref of the year (the counter row is locked until the caller commits)."""
        counter = self.session.exec(
            select(ReferralCaseCounter).where(ReferralCaseCounter.year == year).with_for_update()
        ).first()
        if counter is None:
            counter = ReferralCaseCounter(year=year, next_seq=1)
        ref = format_case_ref(year, counter.next_seq)
        counter.next_seq += 1
        self.session.add(counter)
        return ref

    def add_case(self, case: ReferralCase) -> None:
        """Store a new case (with the counter advanced by `next_case_ref`)."""
        self.session.add(case)
        self.session.commit()

    def delete_case(self, case: ReferralCase) -> None:
        """Remove a case whose workflow could not start."""
        self.session.delete(case)
        self.session.commit()

    def relay(self, relay_id: int) -> RifRelay | None:
        """A relay of the RIF network."""
        return self.session.get(RifRelay, relay_id)

    def closure_comment(self, case_id: int | None) -> str | None:
        """The latest closure comment of a case."""
        return self.session.exec(
            select(ReferralNote.body)
            .where(ReferralNote.case_id == case_id, ReferralNote.kind == "closure")
            .order_by(col(ReferralNote.id).desc())
        ).first()

    def history(self, case_id: int | None) -> list[ReferralHistory]:
        """The case's history, in order."""
        query = select(ReferralHistory).where(ReferralHistory.case_id == case_id)
        return list(self.session.exec(query.order_by(col(ReferralHistory.seq))))

    def partner_history(self, referral_id: int | None) -> list[ReferralHistory]:
        """The history entries of one referral a partner may read, in order."""
        query = select(ReferralHistory).where(
            ReferralHistory.referral_id == referral_id, col(ReferralHistory.partner_visible).is_(True)
        )
        return list(self.session.exec(query.order_by(col(ReferralHistory.seq))))

    # --- referrals ---------------------------------------------------------------------------------

    def referral_by_ref(self, ref: str) -> Referral | None:
        """The referral with this ref, if any."""
        return self.session.exec(select(Referral).where(Referral.ref == ref)).first()

    def referral(self, referral_id: int | None) -> Referral:
        """The referral with this id (it exists)."""
        return self.session.get_one(Referral, referral_id)

    def referral_of_case(self, case_id: int | None, ref: str) -> Referral | None:
        """The referral with this ref if it belongs to the case."""
        query = select(Referral).where(Referral.ref == ref, Referral.case_id == case_id)
        return self.session.exec(query).first()

    def referrals_of_case(self, case_id: int | None) -> list[Referral]:
        """The case's referrals by ref."""
        return list(self.session.exec(select(Referral).where(Referral.case_id == case_id).order_by(col(Referral.ref))))

    def referral_states(self, case_id: int | None) -> Sequence[str]:
        """The status of each referral of a case."""
        return self.session.exec(select(Referral.status).where(Referral.case_id == case_id)).all()

    def referrals_of_organization(self, org_id: int, open_only: bool, limit: int = 200) -> Sequence[Referral]:
        """Referrals sent to an organisation, newest first."""
        query = select(Referral).where(Referral.organization_id == org_id)
        if open_only:
            query = query.where(Referral.status == ReferralState.OPEN.value)
        return self.session.exec(query.order_by(col(Referral.created_at).desc()).limit(limit)).all()

    def sla_breaches(self, relay_id: int | None, open_only: bool, limit: int = 500) -> list[tuple[Referral, str]]:
        """(referral, case ref) of escalated referrals, latest escalation first, of one relay (None: all)."""
        query = (
            select(Referral, ReferralCase.ref)
            .join(ReferralCase, col(ReferralCase.id) == col(Referral.case_id))
            .where(col(Referral.escalated_at).is_not(None))
        )
        if relay_id is not None:
            query = query.where(ReferralCase.relay_id == relay_id)
        if open_only:
            query = query.where(Referral.status == ReferralState.OPEN.value)
        return list(self.session.exec(query.order_by(col(Referral.escalated_at).desc()).limit(limit)).all())

    def service(self, service_id: int) -> PartnerService | None:
        """A service of the directory."""
        return self.session.get(PartnerService, service_id)

    def service_and_organization(self, service_id: int) -> tuple[PartnerService, PartnerOrganization]:
        """A service a referral points to, and its organisation (both exist)."""
        svc = self.session.get_one(PartnerService, service_id)
        return svc, self.session.get_one(PartnerOrganization, svc.organization_id)

    def search_services(
        self, need: NeedCategory | None, arrondissement: int | None, text: str | None, include_unavailable: bool
    ) -> list[ServiceHit]:
        """Services of the directory by need and arrondissement, local places first."""
        return search_services(self.session, need, arrondissement, text, include_unavailable)

    def load_directory(self, directory: Directory) -> LoadReport:
        """Upsert an HSDS directory in one transaction."""
        return load_directory(self.session, directory)

    def organization(self, org_id: int) -> PartnerOrganization | None:
        """A partner organisation."""
        return self.session.get(PartnerOrganization, org_id)

    def add_referral(self, referral: Referral) -> None:
        """Store a new referral (the workflow's `create` activity, idempotent by ref upstream)."""
        self.session.add(referral)
        self.session.commit()

    def coordinators(self, relay_id: int) -> list[int]:
        """Ids of the active coordinators of a relay."""
        rows = self.session.exec(
            select(UserAccount.id).where(
                UserAccount.role == Role.coordinator,
                UserAccount.relay_id == relay_id,
                col(UserAccount.active).is_(True),
            )
        ).all()
        return [uid for uid in rows if uid is not None]

    # --- notes -------------------------------------------------------------------------------------

    def note_body(self, note_id: int | None) -> str | None:
        """The text of a note."""
        note = self.session.get(ReferralNote, note_id) if note_id else None
        return note.body if note else None

    def add_note(self, case: ReferralCase, referral_id: int | None, kind: str, author_kind: str,
                 author_user_id: int | None, body: str, partner_visible: bool) -> int | None:  # fmt: skip
        """Free text stays in the database: the update carries only its id (None for an empty text)."""
        if not body.strip():
            return None
        assert case.id is not None
        note = ReferralNote(
            case_id=case.id,
            referral_id=referral_id,
            kind=kind,
            author_kind=author_kind,
            author_user_id=author_user_id,
            body=body.strip(),
            partner_visible=partner_visible,
        )
        self.session.add(note)
        self.session.commit()
        return note.id

    def drop_note(self, note_id: int | None) -> None:
        """Remove a note whose update was refused."""
        if note_id is not None:
            note = self.session.get(ReferralNote, note_id)
            if note is not None:
                self.session.delete(note)
                self.session.commit()

    # --- attachments -------------------------------------------------------------------------------

    def attachments(self, case_id: int | None) -> Sequence[ReferralAttachment]:
        """The case's attachments by id."""
        query = select(ReferralAttachment).where(ReferralAttachment.case_id == case_id)
        return self.session.exec(query.order_by(col(ReferralAttachment.id))).all()

    def attachment(self, attachment_id: int) -> ReferralAttachment | None:
        """One attachment."""
        return self.session.get(ReferralAttachment, attachment_id)

    def save_attachment(self, att: ReferralAttachment) -> None:
        """Store a new or changed attachment."""
        self.session.add(att)
        self.session.commit()

    def mark_attachments_deleted(self, case_id: int | None, at: datetime) -> int:
        """Mark the case's remaining attachments deleted; answers how many."""
        rows = self.session.exec(
            select(ReferralAttachment).where(
                ReferralAttachment.case_id == case_id, col(ReferralAttachment.deleted_at).is_(None)
            )
        ).all()
        for a in rows:
            a.status, a.deleted_at = "deleted", at
            self.session.add(a)
        self.session.commit()
        return len(rows)

    # --- the workflow's projection and retention ---------------------------------------------------

    def record(self, case: ReferralCase, inp: RecordInput) -> bool:
        """Append one history entry and update the projection it implies; False if it was recorded already."""
        s, e = self.session, inp.entry
        assert case.id is not None
        done = s.exec(
            select(ReferralHistory.id).where(ReferralHistory.case_id == case.id, ReferralHistory.seq == e.seq)
        ).first()
        if done is not None:
            return False
        referral_id: int | None = None
        if inp.referral is not None:
            p = inp.referral
            row = self._existing_referral(p.ref)
            row.status = ReferralState(p.state).value
            row.replaces_ref, row.replaced_by_ref = p.replaces_ref, p.replaced_by_ref
            row.sent_at, row.sla_deadline, row.acked_at = p.opened_at, p.sla_deadline, p.acked_at
            row.escalated_at, row.last_reminder_at = p.escalated_at, p.last_reminder_at
            row.reminders_sent, row.links_issued, row.link_expires_at = (
                p.reminders_sent, p.links_issued, p.link_expires_at,
            )  # fmt: skip
            row.answered_at, row.contact_made = p.answered_at, p.contact_made
            row.appointment_on = p.appointment_on
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
            referral_id = self._existing_referral(e.referral_ref).id
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
        return True

    def _existing_referral(self, ref: str) -> Referral:
        row = self.referral_by_ref(ref)
        if row is None:
            raise ReferralNotFound(ref)
        return row

    def anonymise(self, case: ReferralCase, at: datetime) -> int:
        """Remove the case's personal data (contact, texts, file names); answers how many notes were emptied."""
        s = self.session
        case.contact_name, case.contact_email, case.contact_phone = ANONYMISED_NAME, None, None
        case.situation, case.partner_summary, case.family_account_id = "", "", None
        s.add(case)
        notes = s.exec(select(ReferralNote).where(ReferralNote.case_id == case.id)).all()
        for n in notes:
            n.body = ""
            s.add(n)
        for a in s.exec(select(ReferralAttachment).where(ReferralAttachment.case_id == case.id)).all():
            a.filename, a.status = ANONYMISED_NAME, "deleted"
            a.deleted_at = a.deleted_at or at
            s.add(a)
        s.commit()
        return len(notes)
