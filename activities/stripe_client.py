"""The Stripe client: live Stripe, or localstripe when an API base is configured (same code)."""

from __future__ import annotations

import stripe

from ville.settings import Settings


def make_stripe_client(settings: Settings) -> stripe.StripeClient:
    """A StripeClient with bounded network retries; base URL overridden only for the emulator."""
    base = settings.stripe_api_base
    return stripe.StripeClient(
        settings.stripe_api_key.get_secret_value(),
        base_addresses={"api": base} if base else {},
        max_network_retries=2,
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
    )


def metadata_value(obj: object, key: str) -> str | None:
    """A metadata entry of a Stripe object (stripe-python objects are not dicts)."""
    metadata = getattr(obj, "metadata", None)
    if metadata is None or key not in metadata:
        return None
    return str(metadata[key])
