"""The webhook benchmark's open-loop driver: signed Stripe events, the requests fired at a rate, their timings."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import col
from temporalio.client import Client
from temporalio.service import RPCError

from bench.rawhttp import HttpError, RawPool
from contracts.billing import StripeEventSignal
from domain.dunning import InvoiceStatus
from domain.payments import PaymentMethod
from ville.db import make_engine
from ville.models.billing import FamilyAccount, Invoice, Payment
from workflows.clients import signal_stripe_event


@dataclass
class Shot:
    """One request of the open-loop driver."""

    index: int
    due: float  # perf_counter when the rate limiter scheduled it
    sent_wall: float = 0.0  # time.time() just before the request was written
    lag_s: float = 0.0  # how late the driver sent it (a lag means the driver, not the API, fell behind)
    latency_s: float | None = None  # HTTP round trip
    status: int | None = None
    error: str | None = None
    seen_wall: float | None = None  # WorkflowTaskCompleted after the signal (webhooks only)


@dataclass
class Step:
    """One rate step of one endpoint."""

    endpoint: str
    rate: int
    duration_s: float
    shots: list[Shot] = field(default_factory=list)
    wall_s: float = 0.0


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header Stripe would send (v1 scheme: HMAC-SHA256 of `t.payload`)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event_body(run: str, index: int, number: str, payment_intent_id: str) -> tuple[str, bytes]:
    """(event id, JSON body) of one webhook about one PaymentIntent of invoice `number`."""
    event_id = f"evt_bench_{run}_{index:06d}"
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": "payment_intent.processing",
        "data": {
            "object": {
                "id": payment_intent_id,
                "object": "payment_intent",
                "status": "processing",
                "metadata": {"invoice_number": number},
            }
        },
    }
    return event_id, json.dumps(event).encode()


def seed_targets(db_url: str, pairs: list[tuple[str, str]]) -> None:
    """Record each (invoice, PaymentIntent) as ours, as a card attempt does before confirming it.

    The webhook route ignores an event about an invoice or a PaymentIntent we never recorded (issue 16): the
    events must name ours to reach the workflows. No Stripe call is needed: a `processing` event is never fetched.
    """
    engine = make_engine(db_url)
    try:
        with engine.begin() as c:
            c.execute(insert(FamilyAccount).values(id=1, ref="FA-BENCH", arrondissement=4))
            numbers = sorted({n for n, _ in pairs})
            c.execute(
                insert(Invoice),
                [
                    {"number": n, "account_id": 1, "period_key": f"{k:07d}", "period_start": date(2026, 9, 1),
                     "period_end": date(2026, 10, 31), "issue_date": date(2026, 11, 2), "due_date": date(2026, 12, 28),
                     "tranche": 3, "lines_total_cents": 1_000, "amount_due_cents": 1_000,
                     "status": InvoiceStatus.ISSUED}
                    for k, n in enumerate(numbers)
                ],
            )  # fmt: skip
            ids = {number: invoice_id for number, invoice_id in c.execute(select(col(Invoice.number), col(Invoice.id)))}
            c.execute(
                insert(Payment),
                [
                    {"key": f"card:{pi}", "invoice_id": ids[n], "account_id": 1, "method": PaymentMethod.CARD,
                     "amount_cents": 1_000, "stripe_payment_intent_id": pi}
                    for n, pi in pairs
                ],
            )  # fmt: skip
    finally:
        engine.dispose()


async def open_loop(step: Step, send: Any) -> None:
    """Fire `send(shot)` at `step.rate` per second for `step.duration_s`, never waiting for answers."""
    n = int(step.rate * step.duration_s)
    t0 = time.perf_counter()
    tasks = []
    for i in range(n):
        due = t0 + i / step.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        shot = Shot(i, due)
        step.shots.append(shot)
        tasks.append(asyncio.create_task(send(shot)))
    await asyncio.gather(*tasks)
    step.wall_s = time.perf_counter() - t0


async def _timed(shot: Shot, call: Awaitable[int]) -> None:
    """Run one request: its wall-clock send time, lateness against the schedule, round trip and status."""
    shot.sent_wall = time.time()
    t = time.perf_counter()
    shot.lag_s = t - shot.due
    try:
        shot.status = await call
    except (HttpError, RPCError) as err:
        shot.error = f"RPCError {err.status}" if isinstance(err, RPCError) else str(err)
    shot.latency_s = time.perf_counter() - t


async def fire(
    http: RawPool, shot: Shot, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> None:
    """One HTTP request (waiting for a free connection counts in its round trip)."""
    await _timed(shot, http.request(method, path, body, headers))


async def fire_signal(client: Client, task_queue: str, shot: Shot, number: str, event: StripeEventSignal) -> None:
    """The webhook route's own Temporal call (`signal_stripe_event`), made directly by the driver."""

    async def call() -> int:
        await signal_stripe_event(client, task_queue, number, event)
        return 200

    await _timed(shot, call())
