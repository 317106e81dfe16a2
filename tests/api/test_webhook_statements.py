"""What one webhook costs the database: one read transaction before Temporal, one insert after, nothing else.

Real API (ASGI) on the test stack's database and dev server; the statements are counted on the app's engine.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, event, insert, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from domain.payments import PaymentMethod
from services.stripe_events import DUPLICATE, Claim, StripeEvents
from tests.api.test_billing_api import _account_with_invoice, _signed, _stored
from ville.db import SessionFactory
from ville.ids import invoice_payment_id
from ville.models.billing import Invoice, Payment
from ville.settings import Settings


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    def commit(_conn: Any) -> None:
        seen.append("COMMIT")

    def rollback(_conn: Any) -> None:
        seen.append("ROLLBACK")

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "commit", commit)
        event.remove(engine, "rollback", rollback)


def _our_intent(sessions: SessionFactory) -> tuple[str, str]:
    number = f"FF-2026-{600_000 + uuid.uuid4().int % 99_999:06d}"
    account_id = _account_with_invoice(sessions, number)
    pi_id = f"pi_{uuid.uuid4().hex}"
    with sessions() as s, s.begin():
        invoice_id = s.execute(select(Invoice.id).where(Invoice.number == number)).scalar_one()
        s.execute(
            insert(Payment).values(
                key=f"card:{pi_id}",
                invoice_id=invoice_id,
                account_id=account_id,
                method=PaymentMethod.CARD,
                amount_cents=4_200,
                stripe_payment_intent_id=pi_id,
            )
        )
    return number, pi_id


async def test_an_accepted_webhook_reads_once_and_inserts_once(  # type: ignore[no-untyped-def]
    client_for, app: FastAPI, settings: Settings, sessions: SessionFactory, temporal_client: Client
) -> None:
    number, pi_id = _our_intent(sessions)
    event_id = f"evt_{uuid.uuid4().hex}"
    obj = {"id": pi_id, "object": "payment_intent", "status": "processing", "metadata": {"invoice_number": number}}
    body = json.dumps({"id": event_id, "type": "payment_intent.processing", "data": {"object": obj}}).encode()
    c = client_for(None)
    with _statements(app.state.sessions.engine) as seen:
        r = await c.post("/webhooks/stripe", content=body, headers=_signed(settings, body))
    assert (r.status_code, r.json()) == (200, {"status": "accepted"})
    # the duplicate check and the ownership read in one transaction (its connection back in the pool before
    # Temporal is called), then the insert in its own: two transactions, no re-read
    assert seen == ["SELECT", "SELECT", "ROLLBACK", "INSERT", "COMMIT"]
    assert _stored(sessions, event_id) == 1
    history = await temporal_client.get_workflow_handle(invoice_payment_id(number)).fetch_history()
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert signals == ["stripe_event"]  # signalled before the insert, once

    with _statements(app.state.sessions.engine) as again:
        replay = await c.post("/webhooks/stripe", content=body, headers=_signed(settings, body))
    assert replay.json() == {"status": "duplicate"}
    assert again == ["SELECT", "ROLLBACK"]  # a retried event costs one read and signals nothing


def test_a_concurrent_duplicate_is_stored_once(sessions: SessionFactory) -> None:
    events = StripeEvents(sessions)
    event_id = f"evt_{uuid.uuid4().hex}"
    assert events.screen(event_id, None) is None
    # two replicas that both screened the event before either stored it: the second insert is a no-op
    assert events.record(event_id, "customer.created", "cus_x") is True
    assert events.record(event_id, "customer.created", "cus_x") is False
    assert events.screen(event_id, Claim("FF-2026-000001", "pi_x")) == DUPLICATE
    assert _stored(sessions, event_id) == 1
