"""Stripe webhook checks: the signature within a tolerance both ways, the body's shape, the event's invoice.

Everything here runs before anything is stored or signalled: a malformed signed body is a 400. Whether an event
names an invoice of ours and a PaymentIntent we created for it is read by `services.stripe_events` (an event
that does not is ignored, answered 2xx so that Stripe stops retrying, and never starts a payment workflow).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import stripe

TOLERANCE_S = 300  # Stripe's own default, applied to the past *and* the future (a clock skew of minutes, no more)
MAX_ID = 80  # the stored ids' column width (stripe_event.event_id / object_id)


class WebhookRejected(Exception):
    """A body that is not a verifiable, well-formed Stripe event (answered 400)."""

    def __init__(self, message_fr: str, reason: str) -> None:
        super().__init__(reason)
        self.message_fr = message_fr
        self.reason = reason  # for the log: a fixed word, never the body


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """The fields of a Stripe event we use, type-checked."""

    id: str
    type: str
    object_id: str | None
    invoice_number: str | None  # `data.object.metadata.invoice_number`, when the object carries one


def verify(body: bytes, header: str, secret: str, now: int) -> WebhookEvent:
    """The event of a body signed with `secret` at most TOLERANCE_S seconds from `now`; WebhookRejected else."""
    try:
        payload = body.decode("utf-8")
        # tolerance=None: the timestamp is checked below, in both directions (Stripe's check looks back only)
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=None)
    except (UnicodeDecodeError, stripe.SignatureVerificationError):
        raise WebhookRejected("Signature invalide", "bad_signature") from None
    if abs(now - _timestamp(header)) > TOLERANCE_S:
        raise WebhookRejected("Signature invalide", "timestamp_out_of_tolerance")
    try:
        return parse_event(json.loads(payload))
    except ValueError:  # json.JSONDecodeError is a ValueError
        raise WebhookRejected("Événement mal formé", "malformed_body") from None


def _timestamp(header: str) -> int:
    for item in header.split(","):  # the first `t=`, as stripe's own parser reads it
        key, _, value = item.partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    raise WebhookRejected("Signature invalide", "no_timestamp")  # verify_header refuses this already


def parse_event(data: object) -> WebhookEvent:
    """A Stripe event from its decoded JSON; ValueError unless it is an object with ids and `data.object`."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    event_id, event_type, inner = data.get("id"), data.get("type"), data.get("data")
    if not _short_str(event_id) or not _short_str(event_type) or not isinstance(inner, dict):
        raise ValueError("missing id, type or data")
    obj = inner.get("object")
    if not isinstance(obj, dict):
        raise ValueError("missing data.object")
    object_id = obj.get("id")
    if object_id is not None and not _short_str(object_id):
        raise ValueError("bad object id")
    metadata = obj.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError("bad metadata")
    number = (metadata or {}).get("invoice_number")
    if number is not None and not isinstance(number, str):
        raise ValueError("bad invoice number")
    return WebhookEvent(str(event_id), str(event_type), object_id, number or None)


def _short_str(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID
