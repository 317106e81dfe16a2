"""Steps shared by the audit workflows: activity calls with their retry policy, durable waits, update failures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.audit_inspection import Notice
    from contracts.audit_names import SEND_NOTIFICATIONS, AuditError
    from contracts.delivery import NotificationOutcome
    from domain.audit.messages import OPERATION_UNAVAILABLE
    from ville.temporal import SA_CAMPAIGN

T = TypeVar("T")

# bounded (~3 h at the 1 min cap): a step that still fails then fails the run, which the console lists
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1), maximum_attempts=200)
DB_TIMEOUT = timedelta(seconds=60)
BATCH_TIMEOUT = timedelta(minutes=15)


async def call(name: str, arg: Any, result_type: type[T], timeout: timedelta = DB_TIMEOUT) -> T:
    """Run an activity by its registered name with the standard retry policy."""
    result = await workflow.execute_activity(
        name, arg, start_to_close_timeout=timeout, retry_policy=RETRY, result_type=result_type
    )
    return cast(T, result)


async def run(name: str, arg: Any, timeout: timedelta = DB_TIMEOUT) -> None:
    """Run an activity that returns nothing."""
    await workflow.execute_activity(name, arg, start_to_close_timeout=timeout, retry_policy=RETRY)


async def notify(*notices: Notice) -> None:
    """Send messages through the shared notification activity (each once per key)."""
    if notices:
        await workflow.execute_activity(
            SEND_NOTIFICATIONS,
            list(notices),
            result_type=NotificationOutcome,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RETRY,
        )


async def wait_until(condition: Callable[[], bool], until: datetime) -> bool:
    """Wait for `condition` until the instant `until`; False on timeout (a durable timer)."""
    remaining = until - workflow.now()
    if remaining <= timedelta(0):
        return condition()
    try:
        await workflow.wait_condition(condition, timeout=remaining)
    except TimeoutError:
        return condition()
    return True


def business_failure(err: ActivityError) -> ApplicationError:
    """Turn an activity's business failure into an update failure the API can map (by type)."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return ApplicationError(cause.message, type=cause.type, non_retryable=True)
    return ApplicationError(OPERATION_UNAVAILABLE, type=AuditError.INVALID_CHANGE)


def sa_enabled() -> bool:
    """Whether this run may upsert our search attributes."""
    # The namespace has our search attributes only if the start set them (the time-skipping test
    # server has no custom search attributes): upsert only then.
    return workflow.info().typed_search_attributes.get(SA_CAMPAIGN) is not None
