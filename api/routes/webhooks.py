"""Stripe webhooks: signature verified, each event stored once, then signalled to its payment workflow."""

from __future__ import annotations

import asyncio
import time

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, status

from api.deps import SettingsDep, StripeEventsDep, TemporalDep
from api.ratelimit import RateLimiter
from api.stripe_webhook import WebhookRejected, verify
from contracts.billing import StripeEventSignal
from services.stripe_events import DUPLICATE, Claim
from ville.metrics import WEBHOOKS_RECEIVED
from workflows.clients import signal_stripe_event

log = structlog.get_logger(__name__)
router = APIRouter(tags=["webhooks"])
webhook_limit = RateLimiter("webhooks", rate=2000, per=1, burst=4000)
PAYMENT_INTENT_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.canceled",
}
MAX_BODY = 512 * 1024


@router.post("/webhooks/stripe", status_code=200, dependencies=[Depends(webhook_limit)])
async def stripe_webhook(
    request: Request, events: StripeEventsDep, settings: SettingsDep, temporal: TemporalDep
) -> dict[str, str]:
    """Receive a Stripe event (no user session: the signature is the authentication)."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "Événement trop volumineux")
    try:
        event = verify(
            body,
            request.headers.get("stripe-signature", ""),
            settings.stripe_webhook_secret.get_secret_value(),
            int(time.time()),
        )
    except WebhookRejected as err:
        log.warning("webhook.rejected", reason=err.reason)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, err.message_fr) from None
    WEBHOOKS_RECEIVED.labels(type=event.type).inc()
    # the invoice comes from the event's metadata, but only as a claim: the screen checks that the PaymentIntent
    # was recorded against that very invoice by us before anything is signalled
    claim = (
        Claim(event.invoice_number, event.object_id)
        if event.type in PAYMENT_INTENT_EVENTS and event.invoice_number
        else None
    )
    # one read on a pooled connection, given back before Temporal is awaited (held across that call, a burst of
    # webhooks took every pooled connection and starved the commits)
    verdict = await asyncio.to_thread(events.screen, event.id, claim)
    if verdict == DUPLICATE:
        log.info("webhook.duplicate", event_id=event.id)
        return {"status": "duplicate"}
    if verdict is not None:
        # answered 2xx: Stripe would retry a refusal for days; nothing is started, nothing blocks a payment
        log.warning("webhook.ignored", event_id=event.id, type=event.type, reason=verdict)
        return {"status": "ignored"}
    if claim is not None:
        # signal first, store after, answer last: if Temporal is unreachable (or this process dies before the
        # answer) Stripe retries and nothing is lost; a concurrent duplicate signals twice and the workflow keeps
        # one event per PaymentIntent
        await signal_stripe_event(
            temporal,
            settings.task_queue,
            claim.invoice_number,
            StripeEventSignal(event.id, event.type, event.object_id or ""),
        )
    if not await asyncio.to_thread(events.record, event.id, event.type, event.object_id):
        return {"status": "duplicate"}
    log.info("webhook.accepted", event_id=event.id, type=event.type)
    return {"status": "accepted"}
