"""A cancelled activity is told, never interrupted: no exception is injected into its thread.

The SDK's default cancels a threaded activity with `PyThreadState_SetAsyncExc`. On CPython 3.11 that exception
can land in a thread the activity is starting, which then dies before reporting itself started: the activity
waits for it for ever, holding `concurrent.futures`' global lock, and every later thread pool of the process
hangs (seen twice in CI, in `tests/api/test_payment_plans_api.py`, when a worker shut down during a send).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from activities.definition import defn
    from activities.registry import build_activities
    from ville.settings import Settings

RUNNING = threading.Event()
SEEN: dict[str, Any] = {}


@defn(name="tests.pool_until_cancelled")
def pool_until_cancelled(limit: int) -> int:
    """Starts thread pools, as the notifier does, until it is told it is cancelled (or `limit` rounds)."""
    rounds, interrupted = 0, None
    try:
        while rounds < limit and not activity.is_cancelled():
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(abs, range(-8, 0)))
            rounds += 1
            if rounds == 20:
                RUNNING.set()
    except BaseException as exc:  # what the SDK's injected cancellation would be
        interrupted = type(exc).__name__
        raise
    finally:
        SEEN.update(rounds=rounds, interrupted=interrupted, told=activity.is_cancelled())
    return rounds


@workflow.defn(name="tests.PoolUntilCancelled")
class PoolUntilCancelledWorkflow:
    @workflow.run
    async def run(self, limit: int) -> int:
        return await workflow.execute_activity(
            pool_until_cancelled,
            limit,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def test_a_worker_shut_down_mid_activity_tells_it_and_injects_nothing(
    temporal_client: Client, settings: Settings
) -> None:
    RUNNING.clear()
    SEEN.clear()
    queue = f"cancel-{uuid.uuid4().hex[:8]}"
    executor = ThreadPoolExecutor(2)
    worker = Worker(
        temporal_client,
        task_queue=queue,
        workflows=[PoolUntilCancelledWorkflow],
        activities=[pool_until_cancelled],
        activity_executor=executor,
    )
    async with worker:
        await temporal_client.start_workflow(
            PoolUntilCancelledWorkflow.run, 10**9, id=f"cancel-{queue}", task_queue=queue
        )
        assert await asyncio.to_thread(RUNNING.wait, 120), "the activity never started its thread pools"
    # leaving the block shut the worker down while the activity ran: the SDK cancelled it
    executor.shutdown()
    assert SEEN["interrupted"] is None, f"an exception was injected into the activity: {SEEN}"
    assert SEEN["told"] is True and 20 <= SEEN["rounds"] < 10**9, SEEN


def test_every_activity_of_ours_is_declared_without_thread_interruption(settings: Settings) -> None:
    definitions = [activity._Definition.must_from_callable(fn) for fn in build_activities(settings)]
    assert len(definitions) > 40
    interruptible = [d.name for d in definitions if not d.no_thread_cancel_exception]
    assert interruptible == [], f"declare these with activities.definition.defn: {interruptible}"
