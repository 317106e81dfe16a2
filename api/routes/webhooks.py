"""Stripe webhooks: signature verified, each event stored once, then signalled to its payment workflow."""

from __future__ import annotations

import asyncio
import time

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.ratelimit import RateLimiter
from api.stripe_webhook import WebhookRejected, ignore_reason, verify
from contracts.billing import StripeEventSignal
from ville.metrics import WEBHOOKS_RECEIVED
from ville.models.billing import StripeEvent
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
    request: Request, session: SessionDep, settings: SettingsDep, temporal: TemporalDep
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
    if await asyncio.to_thread(_seen, session, event.id):
        log.info("webhook.duplicate", event_id=event.id)
        return {"status": "duplicate"}
    if event.type in PAYMENT_INTENT_EVENTS and event.invoice_number:
        reason = await asyncio.to_thread(_ignore_reason, session, event.invoice_number, event.object_id)
        if reason is not None:
            # answered 2xx: Stripe would retry a refusal for days; nothing is started, nothing blocks a payment
            log.warning("webhook.ignored", event_id=event.id, type=event.type, reason=reason)
            return {"status": "ignored"}
        # signal first, store after: if Temporal is unreachable Stripe retries and nothing is lost;
        # a concurrent duplicate signals twice and the workflow keeps one event per PaymentIntent
        await signal_stripe_event(
            temporal,
            settings.task_queue,
            event.invoice_number,
            StripeEventSignal(event.id, event.type, event.object_id or ""),
        )
    session.add(StripeEvent(event_id=event.id, type=event.type, object_id=event.object_id))
    try:
        await asyncio.to_thread(session.commit)
    except IntegrityError:
        return {"status": "duplicate"}
    log.info("webhook.accepted", event_id=event.id, type=event.type)
    return {"status": "accepted"}


def _ignore_reason(session: Session, number: str, payment_intent_id: str | None) -> str | None:
    """`ignore_reason` with the connection handed back to the pool before Temporal is awaited."""
    try:
        return ignore_reason(session, number, payment_intent_id)
    finally:
        session.rollback()


def _seen(session: Session, event_id: str) -> bool:
    """Whether the event was stored already; the connection goes back to the pool before Temporal is awaited
    (held across that call, a burst of webhooks took every pooled connection and starved the commits)."""
    try:
        return session.get(StripeEvent, event_id) is not None
    finally:
        session.rollback()
