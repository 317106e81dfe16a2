"""Inputs, results, updates and activity messages of the RIF referral workflow (plain dataclasses).

Nothing here carries personal data: cases and referrals travel as opaque refs, partners and services as ids,
free text as the id of a `referral_note` row the API wrote before sending the update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from domain.referral_cases import CaseBusinessStatus, CaseOutcome, CaseStatus
from domain.referral_dates import ACK_BUSINESS_DAYS, FOLLOW_UP_DAYS
from domain.referrals import ReferralState, RefusalReason


class ReferralActivity(StrEnum):
    """Registered names of the referral activities (the workflow never imports the I/O module)."""

    CREATE = "referral_create"
    RECORD = "referral_record"
    NOTIFY = "referral_notify"
    DELETE_ATTACHMENTS = "referral_delete_attachments"
    ANONYMISE = "referral_anonymise"


class ReferralError:
    """`ApplicationError.type` values of a case's refused updates, which the API maps to HTTP answers."""

    REJECTED = "ReferralRejected"  # 422: a business rule
    NOT_FOUND = "ReferralNotFound"  # 404
    ILLEGAL = "IllegalTransition"  # 409


class ActorKind(StrEnum):
    """Who caused a history entry."""

    AGENT = "agent"
    PARTNER = "partner"  # a partner account
    PARTNER_LINK = "partner_link"  # the partner's secure link
    COORDINATOR = "coordinator"
    SYSTEM = "system"


class HistoryEvent(StrEnum):
    """Entries of the append-only case history."""

    CASE_OPENED = "case_opened"
    REFERRAL_CREATED = "referral_created"
    REFERRAL_SENT = "referral_sent"
    REFERRAL_ACKNOWLEDGED = "referral_acknowledged"
    REFERRAL_REMINDED = "referral_reminded"
    REFERRAL_ESCALATED = "referral_escalated"
    REFERRAL_ACCEPTED = "referral_accepted"
    REFERRAL_REFUSED = "referral_refused"
    REFERRAL_EXPIRED = "referral_expired"
    REFERRAL_CANCELLED = "referral_cancelled"
    REFERRAL_REPLACED = "referral_replaced"
    LINK_RENEWED = "link_renewed"
    FOLLOW_UP = "follow_up"
    CASE_CLOSED = "case_closed"
    ATTACHMENTS_DELETED = "attachments_deleted"
    CASE_ANONYMISED = "case_anonymised"

    @property
    def label(self) -> str:
        """French label shown in the history."""
        return _EVENT_LABELS[self]


_EVENT_LABELS = {
    HistoryEvent.CASE_OPENED: "Dossier ouvert",
    HistoryEvent.REFERRAL_CREATED: "Orientation créée",
    HistoryEvent.REFERRAL_SENT: "Orientation transmise au partenaire",
    HistoryEvent.REFERRAL_ACKNOWLEDGED: "Prise en compte par le partenaire",
    HistoryEvent.REFERRAL_REMINDED: "Relance du partenaire",
    HistoryEvent.REFERRAL_ESCALATED: "Délai de prise en compte dépassé : coordination alertée",
    HistoryEvent.REFERRAL_ACCEPTED: "Orientation acceptée",
    HistoryEvent.REFERRAL_REFUSED: "Orientation refusée",
    HistoryEvent.REFERRAL_EXPIRED: "Orientation expirée sans réponse",
    HistoryEvent.REFERRAL_CANCELLED: "Orientation annulée",
    HistoryEvent.REFERRAL_REPLACED: "Réorientation vers un autre partenaire",
    HistoryEvent.LINK_RENEWED: "Nouveau lien envoyé au partenaire",
    HistoryEvent.FOLLOW_UP: "Suivi auprès de la famille",
    HistoryEvent.CASE_CLOSED: "Dossier clôturé",
    HistoryEvent.ATTACHMENTS_DELETED: "Pièces jointes supprimées (durée de conservation)",
    HistoryEvent.CASE_ANONYMISED: "Dossier anonymisé (durée de conservation)",
}


class NoticeKind(StrEnum):
    """Messages the workflow asks the notification activity to send."""

    PARTNER_NEW = "partner_new"
    PARTNER_REMINDER = "partner_reminder"
    PARTNER_LINK = "partner_link"
    COORDINATOR_ESCALATION = "coordinator_escalation"
    AGENT_ANSWER = "agent_answer"
    AGENT_EXPIRED = "agent_expired"
    FAMILY_STATUS_LINK = "family_status_link"
    FAMILY_FOLLOW_UP = "family_follow_up"


# --- workflow state ------------------------------------------------------------------------------


@dataclass
class ReferralProcess:
    """Process state of one referral (also what the projection writes to the `referral` row)."""

    ref: str
    service_id: int
    organization_id: int
    need: str
    state: ReferralState = ReferralState.PENDING
    created_at: datetime | None = None
    opened_at: datetime | None = None
    sla_deadline: datetime | None = None
    acked_at: datetime | None = None
    escalated_at: datetime | None = None
    last_reminder_at: datetime | None = None
    reminders_sent: int = 0
    links_issued: int = 0
    link_expires_at: datetime | None = None
    answered_at: datetime | None = None
    appointment_on: date | None = None  # travels as its ISO day (`ville.temporal`'s converter)
    contact_made: bool = False
    refusal_reason: RefusalReason | None = None
    refusal_note_id: int | None = None
    replaces_ref: str | None = None
    replaced_by_ref: str | None = None
    follow_up_at: datetime | None = None
    follow_up_done_at: datetime | None = None
    follow_up_channel: str | None = None


@dataclass
class ReferralCaseState:
    """Everything the workflow carries across continue-as-new."""

    opened_at: datetime | None = None
    status: CaseStatus = CaseStatus.OPEN
    business_status: CaseBusinessStatus = CaseBusinessStatus.OPEN
    outcome: CaseOutcome | None = None
    closed_at: datetime | None = None
    attachments_deleted_at: datetime | None = None
    anonymised_at: datetime | None = None
    referrals: list[ReferralProcess] = field(default_factory=list)
    history_seq: int = 0


@dataclass
class ReferralCaseInput:
    """Start (or continue) a case's workflow: refs and settings only, never personal data."""

    case_ref: str
    relay_id: int
    arrondissement: int | None = None
    opened_by_user_id: int | None = None
    ack_business_days: int = ACK_BUSINESS_DAYS
    follow_up_days: int = FOLLOW_UP_DAYS
    history_limit: int = 8_000  # events before continue-as-new (Temporal warns at 10,240)
    state: ReferralCaseState | None = None


@dataclass
class ReferralCaseResult:
    """How a case ended (returned after anonymisation)."""

    case_ref: str
    outcome: CaseOutcome | None
    referrals: dict[str, ReferralState]
    anonymised_at: datetime | None


# --- updates ---------------------------------------------------------------------------------------


@dataclass
class ReferRequest:
    """An agent refers the family to a service (or re-refers a refused/expired referral elsewhere)."""

    service_id: int
    need: str
    actor_user_id: int
    replaces_ref: str | None = None


@dataclass
class ReferralRef:
    """The ref of a referral created by an update."""

    ref: str


@dataclass
class PartnerAcknowledge:
    """The partner says it has seen the referral (stops the SLA clock)."""

    referral_ref: str
    partner_org_id: int
    actor_kind: ActorKind = ActorKind.PARTNER
    actor_user_id: int | None = None


@dataclass
class PartnerAccept:
    """The partner accepts: an appointment date, or the family was contacted."""

    referral_ref: str
    partner_org_id: int
    appointment_on: date | None = None  # travels as its ISO day (`ville.temporal`'s converter)
    contact_made: bool = False
    actor_kind: ActorKind = ActorKind.PARTNER
    actor_user_id: int | None = None


@dataclass
class PartnerRefuse:
    """The partner refuses with a reason from the list and, optionally, a message (a note id)."""

    referral_ref: str
    partner_org_id: int
    reason: RefusalReason
    note_id: int | None = None
    actor_kind: ActorKind = ActorKind.PARTNER
    actor_user_id: int | None = None


@dataclass
class CancelReferral:
    """The agent withdraws a referral still awaiting an answer."""

    referral_ref: str
    actor_user_id: int


@dataclass
class EscalateReferral:
    """An operator or a coordinator escalates a referral awaiting an answer by hand (reason in the audit log)."""

    referral_ref: str
    actor_user_id: int
    actor_kind: ActorKind = ActorKind.COORDINATOR


@dataclass
class RenewLink:
    """Send the partner a fresh secure link (the previous one expires after 8 days)."""

    referral_ref: str
    actor_kind: ActorKind
    actor_user_id: int | None = None
    partner_org_id: int | None = None  # set when the partner asks, checked against the referral


@dataclass
class CloseCaseRequest:
    """The agent closes the case with an outcome; `force` cancels referrals still awaiting an answer."""

    outcome: CaseOutcome
    actor_user_id: int
    force: bool = False
    note_id: int | None = None


# --- activity messages -----------------------------------------------------------------------------


@dataclass
class CreateReferralInput:
    """Insert a referral row (idempotent by ref) after checking the service can receive it."""

    case_ref: str
    referral_ref: str
    service_id: int
    need: str
    at: datetime
    replaces_ref: str | None = None


@dataclass
class CreatedReferral:
    """The referral's partner organisation, known once the service was checked."""

    referral_ref: str
    organization_id: int


@dataclass
class CaseProjection:
    """Case-level fields of the projection."""

    status: CaseStatus
    business_status: CaseBusinessStatus
    opened_at: datetime | None = None
    outcome: CaseOutcome | None = None
    closed_at: datetime | None = None
    attachments_deleted_at: datetime | None = None
    anonymised_at: datetime | None = None


@dataclass
class HistoryEntry:
    """One line of the append-only history; `seq` makes its recording idempotent."""

    seq: int
    at: datetime
    event: HistoryEvent
    actor_kind: ActorKind
    actor_user_id: int | None = None
    referral_ref: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    partner_visible: bool = False
    info: str = ""  # codes only (a refusal reason, an outcome, a channel)


@dataclass
class RecordInput:
    """Write one history entry and the projection it implies, in one transaction."""

    case_ref: str
    entry: HistoryEntry
    case: CaseProjection
    referral: ReferralProcess | None = None


@dataclass
class NoticeInput:
    """Send one kind of message about a case or a referral; `key` deduplicates it."""

    case_ref: str
    kind: NoticeKind
    key: str
    referral_ref: str | None = None
    link_expires_at: datetime | None = None
    # The acknowledgement deadline printed in the partner's e-mails: the first one goes out before the
    # referral's projection (which holds it too) is recorded.
    ack_deadline_at: datetime | None = None


@dataclass
class NoticeResult:
    """How the message went out: the channel used (or none) and how many were sent."""

    channel: str
    sent: int


@dataclass
class RetentionInput:
    """Apply a retention step to a case."""

    case_ref: str
    at: datetime


@dataclass
class RetentionResult:
    """What a retention step removed."""

    objects_deleted: int
    rows_updated: int
