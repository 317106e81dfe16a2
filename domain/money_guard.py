"""Rules every money change on an invoice obeys: overpayment bound, credit-note bounds, idempotency by content."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from domain.money import Cents, format_eur
from domain.payments import DEFAULT_OVERPAYMENT_TOLERANCE_CENTS, OverpaymentRefused, PaymentRefused

# An overpayment up to this amount is kept as the family's credit (booked in the ledger); more is refused.
MAX_CARRIED_CREDIT_CENTS = DEFAULT_OVERPAYMENT_TOLERANCE_CENTS
# Bounds of one amount typed at the counter or in a credit note / refund (100,000 €).
MAX_MONEY_BODY_CENTS = 10_000_000


class IdempotencyConflict(PaymentRefused):
    """An idempotency key already used for another operation (other invoice, amount or method)."""


class CreditNoteRefused(PaymentRefused):
    """A credit note names an activity absent from the invoice, or exceeds what its lines still allow."""

    def __init__(self, message_fr: str, field: str) -> None:
        super().__init__(message_fr)
        self.field = field


KEY_REUSED = (
    "Cette clé d'opération a déjà servi pour une autre opération (autre facture, montant ou moyen de paiement) : "
    "utilisez une nouvelle clé."
)


def fingerprint(*parts: object) -> str:
    """A stable digest of what an operation does (invoice, amount, method...), stored beside its key."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def check_same_operation(stored: str, presented: str) -> None:
    """Raise IdempotencyConflict when a key comes back with other content."""
    if stored != presented:
        raise IdempotencyConflict(KEY_REUSED)


def check_overpayment(amount_cents: Cents, payable_cents: Cents, cap_cents: Cents = MAX_CARRIED_CREDIT_CENTS) -> Cents:
    """The part of a payment that becomes credit; refused beyond the cap (500 €) with the French message."""
    if amount_cents <= 0:
        raise ValueError("amount must be positive")
    excess = max(0, amount_cents - max(0, payable_cents))
    if excess > cap_cents:
        raise OverpaymentRefused(
            f"Le montant dépasse le reste à payer ({format_eur(max(0, payable_cents))}) de plus de "
            f"{format_eur(cap_cents)} : refusé."
        )
    return excess


def allocation_fits(own_due_cents: Cents, paid_cents: Cents, delta_cents: Cents) -> bool:
    """Whether an invoice can take `delta` more (or give it back): 0 <= paid + delta <= own due."""
    return 0 <= paid_cents + delta_cents <= max(0, own_due_cents)


@dataclass(frozen=True, slots=True)
class LineAmount:
    """An invoice line's activity and amount (what a credit note may reverse)."""

    activity_code: str
    amount_cents: Cents


def check_credit_note(
    lines: Iterable[LineAmount], already_credited: Mapping[str, Cents], amounts_by_activity: Mapping[str, Cents]
) -> None:
    """A credit note reverses only activities billed on the invoice, each within what is not yet credited."""
    billed: dict[str, Cents] = {}
    for line in lines:
        billed[line.activity_code] = billed.get(line.activity_code, 0) + line.amount_cents
    for code, amount in sorted(amounts_by_activity.items()):
        field = f"body.amounts_by_activity.{code}"
        if code not in billed:
            raise CreditNoteRefused(f"L'activité « {code} » ne figure pas sur cette facture.", field)
        left = max(0, billed[code] - already_credited.get(code, 0))
        if amount > left:
            raise CreditNoteRefused(
                f"Avoir de {format_eur(amount)} sur « {code} » refusé : {format_eur(left)} au plus "
                "restent sur cette ligne.",
                field,
            )
