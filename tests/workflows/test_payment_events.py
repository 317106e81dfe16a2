"""InvoicePaymentWorkflow acts on outcome webhooks only (time-skipping server, fake Stripe activities).

A `payment_intent.processing` event says a payment is under way: a SEPA debit stays there for days. The
workflow must neither ask Stripe again for it (before this rule, a debit waiting for the bank re-asked Stripe
in a loop once a `processing` event had arrived) nor fetch an orphan `processing` event (the webhook load
benchmark's shape), and must still record an outcome event, awaited or orphan.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.billing import (
    IntentRequest,
    IntentStatus,
    InvoicePaymentInput,
    RecordedPayment,
    StripeEventSignal,
)
from services.notifications import NotificationOutcome, NotificationRequest
from ville.settings import Settings
from ville.temporal import data_converter
from workflows.payment import InvoicePaymentWorkflow

from .conftest import BIN, eventually

AMOUNT = 12_345


@dataclass
class FakeStripe:
    """The payment activities under their real names; PaymentIntents move when the test says so."""

    intents: dict[str, str] = field(default_factory=dict)  # id -> status
    calls: list[tuple[str, str]] = field(default_factory=list)
    recorded: list[IntentStatus] = field(default_factory=list)

    def count(self, name: str) -> int:
        return sum(1 for call, _ in self.calls if call == name)

    def activities(self) -> list[Any]:
        @activity.defn(name="invoice_remaining")
        async def invoice_remaining(number: str) -> int:
            return 0 if self.recorded else AMOUNT

        @activity.defn(name="create_intent")
        async def create_intent(req: IntentRequest) -> str:
            pi_id = f"pi_{req.invoice_number}_{req.attempt}"
            self.intents.setdefault(pi_id, "requires_confirmation")
            self.calls.append(("create_intent", pi_id))
            return pi_id

        @activity.defn(name="confirm_intent")
        async def confirm_intent(pi_id: str) -> IntentStatus:
            self.intents[pi_id] = "processing"  # a SEPA debit: the bank answers days later
            self.calls.append(("confirm_intent", pi_id))
            return IntentStatus(pi_id, "processing")

        @activity.defn(name="retrieve_intent")
        async def retrieve_intent(pi_id: str) -> IntentStatus:
            self.calls.append(("retrieve_intent", pi_id))
            return IntentStatus(pi_id, self.intents.get(pi_id, "processing"))

        @activity.defn(name="record_intent_outcome")
        async def record_intent_outcome(status: IntentStatus) -> RecordedPayment:
            self.recorded.append(status)
            return RecordedPayment(True, "paid" if status.status == "succeeded" else "open", 0)

        @activity.defn(name="account_of")
        async def account_of(number: str) -> int:
            return 1

        @activity.defn(name="mandate_active")
        async def mandate_active(number: str) -> bool:
            return True

        @activity.defn(name="send_notifications")
        async def send_notifications(requests: list[NotificationRequest]) -> NotificationOutcome:
            return NotificationOutcome(sent=len(requests), already_sent=0, failed=0)

        return [
            invoice_remaining,
            create_intent,
            confirm_intent,
            retrieve_intent,
            record_intent_outcome,
            account_of,
            mandate_active,
            send_notifications,
        ]


@pytest.fixture(scope="module")
async def time_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """This module's own time-skipping server (shadows the session one): its tests move the clock by a day."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=data_converter(settings)
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def stripe_worker(time_env: WorkflowEnvironment) -> AsyncIterator[tuple[Worker, FakeStripe]]:
    """A payment worker on the fake Stripe activities."""
    fake = FakeStripe()
    async with Worker(
        time_env.client,
        task_queue=f"payment-events-{uuid.uuid4().hex[:6]}",
        workflows=[InvoicePaymentWorkflow],
        activities=fake.activities(),
    ) as w:
        yield w, fake


async def _start(env: WorkflowEnvironment, w: Worker, inp: InvoicePaymentInput) -> WorkflowHandle[Any, Any]:
    return await env.client.start_workflow(
        InvoicePaymentWorkflow.run, inp, id=f"test-payment-events-{uuid.uuid4().hex}", task_queue=w.task_queue
    )


async def _event(handle: WorkflowHandle[Any, Any], kind: str, pi_id: str) -> None:
    await handle.signal(InvoicePaymentWorkflow.stripe_event, StripeEventSignal(f"evt_{uuid.uuid4().hex}", kind, pi_id))


async def test_a_processing_sepa_debit_waits_for_its_outcome_without_asking_stripe_again(
    time_env: WorkflowEnvironment, stripe_worker: tuple[Worker, FakeStripe]
) -> None:
    w, fake = stripe_worker
    number = f"F{uuid.uuid4().hex[:8]}"
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    handle = await _start(time_env, w, InvoicePaymentInput(number, sepa_debit_on=yesterday))
    await eventually(lambda: fake.count("confirm_intent") == 1)
    pi_id = fake.calls[-1][1]

    await _event(handle, "payment_intent.processing", pi_id)
    await eventually(lambda: _seen(handle, pi_id))
    await time_env.sleep(timedelta(days=1))  # still within the two-day re-check: the bank has not answered
    assert fake.count("retrieve_intent") == 0, fake.calls
    assert fake.recorded == []

    fake.intents[pi_id] = "succeeded"
    await _event(handle, "payment_intent.succeeded", pi_id)
    result = await handle.result()
    assert result.status == "paid"
    assert fake.count("retrieve_intent") == 1  # the outcome is confirmed with Stripe once, then recorded
    assert [s.status for s in fake.recorded] == ["succeeded"]


async def test_a_processing_orphan_is_noted_and_an_outcome_orphan_recorded(
    time_env: WorkflowEnvironment, stripe_worker: tuple[Worker, FakeStripe]
) -> None:
    w, fake = stripe_worker
    handle = await _start(time_env, w, InvoicePaymentInput(f"F{uuid.uuid4().hex[:8]}"))
    pi_id = "pi_from_another_run"
    fake.intents[pi_id] = "processing"

    await _event(handle, "payment_intent.processing", pi_id)
    await eventually(lambda: _seen(handle, pi_id))
    assert fake.calls == []

    fake.intents[pi_id] = "succeeded"
    await _event(handle, "payment_intent.succeeded", pi_id)
    result = await handle.result()
    assert result.status == "paid"
    assert fake.calls == [("retrieve_intent", pi_id)]
    assert [s.payment_intent_id for s in fake.recorded] == [pi_id]


async def _seen(handle: WorkflowHandle[Any, Any], pi_id: str) -> bool:
    return pi_id in (await handle.query(InvoicePaymentWorkflow.state)).webhook_intents
