"""The Stripe client: live Stripe, or localstripe when an API base is configured (same code)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import stripe
from temporalio.exceptions import ApplicationError

from contracts.billing import STRIPE_INVALID_REQUEST, STRIPE_NOT_FOUND
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


@contextmanager
def stripe_refusals() -> Iterator[None]:
    """Turn a refusal Stripe would repeat (unknown object, invalid request, any 4xx but 429) into a final failure.

    Retrying those only blocked the invoice: a PaymentIntent Stripe does not know is retried forever.
    Network errors, 429 and 5xx stay retryable (the activities' retry policies are bounded).
    """
    try:
        yield
    except stripe.StripeError as err:
        status = err.http_status or 0
        if not isinstance(err, stripe.InvalidRequestError) and not (400 <= status < 500 and status != 429):
            raise
        kind = STRIPE_NOT_FOUND if status == 404 else STRIPE_INVALID_REQUEST
        # the message carries Stripe's error code only: its text may quote the request's values
        raise ApplicationError(
            f"Stripe refused the request ({err.code or status})", type=kind, non_retryable=True
        ) from err
