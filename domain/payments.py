"""Payment rules: how a payment settles an invoice, overpayment tolerance, refunds, CESU share."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from domain.dunning import InvoiceStatus, status_after_payment
from domain.money import Cents, format_eur

DEFAULT_OVERPAYMENT_TOLERANCE_CENTS = 50_000
# Childcare activities payable by CESU (préfinancé); school meals and studies are not.
CESU_ELIGIBLE_ACTIVITIES = frozenset({"creche", "centre_loisirs", "gouter"})
# Stripe events that announce a PaymentIntent's outcome; `payment_intent.processing` only says it is under way
# (a SEPA debit stays there for days) and calls for no action.
OUTCOME_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"})


class PaymentMethod(StrEnum):
    """How a family paid."""

    CARD = "card"
    SEPA_DEBIT = "sepa_debit"
    CESU = "cesu"
    CHEQUE = "cheque"
    CASH_COUNTER = "cash_counter"
    CREDIT_NOTE = "credit_note"


class PaymentRefused(Exception):
    """A payment rule forbids the operation; ``message_fr`` can be shown to the user as is."""

    def __init__(self, message_fr: str) -> None:
        super().__init__(message_fr)
        self.message_fr = message_fr


class OverpaymentRefused(PaymentRefused):
    """The payment exceeds the amount outstanding by more than the tolerance."""


class RefundRefused(PaymentRefused):
    """The refund exceeds what was paid and not yet refunded."""


class CesuRefused(PaymentRefused):
    """The CESU payment exceeds the CESU-eligible share of the invoice."""


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """How a payment splits: ``applied + overpayment_credit == payment``."""

    applied_cents: Cents
    overpayment_credit_cents: Cents
    new_status: InvoiceStatus


def apply_payment(
    amount_due_cents: Cents,
    already_paid_cents: Cents,
    payment_cents: Cents,
    tolerance_cents: Cents = DEFAULT_OVERPAYMENT_TOLERANCE_CENTS,
) -> PaymentOutcome:
    """Settle a payment on an invoice; an excess up to the tolerance (500 €) becomes the family's credit."""
    if payment_cents <= 0:
        raise ValueError("payment must be positive")
    if amount_due_cents < 0 or already_paid_cents < 0 or tolerance_cents < 0:
        raise ValueError("amounts must be non-negative")
    outstanding = max(0, amount_due_cents - already_paid_cents)
    applied = min(payment_cents, outstanding)
    excess = payment_cents - applied
    if excess > tolerance_cents:
        raise OverpaymentRefused(
            f"Le paiement de {format_eur(payment_cents)} dépasse le reste à payer "
            f"({format_eur(outstanding)}) de {format_eur(excess)} : un trop-perçu de plus de "
            f"{format_eur(tolerance_cents)} n'est pas accepté."
        )
    return PaymentOutcome(
        applied_cents=applied,
        overpayment_credit_cents=excess,
        new_status=status_after_payment(amount_due_cents, already_paid_cents + applied),
    )


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    """Refund accepted: total refunded so far and what may still be refunded."""

    refunded_total_cents: Cents
    refundable_left_cents: Cents


def apply_refund(paid_cents: Cents, already_refunded_cents: Cents, refund_cents: Cents) -> RefundOutcome:
    """Accept a refund only within what was paid and not yet refunded."""
    if refund_cents <= 0:
        raise ValueError("refund must be positive")
    if paid_cents < 0 or not 0 <= already_refunded_cents <= paid_cents:
        raise ValueError("inconsistent paid / refunded amounts")
    refundable = paid_cents - already_refunded_cents
    if refund_cents > refundable:
        raise RefundRefused(
            f"Remboursement de {format_eur(refund_cents)} impossible : "
            f"{format_eur(refundable)} au plus peuvent être remboursés."
        )
    return RefundOutcome(already_refunded_cents + refund_cents, refundable - refund_cents)


class BilledLine(Protocol):
    """Anything with an activity code and an amount (an InvoiceLine, a DB row)."""

    @property
    def activity_code(self) -> str: ...

    @property
    def amount_cents(self) -> Cents: ...


def cesu_eligible_cents(lines: Iterable[BilledLine], allowed: Collection[str] = CESU_ELIGIBLE_ACTIVITIES) -> Cents:
    """Share of an invoice payable by CESU: the lines (surcharges included) of allowed activities."""
    return sum(line.amount_cents for line in lines if line.activity_code in allowed)


def check_cesu_payment(eligible_cents: Cents, cesu_already_paid_cents: Cents, payment_cents: Cents) -> None:
    """Raise CesuRefused if CESU payments would exceed the eligible share."""
    left = max(0, eligible_cents - cesu_already_paid_cents)
    if payment_cents > left:
        raise CesuRefused(
            f"Paiement CESU de {format_eur(payment_cents)} refusé : seules les prestations de garde "
            f"sont payables en CESU, soit {format_eur(left)} restant sur cette facture."
        )
