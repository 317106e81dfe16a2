"""Stripe webhook events: the read that screens one (stored already? one of our PaymentIntents?) and its record.

Two short transactions per webhook, each on a pooled connection held only for its statements: the route signals
Temporal between them, and a connection held across that call starved the pool under a burst (docs/performance.md).
SQLAlchemy Core on the engine, no ORM session: the statements are built once and their compiled form is cached;
the ORM's identity map, unit of work and instance construction cost more than the statements themselves here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Insert, bindparam, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from domain.numbering import parse_invoice_number
from ville.db import SessionFactory
from ville.models.billing import Invoice, Payment, StripeEvent
from ville.models.common import utcnow

DUPLICATE = "duplicate"  # the screen's answer for an event stored already

_SEEN = select(literal(1)).where(col(StripeEvent.event_id) == bindparam("event_id"))
# the invoice by its number, joined to the payment that recorded this PaymentIntent (every PaymentIntent we
# create is recorded against its invoice before it can be confirmed, so an outcome about any other is not ours)
_OWNED = (
    select(col(Invoice.id), col(Payment.id))
    .outerjoin(
        Payment,
        (col(Payment.invoice_id) == col(Invoice.id))
        & (col(Payment.stripe_payment_intent_id) == bindparam("payment_intent_id")),
    )
    .where(col(Invoice.number) == bindparam("number"))
)


@dataclass(frozen=True, slots=True)
class Claim:
    """What the event names: its invoice (metadata) and its PaymentIntent; None when it claims no invoice."""

    invoice_number: str
    payment_intent_id: str | None


class StripeEvents:
    """The `stripe_event` table, and the ownership check of the events that name an invoice."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.engine: Engine = sessions.engine
        # a concurrent duplicate (Stripe retries, two replicas) inserts nothing instead of raising; RETURNING says
        # which happened (psycopg's rowcount is -1 for a skipped ON CONFLICT row, so it cannot)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        self._insert: Insert = (
            dialect.insert(StripeEvent)
            .on_conflict_do_nothing(index_elements=[col(StripeEvent.event_id)])
            .returning(col(StripeEvent.event_id))
        )

    def screen(self, event_id: str, claim: Claim | None) -> str | None:
        """`DUPLICATE`, why the event must start nothing (an ignore reason), or None: signal it, then record it.

        One read transaction; the connection is back in the pool when this returns.
        """
        if claim is not None:
            early = _claim_shape(claim)
            if early is not None:
                return early
        with self.engine.connect() as conn:
            if conn.execute(_SEEN, {"event_id": event_id}).first() is not None:
                return DUPLICATE
            if claim is None:
                return None
            row = conn.execute(
                _OWNED, {"number": claim.invoice_number, "payment_intent_id": claim.payment_intent_id}
            ).first()
        if row is None:
            return "unknown_invoice"
        if row[1] is None:
            return "unknown_payment_intent"
        return None

    def record(self, event_id: str, event_type: str, object_id: str | None) -> bool:
        """Store the event once, in one transaction; False when it was stored already (a concurrent duplicate)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                self._insert,
                {"event_id": event_id, "type": event_type, "object_id": object_id, "received_at": utcnow()},
            )
            return result.first() is not None


def _claim_shape(claim: Claim) -> str | None:
    """Why a claim cannot be ours before any read: a malformed invoice number, no PaymentIntent."""
    try:
        parse_invoice_number(claim.invoice_number)
    except ValueError:
        return "malformed_invoice_number"
    if not claim.payment_intent_id:
        return "no_payment_intent"
    return None
