"""InvoicePaymentWorkflow facing a PaymentIntent Stripe does not know, or a step that always fails (time skipping).

Before: the orphan's look-up was retried for ever (an unbounded retry policy), so the run held the invoice and
every card payment of the family got « Un paiement est déjà en cours ».
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.billing import STRIPE_NOT_FOUND, IntentStatus, InvoicePaymentInput
from domain.sepa import result_deadline
from workflows.payment import InvoicePaymentWorkflow
from workflows.retries import STRIPE_RETRY

from .conftest import eventually
from .test_payment_events import FakeStripe, _event, _start, time_env  # noqa: F401  (the module's own server)

UNKNOWN = "pi_unknown_to_stripe"
BOUND = 120.0  # seconds of real time: a run that still has not ended retries for ever


class RefusingStripe(FakeStripe):
    """FakeStripe whose look-up of some PaymentIntents fails: Stripe does not know them, or always errs."""

    failing: str = "not_found"  # or "always": a retryable error on every attempt

    def activities(self) -> list[Any]:
        base = [a for a in super().activities() if a.__name__ != "retrieve_intent"]

        @activity.defn(name="retrieve_intent")
        async def retrieve_intent(pi_id: str) -> IntentStatus:
            self.calls.append(("retrieve_intent", pi_id))
            if pi_id.startswith(UNKNOWN):
                if self.failing == "always":
                    raise RuntimeError("Stripe unreachable")
                raise ApplicationError("Stripe refused the request (resource_missing)", type=STRIPE_NOT_FOUND,
                                       non_retryable=True)  # fmt: skip
            return IntentStatus(pi_id, self.intents.get(pi_id, "processing"))

        return [*base, retrieve_intent]


@pytest.fixture
async def refusing(time_env: WorkflowEnvironment) -> AsyncIterator[tuple[Worker, RefusingStripe]]:  # noqa: F811
    fake = RefusingStripe()
    async with Worker(
        time_env.client,
        task_queue=f"unknown-intent-{uuid.uuid4().hex[:6]}",
        workflows=[InvoicePaymentWorkflow],
        activities=fake.activities(),
    ) as w:
        yield w, fake


async def test_an_unknown_intent_ends_an_idle_run_non_retryably(
    time_env: WorkflowEnvironment,  # noqa: F811
    refusing: tuple[Worker, RefusingStripe],
) -> None:
    w, fake = refusing
    handle = await _start(time_env, w, InvoicePaymentInput(f"F{uuid.uuid4().hex[:8]}"))
    await _event(handle, "payment_intent.succeeded", UNKNOWN)
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), BOUND)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == STRIPE_NOT_FOUND and cause.non_retryable
    assert fake.calls == [("retrieve_intent", UNKNOWN)]  # asked once, never retried
    assert fake.recorded == []


async def test_an_unknown_intent_does_not_end_a_run_that_has_a_payment_to_follow(
    time_env: WorkflowEnvironment,  # noqa: F811
    refusing: tuple[Worker, RefusingStripe],
) -> None:
    w, fake = refusing
    yesterday = (await time_env.get_current_time()).date() - timedelta(days=1)
    handle = await _start(time_env, w, InvoicePaymentInput(f"F{uuid.uuid4().hex[:8]}", sepa_debit_on=yesterday))
    await eventually(lambda: fake.count("confirm_intent") == 1)
    # the bank never answers: past its deadline (and the last two-day re-check) the debit is left pending, and
    # the run waits for a week with one attempt made
    after_deadline = datetime.combine(result_deadline(yesterday) + timedelta(days=3), time(), UTC)
    await time_env.sleep(after_deadline - await time_env.get_current_time())
    await _event(handle, "payment_intent.succeeded", UNKNOWN)
    await eventually(lambda: ("retrieve_intent", UNKNOWN) in fake.calls)
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
    fake.intents["pi_known"] = "succeeded"
    await _event(handle, "payment_intent.succeeded", "pi_known")
    result = await asyncio.wait_for(handle.result(), BOUND)
    assert result.status == "paid"
    assert [s.payment_intent_id for s in fake.recorded] == ["pi_known"]


async def test_a_step_that_always_fails_ends_the_run_in_bounded_time(
    time_env: WorkflowEnvironment,  # noqa: F811
    refusing: tuple[Worker, RefusingStripe],
) -> None:
    w, fake = refusing
    fake.failing = "always"
    handle = await _start(time_env, w, InvoicePaymentInput(f"F{uuid.uuid4().hex[:8]}"))
    await _event(handle, "payment_intent.succeeded", UNKNOWN)
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), BOUND)
    assert fake.count("retrieve_intent") == STRIPE_RETRY.maximum_attempts
