"""What a family reads while paying an invoice online (the payment workflow's answers and refusals)."""

from __future__ import annotations

PAYMENT_IN_PROGRESS = "Un paiement est déjà en cours pour cette facture."
ALREADY_SETTLED = "Cette facture est déjà réglée."
AMOUNT_NOT_POSITIVE = "Le montant doit être positif."
INVALID_PAYMENT_METHOD = "Moyen de paiement invalide."
PAYMENT_IMPOSSIBLE = "Paiement impossible."
PAYMENT_PROCESSING = "Paiement en cours de traitement."
PAYMENT_ACCEPTED = "Paiement accepté. Merci."
# the operators' console shows it as the failure of a payment workflow that had nothing left to follow
UNKNOWN_INTENT = "PaymentIntent inconnu de Stripe : aucun paiement en cours, suivi arrêté."


def card_request_problem(busy: bool, settled: bool, amount_cents: int, payment_method_id: str) -> str | None:
    """Why a card payment request is refused before any call to Stripe, or None."""
    if busy:
        return PAYMENT_IN_PROGRESS
    if settled:
        return ALREADY_SETTLED
    if amount_cents <= 0:
        return AMOUNT_NOT_POSITIVE
    if not payment_method_id.startswith("pm_"):
        return INVALID_PAYMENT_METHOD
    return None
