"""French refusals of a referral case's updates (agents, partners, coordination see them as the API returns them)."""

from __future__ import annotations

CASE_CLOSED = "Le dossier est clôturé : plus aucune action n'est possible sur ses orientations."
CASE_ALREADY_CLOSED = "Le dossier est déjà clôturé."
REFERRAL_NOT_FOUND = "Orientation introuvable."
ONLY_OPEN_ESCALATES = "Seule une orientation en attente de réponse du partenaire peut être escaladée."
ALREADY_ESCALATED = "Cette orientation a déjà été escaladée à la coordination."
SERVICE_ALREADY_PENDING = "Une orientation vers ce service est déjà en attente de réponse."
CHOOSE_ANOTHER_PARTNER = "Choisissez un autre partenaire que celui de l'orientation d'origine."
APPOINTMENT_OR_CONTACT = "Indiquez la date du rendez-vous ou confirmez que la famille a été contactée."
APPOINTMENT_PAST = "La date du rendez-vous ne peut pas être dans le passé."
APPOINTMENT_TOO_FAR = "La date du rendez-vous doit être dans l'année qui vient."
# stand-ins for a free text kept in the database: the rules only look at its presence
RECORDED_COMMENT = "(commentaire enregistré)"
RECORDED_MESSAGE = "(message enregistré)"


def unknown_need(need: str) -> str:
    """The agent's need category is not one of ours."""
    return f"Besoin inconnu : « {need} »."


def too_many_referrals(limit: int) -> str:
    """The case already has its maximum of referrals."""
    return f"Un dossier compte au plus {limit} orientations."


def only_closed_rerefers(state_label: str) -> str:
    """A referral still active (or accepted) cannot be replaced by another."""
    return f"Seule une orientation refusée, expirée ou annulée peut être réorientée (celle-ci est {state_label})."


def already_rereferred(replaced_by_ref: str) -> str:
    """The referral was already replaced."""
    return f"Cette orientation a déjà été réorientée ({replaced_by_ref})."


def link_only_for_open(state_label: str) -> str:
    """A partner link is renewed only while the referral awaits an answer."""
    return f"Le lien ne se renouvelle que pour une orientation ouverte (celle-ci est {state_label})."


def cannot_acknowledge(state_label: str) -> str:
    """Only an open referral can be acknowledged."""
    return f"Impossible de prendre en compte une orientation {state_label}."


def unknown_refusal_reason(reason: str) -> str:
    """The partner's refusal reason is not one of ours."""
    return f"Motif de refus inconnu : « {reason} »."
