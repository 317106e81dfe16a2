"""Contests (réclamations) of invoice lines: reasons, review deadline, decision rules, held-back amounts, messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.calendar import add_business_days, format_date_fr
from domain.money import Cents, format_eur

REVIEW_BUSINESS_DAYS = 15  # service deadline of the billing team
REMINDER_BUSINESS_DAYS_BEFORE = 3  # the operators are reminded this many business days before the deadline
RESUME_GRACE_BUSINESS_DAYS = 10  # after a decision, before a held-back invoice goes to the Trésor Public
TEXT_MIN, TEXT_MAX = 10, 2000  # the family's explanation and the operator's written answer alike


class ContestReason(StrEnum):
    """Why a family contests a line (short list shown on the invoice page)."""

    CHILD_ABSENT = "absence_enfant"
    WRONG_TARIFF = "erreur_tarif"
    UNJUSTIFIED_SURCHARGE = "majoration_injustifiee"
    NOT_ATTENDED = "activite_non_frequentee"
    OTHER = "autre"


REASON_LABEL: Mapping[ContestReason, str] = {
    ContestReason.CHILD_ABSENT: "Absence de l'enfant",
    ContestReason.WRONG_TARIFF: "Erreur de tarif ou de tranche",
    ContestReason.UNJUSTIFIED_SURCHARGE: "Surfacturation / majoration injustifiée",
    ContestReason.NOT_ATTENDED: "Activité non fréquentée",
    ContestReason.OTHER: "Autre",
}


class ContestStatus(StrEnum):
    """Where a contest stands (also the workflow's business status for the console)."""

    OPEN = "open"
    ESCALATED = "escalated"  # past the review deadline, still undecided
    ACCEPTED = "accepted"
    PARTIALLY_ACCEPTED = "partially_accepted"
    REFUSED = "refused"


OPEN_STATUSES = frozenset({ContestStatus.OPEN, ContestStatus.ESCALATED})

STATUS_LABEL: Mapping[ContestStatus, str] = {
    ContestStatus.OPEN: "En cours d'examen",
    ContestStatus.ESCALATED: "En retard d'examen",
    ContestStatus.ACCEPTED: "Acceptée",
    ContestStatus.PARTIALLY_ACCEPTED: "Acceptée en partie",
    ContestStatus.REFUSED: "Refusée",
}


class DecisionKind(StrEnum):
    """What the billing operator decides."""

    ACCEPT_FULL = "accept_full"
    ACCEPT_PARTIAL = "accept_partial"
    REFUSE = "refuse"


UNKNOWN_KIND = "Décision inconnue : accepter en totalité, accepter en partie ou refuser."
ALREADY_DECIDED = "Cette réclamation a déjà reçu une décision."
DECISION_IMPOSSIBLE = "Décision impossible."  # a credit note refused without a reason of its own


class ContestRefused(ValueError):
    """A contest or a decision that breaks a rule; the French message names what to fix."""

    def __init__(self, field: str, message_fr: str) -> None:
        super().__init__(message_fr)
        self.field = field
        self.message_fr = message_fr


def review_deadline(opened_on: date) -> date:
    """Last day of the review: 15 business days (French holidays) after the day the contest was opened."""
    return add_business_days(opened_on, REVIEW_BUSINESS_DAYS)


def reminder_date(opened_on: date) -> date:
    """The operators' reminder: a few business days before the deadline."""
    return add_business_days(review_deadline(opened_on), -REMINDER_BUSINESS_DAYS_BEFORE)


def escalation_date(opened_on: date) -> date:
    """The first business day after the deadline: an undecided contest is escalated that morning."""
    return add_business_days(review_deadline(opened_on), 1)


def resume_transfer_on(transfer_on: date, decided_on: date) -> date:
    """When an invoice held back from its transfer by a contest is transferred if still unpaid after the decision:
    its ladder's transfer day, but never before the family had 10 business days to pay what the decision left."""
    return max(transfer_on, add_business_days(decided_on, RESUME_GRACE_BUSINESS_DAYS))


def age_in_days(opened_on: date, today: date) -> int:
    """Calendar days since the contest was opened (the console's age column)."""
    return max(0, (today - opened_on).days)


def check_text(field: str, text: str, what: str) -> str:
    """The text stripped, or ContestRefused when it is shorter than 10 or longer than 2000 characters."""
    stripped = text.strip()
    if not TEXT_MIN <= len(stripped) <= TEXT_MAX:
        raise ContestRefused(field, f"{what} : entre {TEXT_MIN} et {TEXT_MAX} caractères.")
    return stripped


def contested_lines(
    invoice_lines: Mapping[str, Cents], chosen: Iterable[str], already_contested: Iterable[str]
) -> dict[str, Cents]:
    """The amounts contested per activity: every chosen line must be on the invoice and not already contested."""
    codes = list(dict.fromkeys(chosen))
    if not codes:
        raise ContestRefused("activity_codes", "Choisissez au moins une ligne de la facture.")
    unknown = [c for c in codes if c not in invoice_lines]
    if unknown:
        raise ContestRefused("activity_codes", f"Ligne inconnue sur cette facture : {', '.join(unknown)}.")
    busy = sorted(set(codes) & set(already_contested))
    if busy:
        raise ContestRefused("activity_codes", f"Une réclamation est déjà en cours pour : {', '.join(busy)}.")
    amounts = {c: invoice_lines[c] for c in codes}
    if any(a <= 0 for a in amounts.values()):
        raise ContestRefused("activity_codes", "Une ligne sans montant ne peut pas être contestée.")
    return amounts


@dataclass(frozen=True)
class Decision:
    """A checked decision: the credited amount per activity (empty when refused) and the written answer."""

    kind: DecisionKind
    credited: dict[str, Cents]
    answer: str

    @property
    def credited_cents(self) -> Cents:
        """Total credited (the credit note's amount)."""
        return sum(self.credited.values())

    @property
    def status(self) -> ContestStatus:
        """The contest's status after this decision."""
        if self.kind is DecisionKind.REFUSE:
            return ContestStatus.REFUSED
        return ContestStatus.ACCEPTED if self.kind is DecisionKind.ACCEPT_FULL else ContestStatus.PARTIALLY_ACCEPTED


def check_decision(
    contested: Mapping[str, Cents], kind: DecisionKind, partial: Mapping[str, Cents], answer: str
) -> Decision:
    """Validate an operator's decision against the contested lines; ContestRefused names the field at fault."""
    text = check_text("answer", answer, "Réponse écrite à la famille")
    if kind is DecisionKind.REFUSE:
        return Decision(kind, {}, text)
    if kind is DecisionKind.ACCEPT_FULL:
        return Decision(kind, dict(contested), text)
    foreign = sorted(set(partial) - set(contested))
    if foreign:
        raise ContestRefused("amounts_by_activity", f"Ligne non contestée : {', '.join(foreign)}.")
    for code, amount in partial.items():
        if amount < 0 or amount > contested[code]:
            raise ContestRefused(
                "amounts_by_activity",
                f"Montant accordé pour {code} : entre 0 et {format_eur(contested[code])}.",
            )
    credited = {c: a for c, a in partial.items() if a > 0}
    if not credited:
        raise ContestRefused("amounts_by_activity", "Acceptation partielle : indiquez un montant accordé.")
    if credited == dict(contested):
        return Decision(DecisionKind.ACCEPT_FULL, credited, text)
    return Decision(kind, credited, text)


def held_back(remaining_cents: Cents, open_contested_cents: Cents) -> Cents:
    """What dunning may still ask for on an invoice: its remaining amount less what open contests hold back."""
    return max(0, remaining_cents - max(0, open_contested_cents))


# --- messages ------------------------------------------------------------------------------------


def family_opened_message(number: str, amount: Cents, deadline: date) -> tuple[str, str]:
    """(subject, body) telling the family its contest is recorded."""
    return (
        f"Réclamation reçue sur la facture {number}",
        f"Nous avons bien reçu votre réclamation sur la facture {number} ({format_eur(amount)} contestés).\n"
        f"Le service facturation vous répondra au plus tard le {format_date_fr(deadline)}.\n"
        "D'ici là, aucune relance ni transmission au Trésor Public ne concerne le montant contesté ; "
        "le reste de la facture reste à payer à l'échéance.",
    )


def family_decision_message(number: str, decision: Decision) -> tuple[str, str]:
    """(subject, body) telling the family the decision (the written answer is read on the invoice page)."""
    if decision.kind is DecisionKind.REFUSE:
        head = (
            f"Votre réclamation sur la facture {number} n'a pas été retenue. "
            "Le montant contesté reste à payer et suit de nouveau les relances habituelles."
        )
    elif decision.kind is DecisionKind.ACCEPT_FULL:
        head = (
            f"Votre réclamation sur la facture {number} est acceptée : un avoir de "
            f"{format_eur(decision.credited_cents)} est déduit de la facture."
        )
    else:
        head = (
            f"Votre réclamation sur la facture {number} est acceptée en partie : un avoir de "
            f"{format_eur(decision.credited_cents)} est déduit de la facture ; le reste du montant contesté "
            "reste à payer."
        )
    # the operator's written answer stays on the family's signed-in page: a message context holds no free text
    return (
        f"Réponse à votre réclamation sur la facture {number}",
        f"{head}\nLa réponse détaillée du service facturation est consultable sur la page de la facture.",
    )


def operator_reminder_message(contest_id: str, deadline: date) -> tuple[str, str]:
    """(subject, body) reminding the billing team of a contest still undecided before its deadline."""
    return (
        f"Réclamation {contest_id} à traiter avant le {format_date_fr(deadline)}",
        f"La réclamation {contest_id} attend toujours une décision. Délai de réponse : {format_date_fr(deadline)}.",
    )


def operator_escalation_message(contest_id: str, deadline: date) -> tuple[str, str]:
    """(subject, body) escalating a contest past its deadline to the billing team."""
    return (
        f"Réclamation {contest_id} en retard",
        f"Le délai de réponse de la réclamation {contest_id} a expiré le {format_date_fr(deadline)}. "
        "Merci de la traiter en priorité.",
    )
