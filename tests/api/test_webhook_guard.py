"""Stripe webhooks that cannot block or flood: tolerance both ways, malformed bodies 400, foreign events ignored.

Real API (ASGI) on the dev server: an ignored event must start no payment workflow at all (issue 16, point 3).
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.stripe_webhook import TOLERANCE_S
from tests.api.test_billing_api import _account_with_invoice, _signed, _stored
from ville.db import SessionFactory
from ville.ids import invoice_payment_id
from ville.settings import Settings


def _intent_event(event_id: str, number: object, pi_id: str = "pi_never_created") -> bytes:
    obj = {"id": pi_id, "object": "payment_intent", "status": "succeeded", "metadata": {"invoice_number": number}}
    return json.dumps(
        {"id": event_id, "object": "event", "type": "payment_intent.succeeded", "data": {"object": obj}}
    ).encode()


async def _workflow_exists(temporal: Client, workflow_id: str) -> bool:
    try:
        await temporal.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def test_signature_tolerance_applies_in_both_directions(client_for, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    c = client_for(None)
    body = json.dumps(
        {"id": f"evt_{uuid.uuid4().hex}", "type": "customer.created", "data": {"object": {"id": "cus_x"}}}
    ).encode()
    future = await c.post("/webhooks/stripe", content=body, headers=_signed(settings, body, at=int(time.time()) + 600))
    assert future.status_code == 400 and future.json()["error"]["code"] == "bad_request"
    near = int(time.time()) + TOLERANCE_S - 30  # a clock a little ahead is still accepted
    assert (await c.post("/webhooks/stripe", content=body, headers=_signed(settings, body, at=near))).status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        [{"id": "evt_x", "type": "payment_intent.succeeded"}],
        {"id": "evt_nodata", "type": "payment_intent.succeeded"},
        {"id": "evt_noobj", "type": "payment_intent.succeeded", "data": {}},
        {"id": "evt_objlist", "type": "payment_intent.succeeded", "data": {"object": ["pi_x"]}},
        {"id": 12, "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x"}}},
        {"id": "evt_badid", "type": "payment_intent.succeeded", "data": {"object": {"id": {"x": 1}}}},
        {"id": "evt_meta", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x", "metadata": [1]}}},
        {"id": "evt_long_" + "x" * 200, "type": "customer.created", "data": {"object": {"id": "cus_x"}}},
        "just a string",
    ],
)
async def test_malformed_signed_bodies_are_400(client_for, settings: Settings, payload: object) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    r = await client_for(None).post("/webhooks/stripe", content=body, headers=_signed(settings, body))
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "Événement mal formé"


async def test_events_for_foreign_invoices_or_intents_start_nothing(  # type: ignore[no-untyped-def]
    client_for, settings: Settings, sessions: SessionFactory, temporal_client: Client
) -> None:
    real = f"FF-2026-{700_000 + uuid.uuid4().int % 99_999:06d}"
    _account_with_invoice(sessions, real)
    c = client_for(None)
    for number in (real, "FF-2099-999999", "../../x' OR 1=1 --", "FF-2026-000000", "x" * 300):
        event_id = f"evt_{uuid.uuid4().hex}"
        body = _intent_event(event_id, number)
        r = await c.post("/webhooks/stripe", content=body, headers=_signed(settings, body))
        # 2xx: Stripe stops retrying an event we deliberately ignore
        assert (r.status_code, r.json()) == (200, {"status": "ignored"}), number
        assert not await _workflow_exists(temporal_client, invoice_payment_id(number)), number
        assert _stored(sessions, event_id) == 0
