"""A family's RIF case: needs, contact and consent, references, business status, outcome and closure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from domain.referrals import COMMENT_MAX_LENGTH, ReferralState

CASE_PREFIX = "RIF"
MAX_REFERRALS_PER_CASE = 40


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
