"""Payment plans (échéanciers): who may ask, the schedule of instalments, misses and default, French messages.

How a plan reads the invoice: the plan's total is what remained to pay on the invoice when the plan was approved;
what the family has *covered* since is that total less what remains now. Payments of any kind (SEPA, card,
counter) and credit notes alike cover the plan, oldest instalment first: instalments are cumulative, so a family
that catches up a missed instalment is back on track.

A contest on an invoice already in a plan (rule chosen here): the plan goes on, on the uncontested rest. While
a contest is open, the amount it holds back leaves the *end* of the schedule (the last instalments shrink, the
next one is asked in full as long as the uncontested rest allows); an accepted amount becomes a credit note,
which covers the plan like a payment; a refused amount comes back at the end of the schedule. If everything
outside an open contest is covered when the last instalment falls, the plan is completed and the contest alone
governs what it holds back (its workflow resumes the ladder after its decision).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from domain.calendar import add_business_days, add_months, format_date_fr, next_business_day_on_or_after
from domain.money import Cents, allocate, format_eur

MIN_INSTALMENTS, MAX_INSTALMENTS = 2, 6  # monthly instalments: the longest plan lasts six months
MIN_INSTALMENT_CENTS = 15_00  # below 15 € an instalment costs more to collect than it helps
NOTICE_DAYS_BEFORE = 7  # the family is told of each instalment a week before it falls due
CHECK_BUSINESS_DAYS = 5  # an instalment unpaid this many business days after its due date is missed
CATCH_UP_BUSINESS_DAYS = 10  # a missed last instalment: the reminder leaves this long to pay before the default
TEXT_MIN, TEXT_MAX = 10, 2000  # the family's reason and the operator's written answer alike


class PlanStatus(StrEnum):
    """Where a plan stands (also the workflow's business status for the console)."""

    REQUESTED = "requested"  # asked by the family, awaiting the billing team's decision
    APPROVED = "approved"  # running: the family keeps it
    REFUSED = "refused"
    COMPLETED = "completed"  # every instalment paid, or the whole rest paid early
    DEFAULTED = "defaulted"  # second missed instalment: the rest returns to the dunning ladder


# While a plan is asked for or kept, no reminder and no transfer to the Trésor Public concerns its invoice.
# what the billing team's decision form is told when the workflow refuses it
UNKNOWN_KIND = "Décision inconnue : accorder, ajuster le nombre d'échéances ou refuser."
ALREADY_DECIDED = "Cette demande d'échéancier a déjà reçu une décision."
NOT_PAYABLE = "Cette facture n'est plus à payer en ligne : échéancier impossible."
DECISION_IMPOSSIBLE = "Décision impossible."
# Silence is consent (Code des relations entre le public et l'administration, art. L231-1): a request the billing
# team leaves unanswered does not hold the invoice for ever; at the service deadline it is granted as asked.
DECISION_BUSINESS_DAYS = 15
SILENCE_ANSWER = (
    "Sans réponse du service facturation dans le délai de 15 jours ouvrés, votre demande est accordée telle que "
    "vous l'avez faite."
)
HOLDING_STATUSES = frozenset({PlanStatus.REQUESTED, PlanStatus.APPROVED})

STATUS_LABEL: Mapping[PlanStatus, str] = {
    PlanStatus.REQUESTED: "Demande en cours d'examen",
    PlanStatus.APPROVED: "En cours",
    PlanStatus.REFUSED: "Refusé",
    PlanStatus.COMPLETED: "Soldé",
    PlanStatus.DEFAULTED: "Interrompu (échéances non payées)",
}


class InstalmentStatus(StrEnum):
    """Where one instalment stands."""

    UPCOMING = "upcoming"
    PAID = "paid"
    MISSED = "missed"  # unpaid past its due date: one reminder was sent
    CANCELLED = "cancelled"  # the plan ended before it (default or early payment)


INSTALMENT_LABEL: Mapping[InstalmentStatus, str] = {
    InstalmentStatus.UPCOMING: "À venir",
    InstalmentStatus.PAID: "Payée",
    InstalmentStatus.MISSED: "Impayée",
    InstalmentStatus.CANCELLED: "Sans objet",
}


class DecisionKind(StrEnum):
    """What the billing operator decides on a request."""

    APPROVE = "approve"  # the number of instalments the family asked for
    ADJUST = "adjust"  # another number of instalments
    REFUSE = "refuse"


class PlanRefused(ValueError):
    """A request or a decision that breaks a rule; the French message names what to fix, `field` which input."""

    def __init__(self, field: str, message_fr: str) -> None:
        super().__init__(message_fr)
        self.field = field
        self.message_fr = message_fr


@dataclass(frozen=True)
class Instalment:
    """One instalment: its rank (1-based), the day it falls due and its amount."""

    seq: int
    due_on: date
    amount_cents: Cents

    @property
    def notice_on(self) -> date:
        """The day the family is told of it (a week before)."""
        return self.due_on - timedelta(days=NOTICE_DAYS_BEFORE)

    @property
    def check_on(self) -> date:
        """The day an unpaid instalment becomes a miss."""
        return add_business_days(self.due_on, CHECK_BUSINESS_DAYS)


def max_instalments(total_cents: Cents) -> int:
    """The most instalments a total allows (each at least 15 €, six at most); below 2 no plan is possible."""
    return min(MAX_INSTALMENTS, total_cents // MIN_INSTALMENT_CENTS)


def check_text(field: str, text: str, what: str) -> str:
    """The text stripped, or PlanRefused when it is shorter than 10 or longer than 2000 characters."""
    stripped = text.strip()
    if not TEXT_MIN <= len(stripped) <= TEXT_MAX:
        raise PlanRefused(field, f"{what} : entre {TEXT_MIN} et {TEXT_MAX} caractères.")
    return stripped


def check_count(total_cents: Cents, count: int, field: str = "count") -> int:
    """The number of instalments, or PlanRefused naming `field` when outside 2..6 or under 15 € each."""
    if not MIN_INSTALMENTS <= count <= MAX_INSTALMENTS:
        raise PlanRefused(field, f"Nombre d'échéances : entre {MIN_INSTALMENTS} et {MAX_INSTALMENTS}.")
    most = max_instalments(total_cents)
    if count > most:
        raise PlanRefused(
            field,
            f"Chaque échéance doit être d'au moins {format_eur(MIN_INSTALMENT_CENTS)} : "
            f"{most} échéances au plus pour {format_eur(total_cents)}.",
        )
    return count


def check_request(
    *, payable: bool, remaining_cents: Cents, plan_in_progress: bool, defaulted_before: bool, count: int, reason: str
) -> tuple[int, str]:
    """Who may ask: an invoice still payable online (not transferred), with enough left to split, not already in a
    plan nor after a plan it defaulted; (count, reason) checked, else PlanRefused naming the field at fault."""
    if not payable or remaining_cents <= 0:
        raise PlanRefused(
            "invoice", "Cette facture ne peut pas faire l'objet d'un échéancier (réglée ou transmise au Trésor Public)."
        )
    if plan_in_progress:
        raise PlanRefused("invoice", "Un échéancier est déjà demandé ou en cours pour cette facture.")
    if defaulted_before:
        raise PlanRefused(
            "invoice", "Un échéancier de cette facture a déjà été interrompu : contactez le service facturation."
        )
    if max_instalments(remaining_cents) < MIN_INSTALMENTS:
        raise PlanRefused(
            "invoice",
            f"Un échéancier demande au moins {format_eur(MIN_INSTALMENTS * MIN_INSTALMENT_CENTS)} restant à payer.",
        )
    return check_count(remaining_cents, count), check_text("reason", reason, "Motif de la demande")


def schedule(total_cents: Cents, count: int, approved_on: date) -> list[Instalment]:
    """Monthly instalments from the approval (moved to the next business day), amounts summing exactly to the
    total; the odd cents go to the first instalments."""
    check_count(total_cents, count)
    amounts = allocate(total_cents, [1] * count)
    return [
        Instalment(k, next_business_day_on_or_after(add_months(approved_on, k)), amounts[k - 1])
        for k in range(1, count + 1)
    ]


def plan_total(instalments: Sequence[Instalment]) -> Cents:
    """What the plan spreads."""
    return sum(i.amount_cents for i in instalments)


def covered(total_cents: Cents, remaining_cents: Cents) -> Cents:
    """What payments and credit notes have covered since the approval (never negative, never above the total)."""
    return min(total_cents, max(0, total_cents - remaining_cents))


def due_through(instalments: Sequence[Instalment], seq: int, held_cents: Cents = 0) -> Cents:
    """What must be covered once instalment `seq` falls due: the instalments up to it, capped at the uncontested
    part of the plan (an open contest's amount leaves the end of the schedule)."""
    scheduled = sum(i.amount_cents for i in instalments if i.seq <= seq)
    return max(0, min(scheduled, plan_total(instalments) - max(0, held_cents)))


def missing(instalments: Sequence[Instalment], seq: int, covered_cents: Cents, held_cents: Cents = 0) -> Cents:
    """What is still to pay for instalment `seq` (and any earlier one not caught up): what a SEPA debit takes."""
    return max(0, due_through(instalments, seq, held_cents) - covered_cents)


def statuses(
    instalments: Sequence[Instalment], checked: int, covered_cents: Cents, held_cents: Cents = 0
) -> list[InstalmentStatus]:
    """Each instalment's status once instalments 1..`checked` were checked: paid when covered (cumulatively),
    missed when checked and not covered, upcoming otherwise."""
    out = []
    for i in instalments:
        if covered_cents >= due_through(instalments, i.seq, held_cents):
            out.append(InstalmentStatus.PAID)
        elif i.seq <= checked:
            out.append(InstalmentStatus.MISSED)
        else:
            out.append(InstalmentStatus.UPCOMING)
    return out


def ended(current: Sequence[InstalmentStatus]) -> list[InstalmentStatus]:
    """The statuses once the plan ended: instalments not yet due are no longer asked for."""
    return [InstalmentStatus.CANCELLED if s is InstalmentStatus.UPCOMING else s for s in current]


def defaults(misses: int) -> bool:
    """One reminder per missed instalment; the second miss ends the plan."""
    return misses >= 2


def catch_up_deadline(check_on: date) -> date:
    """A missed last instalment may still be paid until this day; unpaid then, it counts as the second miss."""
    return add_business_days(check_on, CATCH_UP_BUSINESS_DAYS)


def paid_early(remaining_cents: Cents) -> bool:
    """The whole rest paid (or credited) at any time ends the plan as completed."""
    return remaining_cents <= 0


@dataclass(frozen=True)
class Decision:
    """A checked decision: the number of instalments (0 when refused) and the written answer."""

    kind: DecisionKind
    count: int
    answer: str

    @property
    def status(self) -> PlanStatus:
        """The plan's status after this decision."""
        return PlanStatus.REFUSED if self.kind is DecisionKind.REFUSE else PlanStatus.APPROVED


def decision_deadline(requested_on: date) -> date:
    """The day a request left without an answer is granted as asked (the service deadline, French holidays)."""
    return add_business_days(requested_on, DECISION_BUSINESS_DAYS)


def silent_decision(asked_count: int, approval_failed: bool) -> Decision:
    """The decision the deadline takes for the billing team: the request as asked; or, when the invoice can no
    longer take a plan (paid or transferred meanwhile), a refusal saying so."""
    if approval_failed:
        return Decision(DecisionKind.REFUSE, 0, NOT_PAYABLE)
    return Decision(DecisionKind.APPROVE, asked_count, SILENCE_ANSWER)


def check_decision(asked_count: int, kind: DecisionKind, count: int | None, answer: str) -> Decision:
    """Validate an operator's decision (the amount is checked at approval, against what remains then)."""
    text = check_text("answer", answer, "Réponse écrite à la famille")
    if kind is DecisionKind.REFUSE:
        return Decision(kind, 0, text)
    if kind is DecisionKind.APPROVE:
        return Decision(kind, asked_count, text)
    if count is None:
        raise PlanRefused("count", "Ajustement : indiquez le nombre d'échéances.")
    if not MIN_INSTALMENTS <= count <= MAX_INSTALMENTS:
        raise PlanRefused("count", f"Nombre d'échéances : entre {MIN_INSTALMENTS} et {MAX_INSTALMENTS}.")
    return Decision(DecisionKind.APPROVE if count == asked_count else kind, count, text)


# --- messages to the family (French; the notifier respects the family's contact hours) -------------


def _lines(instalments: Sequence[Instalment]) -> str:
    return "\n".join(
        f"- échéance {i.seq} : {format_eur(i.amount_cents)} le {format_date_fr(i.due_on)}" for i in instalments
    )


def requested_message(number: str, count: int) -> tuple[str, str]:
    """(subject, body) acknowledging the family's request."""
    return (
        f"Demande d'échéancier reçue pour la facture {number}",
        f"Nous avons bien reçu votre demande de paiement en {count} échéances de la facture {number}.\n"
        "Le service facturation vous répondra prochainement. D'ici là, aucune relance ni transmission au "
        "Trésor Public ne concerne cette facture.",
    )


def approved_message(number: str, instalments: Sequence[Instalment]) -> tuple[str, str]:
    """(subject, body) telling the family its plan is granted, with the schedule."""
    return (
        f"Échéancier accordé pour la facture {number}",
        f"Votre échéancier pour la facture {number} est accordé en {len(instalments)} échéances mensuelles :\n"
        f"{_lines(instalments)}\n"
        "Tant que les échéances sont payées, la facture n'est ni relancée ni transmise au Trésor Public. "
        "Vous pouvez payer le reste à tout moment. La réponse détaillée est sur la page de la facture.",
    )


def refused_message(number: str) -> tuple[str, str]:
    """(subject, body) telling the family its request is refused (the written answer is on the invoice page)."""
    return (
        f"Demande d'échéancier pour la facture {number}",
        f"Votre demande d'échéancier pour la facture {number} n'a pas été accordée. "
        "La facture reste à payer et suit de nouveau les relances habituelles. "
        "La réponse détaillée du service facturation est sur la page de la facture.",
    )


def notice_message(number: str, instalment: Instalment, amount: Cents, by_debit: bool) -> tuple[str, str]:
    """(subject, body) announcing an instalment a week ahead: debited, or to pay by card on the invoice page."""
    how = (
        f"Ce montant sera prélevé sur votre compte le {format_date_fr(instalment.due_on)}."
        if by_debit
        else f"Merci de le régler par carte bancaire sur la page de la facture avant le "
        f"{format_date_fr(instalment.due_on)}."
    )
    return (
        f"Échéance {instalment.seq} de votre échéancier (facture {number})",
        f"L'échéance {instalment.seq} de votre échéancier pour la facture {number} s'élève à {format_eur(amount)}.\n"
        f"{how}",
    )


def missed_message(number: str, instalment: Instalment, amount: Cents) -> tuple[str, str]:
    """(subject, body): the one reminder of a missed instalment, and what a second miss does."""
    return (
        f"Échéance {instalment.seq} impayée (facture {number})",
        f"L'échéance {instalment.seq} de votre échéancier pour la facture {number} n'a pas été payée : "
        f"{format_eur(amount)} restent à régler par carte bancaire sur la page de la facture.\n"
        "Attention : une deuxième échéance impayée met fin à l'échéancier, et la facture reprend alors les "
        "relances habituelles jusqu'à sa transmission au Trésor Public.",
    )


def completed_message(number: str) -> tuple[str, str]:
    """(subject, body): the plan is paid off."""
    return (
        f"Échéancier soldé (facture {number})",
        f"Votre échéancier pour la facture {number} est soldé. Merci.",
    )


def defaulted_message(number: str, remaining_cents: Cents) -> tuple[str, str]:
    """(subject, body): the plan ends after a second miss; the rest returns to the dunning ladder."""
    return (
        f"Fin de votre échéancier (facture {number})",
        f"Deux échéances de votre échéancier pour la facture {number} n'ont pas été payées : l'échéancier "
        f"prend fin. Le reste, {format_eur(remaining_cents)}, suit de nouveau les relances habituelles puis "
        "sera transmis au Trésor Public s'il n'est pas payé.",
    )


def operator_request_message(plan_ref: str, count: int) -> tuple[str, str]:
    """(subject, body) telling the billing team a request awaits its decision."""
    return (
        f"Demande d'échéancier {plan_ref} à examiner",
        f"Une famille demande un paiement en {count} échéances ({plan_ref}). "
        "La facture n'est ni relancée ni transmise au Trésor Public tant que la demande attend une décision.",
    )


def next_due(
    instalments: Sequence[Instalment], covered_cents: Cents, held_cents: Cents = 0
) -> tuple[Instalment, Cents] | None:
    """The first instalment not yet covered and what it still asks for (the card form's amount), or None."""
    for i in instalments:
        amount = missing(instalments, i.seq, covered_cents, held_cents)
        if amount > 0:
            return i, amount
    return None
