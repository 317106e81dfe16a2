"""RIF referrals (orientations): their states and transitions, and the partner's refusal reasons."""

from __future__ import annotations

from enum import StrEnum


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
