"""The Stripe calls of our payments outside a workflow: customers, saved payment methods, refunds."""

from __future__ import annotations

from typing import Any, Literal

import stripe

from domain.payments import PaymentMethod
from services.payments import MoneyOutcome, PaymentStore
from services.stripe_client import metadata_value
from ville.models.billing import FamilyAccount


class StripePayments:
    """Stripe plus our payment tables: shared by the API (SetupIntents, refunds) and PaymentActivities."""

    def __init__(self, stripe_client: stripe.StripeClient, store: PaymentStore) -> None:
        self.stripe = stripe_client
        self.store = store

    def ensure_customer(self, account_id: int) -> str:
        """The account's Stripe customer, created once (keyed by the account reference)."""
        with self.store.sessions() as s, s.begin():
            account = s.get_one(FamilyAccount, account_id, with_for_update=True)
            if account.stripe_customer_id:
                return account.stripe_customer_id
            customer = self.stripe.v1.customers.create(
                params={"description": account.ref, "metadata": {"account_ref": account.ref}},
                options={"idempotency_key": f"customer-{account.ref}"},
            )
            account.stripe_customer_id = customer.id
            return str(customer.id)

    def setup_intent_secret(self, account_id: int, kind: Literal["card", "sepa_debit"]) -> str:
        """A SetupIntent's client secret, for Stripe.js to save a card or a SEPA mandate off-session."""
        customer = self.ensure_customer(account_id)
        intent = self.stripe.v1.setup_intents.create(
            params={"customer": customer, "payment_method_types": [kind], "usage": "off_session"}
        )
        return str(intent.client_secret)

    def setup_intent(self, setup_intent_id: str) -> Any:
        """A SetupIntent as Stripe has it (raises `stripe.InvalidRequestError` for an unknown id)."""
        return self.stripe.v1.setup_intents.retrieve(setup_intent_id)

    def payment_method(self, payment_method_id: str) -> Any:
        """A saved payment method as Stripe has it."""
        return self.stripe.v1.payment_methods.retrieve(payment_method_id)

    def refund(self, payment_id: int, amount_cents: int, refund_key: str) -> MoneyOutcome:
        """Refund a payment once per key: recorded under the money lock first, then through Stripe for card/SEPA.

        Recording first means two concurrent refunds can never both pass the bound and both reach Stripe; a
        Stripe call that fails is completed by the same request sent again (same key, same content).
        """
        out = self.store.record_refund(payment_id, amount_cents, refund_key)
        payment = self.store.payment(payment_id)
        pi = payment.stripe_payment_intent_id
        if payment.method in (PaymentMethod.CARD, PaymentMethod.SEPA_DEBIT) and pi:
            # localstripe ignores idempotency keys: look for our own refund before creating one
            existing = self.stripe.v1.refunds.list(params={"payment_intent": pi}).data
            if not any(metadata_value(r, "key") == refund_key for r in existing):
                self.stripe.v1.refunds.create(
                    params={"payment_intent": pi, "amount": amount_cents, "metadata": {"key": refund_key}},
                    options={"idempotency_key": refund_key},
                )
        return out
