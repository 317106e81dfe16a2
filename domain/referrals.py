"""RIF case referrals (orientations): states, refusal reasons, SLA clocks, retention and case closure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple, TypeVar

from domain.calendar import PARIS, add_business_days, add_months

ACK_BUSINESS_DAYS = 3
REMINDER_EVERY_DAYS = 10
EXPIRY_DAYS = 30
LINK_VALIDITY_DAYS = 8
# the first link and three renewals: each renewal is an e-mail to the service, asked for by whoever holds a link
PARTNER_LINKS_MAX = 4
LINK_RENEWALS_EXHAUSTED = (
    "Ce lien a déjà été renouvelé trop de fois : le relais RIF vous recontactera ; vous pouvez aussi l'appeler."
)
LINK_SUPERSEDED = "Ce lien a été remplacé par un lien plus récent : utilisez le dernier lien reçu."


def may_renew_link(links_issued: int) -> bool:
    """True while a referral has sent fewer partner links than allowed."""
    return links_issued < PARTNER_LINKS_MAX


def is_superseded(link_expires_at: datetime, latest_expires_at: datetime | None) -> bool:
    """True for a link older than the latest one issued for the referral (every renewal revokes the others)."""
    return latest_expires_at is not None and link_expires_at < latest_expires_at


ATTACHMENT_RETENTION_MONTHS = 6
ANONYMISATION_DAYS = 730

_D = TypeVar("_D", date, datetime)


def _require_aware(**values: datetime | None) -> None:
    for name, value in values.items():
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"{name} must be timezone-aware")


# --- states ------------------------------------------------------------------------------------


class ReferralState(StrEnum):
    """Where a referral to a partner service stands."""

    PENDING = "pending"
    OPEN = "open"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """French label."""
        return _STATE_LABELS[self]

    @property
    def is_active(self) -> bool:
        """True while the partner's answer is still awaited (pending or open)."""
        return self in ACTIVE_STATES


class ReferralEvent(StrEnum):
    """What can happen to a referral."""

    NOTIFY = "notify"
    ACCEPT = "accept"
    REFUSE = "refuse"
    EXPIRE = "expire"
    CANCEL = "cancel"

    @property
    def label(self) -> str:
        """French label (an infinitive, used in messages)."""
        return _EVENT_LABELS[self]


_STATE_LABELS = {
    ReferralState.PENDING: "en attente d'envoi",
    ReferralState.OPEN: "ouverte",
    ReferralState.ACCEPTED: "acceptée",
    ReferralState.REFUSED: "refusée",
    ReferralState.EXPIRED: "expirée",
    ReferralState.CANCELLED: "annulée",
}
_EVENT_LABELS = {
    ReferralEvent.NOTIFY: "notifier le partenaire de",
    ReferralEvent.ACCEPT: "accepter",
    ReferralEvent.REFUSE: "refuser",
    ReferralEvent.EXPIRE: "faire expirer",
    ReferralEvent.CANCEL: "annuler",
}
_TRANSITIONS: dict[ReferralState, dict[ReferralEvent, ReferralState]] = {
    # the agent may still cancel a referral the partner has not been told about yet
    ReferralState.PENDING: {
        ReferralEvent.NOTIFY: ReferralState.OPEN,
        ReferralEvent.CANCEL: ReferralState.CANCELLED,
    },
    ReferralState.OPEN: {
        ReferralEvent.ACCEPT: ReferralState.ACCEPTED,
        ReferralEvent.REFUSE: ReferralState.REFUSED,
        ReferralEvent.EXPIRE: ReferralState.EXPIRED,
        ReferralEvent.CANCEL: ReferralState.CANCELLED,
    },
}
ACTIVE_STATES: frozenset[ReferralState] = frozenset(_TRANSITIONS)
TERMINAL_STATES: frozenset[ReferralState] = frozenset(ReferralState) - ACTIVE_STATES


def _de(verb: str) -> str:
    # French elision: « d'accepter », « de refuser »
    return f"d'{verb}" if verb[0] in "aeéiouyh" else f"de {verb}"


class IllegalTransition(ValueError):
    """The event is not allowed in the referral's current state."""

    def __init__(self, state: ReferralState, event: ReferralEvent) -> None:
        self.state = state
        self.event = event
        allowed = ", ".join(e.value for e in _TRANSITIONS.get(state, {})) or "aucun (état final)"
        super().__init__(
            f"Impossible {_de(event.label)} une orientation {state.label} "
            f"({state.value} --{event.value}--> ?). Événements possibles : {allowed}."
        )


def transition(state: ReferralState, event: ReferralEvent) -> ReferralState:
    """Next state, or IllegalTransition."""
    try:
        return _TRANSITIONS[ReferralState(state)][ReferralEvent(event)]
    except KeyError:
        raise IllegalTransition(ReferralState(state), ReferralEvent(event)) from None


# --- refusal -----------------------------------------------------------------------------------


class RefusalReason(StrEnum):
    """Why a partner refuses a referral."""

    HORS_PERIMETRE = "hors_perimetre"
    COMPLET = "complet"
    NON_ELIGIBLE = "non_eligible"
    INJOIGNABLE = "injoignable"
    DOUBLON = "doublon"
    AUTRE = "autre"

    @property
    def label(self) -> str:
        """French label shown to agents and partners."""
        return _REFUSAL_LABELS[self]

    @property
    def requires_comment(self) -> bool:
        """True when the partner must explain in free text."""
        return self is RefusalReason.AUTRE


_REFUSAL_LABELS = {
    RefusalReason.HORS_PERIMETRE: "Hors de notre périmètre",
    RefusalReason.COMPLET: "Plus de place disponible",
    RefusalReason.NON_ELIGIBLE: "La famille ne remplit pas les conditions d'accès",
    RefusalReason.INJOIGNABLE: "Famille injoignable",
    RefusalReason.DOUBLON: "Demande déjà reçue par ailleurs",
    RefusalReason.AUTRE: "Autre",
}

COMMENT_MAX_LENGTH = 2000


def validate_refusal(reason: RefusalReason, comment: str = "") -> list[str]:
    """French error messages for a refusal (empty list = valid)."""
    errors: list[str] = []
    if RefusalReason(reason).requires_comment and not comment.strip():
        errors.append("Merci de préciser le motif du refus.")
    if len(comment) > COMMENT_MAX_LENGTH:
        errors.append(f"Le commentaire ne doit pas dépasser {COMMENT_MAX_LENGTH} caractères.")
    return errors


# --- SLA clocks and retention ------------------------------------------------------------------


def ack_deadline(sent_at_date: date, business_days: int = ACK_BUSINESS_DAYS) -> date:
    """Last day for the partner to acknowledge: the n-th French business day after sending."""
    if business_days < 1:
        raise ValueError("business_days must be >= 1")
    return add_business_days(sent_at_date, business_days)


def ack_deadline_at(sent_at: datetime, business_days: int = ACK_BUSINESS_DAYS) -> datetime:
    """Instant the acknowledgement SLA is breached: the end of the deadline day, Paris time."""
    _require_aware(sent_at=sent_at)
    last_day = ack_deadline(sent_at.astimezone(PARIS).date(), business_days)
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=PARIS)


def ack_last_day(deadline_at: datetime) -> date:
    """The last day (Paris) to acknowledge, from the instant the SLA is breached (`ack_deadline_at`).

    The breach instant is midnight after that day: its own date would print one day late.
    """
    _require_aware(deadline_at=deadline_at)
    return (deadline_at.astimezone(PARIS) - timedelta(microseconds=1)).date()


def expires_at(opened: datetime, days: int = EXPIRY_DAYS) -> datetime:
    """Instant an unanswered referral expires."""
    _require_aware(opened=opened)
    return opened + timedelta(days=days)


def reminder_times(
    opened: datetime, every_days: int = REMINDER_EVERY_DAYS, expiry_days: int = EXPIRY_DAYS
) -> list[datetime]:
    """Reminder instants of a referral left unanswered: every `every_days`, strictly before expiry."""
    if every_days < 1:
        raise ValueError("every_days must be >= 1")
    end = expires_at(opened, expiry_days)
    times: list[datetime] = []
    at = opened + timedelta(days=every_days)
    while at < end:
        times.append(at)
        at += timedelta(days=every_days)
    return times


def link_expiry(issued: datetime, days: int = LINK_VALIDITY_DAYS) -> datetime:
    """Instant a partner's secure answer link stops working."""
    _require_aware(issued=issued)
    return issued + timedelta(days=days)


def _shift_months(value: _D, months: int) -> _D:
    target = add_months(value.date() if isinstance(value, datetime) else value, months)
    return value.replace(year=target.year, month=target.month, day=target.day)


def attachments_delete_at(opened: _D, months: int = ATTACHMENT_RETENTION_MONTHS) -> _D:
    """When a referral's attachments are deleted (calendar months, day clamped to month end)."""
    return _shift_months(opened, months)


def anonymise_at(closed_or_opened: _D, days: int = ANONYMISATION_DAYS) -> _D:
    """When the personal data of a case is anonymised."""
    return closed_or_opened + timedelta(days=days)


# --- timers ------------------------------------------------------------------------------------


class ReferralAction(StrEnum):
    """What the referral workflow must do next."""

    REMIND = "remind"
    ESCALATE = "escalate"
    EXPIRE = "expire"
    NONE = "none"


class NextAction(NamedTuple):
    """The next action and when to apply it (`at` may be in the past: apply it now)."""

    action: ReferralAction
    at: datetime | None


def next_referral_action(
    state: ReferralState,
    now: datetime,
    opened_at: datetime | None,
    acked: bool,
    last_reminder_at: datetime | None,
    sla_deadline: datetime | None,
    escalated: bool,
    *,
    every_days: int = REMINDER_EVERY_DAYS,
    expiry_days: int = EXPIRY_DAYS,
) -> NextAction:
    """The earliest due timer of an open referral, so the workflow sleeps until `at` then applies it.

    Expiry wins over everything at the same instant, escalation over a reminder; an unacknowledged
    referral is escalated once at `sla_deadline`; reminders run every `every_days` after the later of
    opening and the last reminder, so a late worker sends one catch-up reminder, not a burst.
    Call again after applying the action (or when a signal arrives) to get the next one.
    """
    _require_aware(now=now, opened_at=opened_at, last_reminder_at=last_reminder_at, sla_deadline=sla_deadline)
    if ReferralState(state) is not ReferralState.OPEN:
        return NextAction(ReferralAction.NONE, None)
    if opened_at is None:
        raise ValueError("an open referral needs opened_at")
    expiry = expires_at(opened_at, expiry_days)
    if now >= expiry:
        return NextAction(ReferralAction.EXPIRE, expiry)
    # (instant, priority) so that ties resolve expire < escalate < remind
    candidates: list[tuple[datetime, int, ReferralAction]] = [(expiry, 0, ReferralAction.EXPIRE)]
    if not acked and not escalated and sla_deadline is not None:
        candidates.append((sla_deadline, 1, ReferralAction.ESCALATE))
    base = opened_at if last_reminder_at is None else max(opened_at, last_reminder_at)
    reminder = base + timedelta(days=every_days)
    if reminder < expiry:
        candidates.append((reminder, 2, ReferralAction.REMIND))
    at, _, action = min(candidates, key=lambda c: (c[0], c[1]))
    return NextAction(action, at)


# --- case closure ------------------------------------------------------------------------------


class CaseOutcome(StrEnum):
    """How a family's case ended."""

    RESOLVED = "resolved"
    PARTIALLY_RESOLVED = "partially_resolved"
    NOT_RESOLVED = "not_resolved"
    FAMILY_UNREACHABLE = "family_unreachable"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        """French label."""
        return _OUTCOME_LABELS[self]


_OUTCOME_LABELS = {
    CaseOutcome.RESOLVED: "Besoin résolu",
    CaseOutcome.PARTIALLY_RESOLVED: "Besoin partiellement résolu",
    CaseOutcome.NOT_RESOLVED: "Besoin non résolu",
    CaseOutcome.FAMILY_UNREACHABLE: "Famille injoignable",
    CaseOutcome.WITHDRAWN: "Demande retirée par la famille",
}


@dataclass(frozen=True)
class CloseCase:
    """An agent's request to close a case; `force` cancels referrals still awaiting an answer."""

    outcome: CaseOutcome
    comment: str = ""
    force: bool = False


def active_referrals(referrals: Mapping[str, ReferralState]) -> tuple[str, ...]:
    """Refs of referrals still pending or open, sorted."""
    return tuple(sorted(ref for ref, state in referrals.items() if ReferralState(state).is_active))


def validate_close_case(request: CloseCase, referrals: Mapping[str, ReferralState]) -> list[str]:
    """French error messages (empty list = the case can be closed).

    A case with referrals still awaiting an answer closes only when forced, and a forced closure
    must say why; those referrals are then cancelled (see `active_referrals`).
    """
    errors: list[str] = []
    active = active_referrals(referrals)
    if active and not request.force:
        errors.append(
            f"Impossible de clôturer : {len(active)} orientation(s) en attente de réponse "
            f"({', '.join(active)}). Annulez-les ou forcez la clôture."
        )
    if request.force and active and not request.comment.strip():
        errors.append("Une clôture forcée doit être motivée par un commentaire.")
    if len(request.comment) > COMMENT_MAX_LENGTH:
        errors.append(f"Le commentaire ne doit pas dépasser {COMMENT_MAX_LENGTH} caractères.")
    return errors


# --- secure links ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkClaims:
    """What a partner's secure answer link asserts; signing and verifying happen in an adapter."""

    referral_ref: str
    partner_ref: str
    expires_at: datetime

    def __post_init__(self) -> None:
        _require_aware(expires_at=self.expires_at)
        if not self.referral_ref or not self.partner_ref:
            raise ValueError("referral_ref and partner_ref are required")

    @classmethod
    def issue(cls, referral_ref: str, partner_ref: str, issued: datetime, days: int = LINK_VALIDITY_DAYS) -> LinkClaims:
        """Claims for a link issued at `issued`, valid `days` days."""
        return cls(referral_ref, partner_ref, link_expiry(issued, days))

    def is_valid_at(self, now: datetime) -> bool:
        """True strictly before expiry."""
        _require_aware(now=now)
        return now < self.expires_at

    def as_payload(self) -> dict[str, str]:
        """JSON-safe dict for the signer."""
        return {
            "referral_ref": self.referral_ref,
            "partner_ref": self.partner_ref,
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, str]) -> LinkClaims:
        """Inverse of `as_payload` (after the signature was checked)."""
        return cls(payload["referral_ref"], payload["partner_ref"], datetime.fromisoformat(payload["expires_at"]))


# --- cases: needs, contact, consent, references ------------------------------------------------

FOLLOW_UP_DAYS = 15
"""Days after an acceptance before the relay checks with the family that help was received."""
FAMILY_LINK_VALIDITY_DAYS = 90
CASE_PREFIX = "RIF"
MAX_REFERRALS_PER_CASE = 40


class NeedCategory(StrEnum):
    """Categories of need a family can be referred for (also the directory's service categories)."""

    CHILDCARE = "childcare"
    HOUSING = "housing"
    HEALTH = "health"
    FINANCIAL_AID = "financial_aid"
    LEGAL = "legal"
    DISABILITY = "disability"
    SCHOOL = "school"
    LEISURE = "leisure"
    PARENTING = "parenting"
    EMPLOYMENT = "employment"

    @property
    def label(self) -> str:
        """French label."""
        return _NEED_LABELS[self]


_NEED_LABELS = {
    NeedCategory.CHILDCARE: "Garde d'enfants",
    NeedCategory.HOUSING: "Logement",
    NeedCategory.HEALTH: "Santé",
    NeedCategory.FINANCIAL_AID: "Aides financières",
    NeedCategory.LEGAL: "Accès au droit",
    NeedCategory.DISABILITY: "Handicap",
    NeedCategory.SCHOOL: "Scolarité",
    NeedCategory.LEISURE: "Loisirs et vacances",
    NeedCategory.PARENTING: "Soutien à la parentalité",
    NeedCategory.EMPLOYMENT: "Emploi et formation",
}


class ContactChannel(StrEnum):
    """How the family prefers to be contacted by the relay."""

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    NONE = "none"

    @property
    def label(self) -> str:
        """French label."""
        return _CHANNEL_LABELS[self]


_CHANNEL_LABELS = {
    ContactChannel.EMAIL: "Courriel",
    ContactChannel.SMS: "SMS",
    ContactChannel.PHONE: "Téléphone",
    ContactChannel.NONE: "Ne pas contacter",
}


class ConsentScope(StrEnum):
    """What the family agreed to, recorded with the date of consent."""

    SHARE_WITH_PARTNERS = "share_with_partners"  # required to refer at all
    SHARE_CONTACT = "share_contact"  # partners see the family's e-mail and phone
    FOLLOW_UP = "follow_up"  # the relay contacts the family after an acceptance
    STATUS_LINK = "status_link"  # the family receives a link to follow its referrals


class CaseStatus(StrEnum):
    """Where a case stands as a whole."""

    OPEN = "open"
    CLOSED = "closed"
    ANONYMISED = "anonymised"


class CaseBusinessStatus(StrEnum):
    """The operator-facing status of a case (the BusinessStatus search attribute)."""

    OPEN = "open"
    AWAITING_PARTNER = "awaiting_partner"
    SLA_BREACHED = "sla_breached"
    CLOSED = "closed"
    ANONYMISED = "anonymised"


def case_business_status(status: CaseStatus, referrals: Mapping[str, tuple[ReferralState, bool]]) -> CaseBusinessStatus:
    """Operator status of a case from its status and each referral's (state, escalated)."""
    if status is not CaseStatus.OPEN:
        return CaseBusinessStatus(status.value)
    active = [escalated for state, escalated in referrals.values() if ReferralState(state).is_active]
    if any(active):
        return CaseBusinessStatus.SLA_BREACHED
    return CaseBusinessStatus.AWAITING_PARTNER if active else CaseBusinessStatus.OPEN


def validate_consent(scope: set[ConsentScope], channel: ContactChannel, has_email: bool, has_phone: bool) -> list[str]:
    """French error messages for a case's consent and contact channel (empty list = valid)."""
    errors: list[str] = []
    if ConsentScope.SHARE_WITH_PARTNERS not in scope:
        errors.append("Sans l'accord de la famille pour partager sa demande, aucune orientation possible.")
    if channel is ContactChannel.EMAIL and not has_email:
        errors.append("Le courriel est requis pour un contact par courriel.")
    if channel in (ContactChannel.SMS, ContactChannel.PHONE) and not has_phone:
        errors.append("Le numéro de téléphone est requis pour un contact par SMS ou téléphone.")
    if ConsentScope.STATUS_LINK in scope and channel not in (ContactChannel.EMAIL, ContactChannel.SMS):
        errors.append("Le lien de suivi s'envoie par courriel ou SMS : choisissez l'un de ces canaux.")
    return errors


def format_case_ref(year: int, seq: int) -> str:
    """`RIF-2026-000042`: opaque, safe in workflow ids."""
    if not 1000 <= year <= 9999 or not 1 <= seq <= 999_999:
        raise ValueError(f"case reference out of range: {year}/{seq}")
    return f"{CASE_PREFIX}-{year:04d}-{seq:06d}"


def format_referral_ref(case_ref: str, seq: int) -> str:
    """`RIF-2026-000042-03`: the third referral of the case."""
    if not 1 <= seq <= 99:
        raise ValueError(f"referral sequence out of range: {seq}")
    return f"{case_ref}-{seq:02d}"


def attachment_prefix(case_ref: str) -> str:
    """S3 prefix of a case's attachments: everything under it goes at deletion and anonymisation."""
    return f"referrals/{case_ref}/"
