"""How every activity of ours is declared: `defn` instead of `activity.defn`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from temporalio import activity

F = TypeVar("F", bound=Callable[..., Any])


def defn(name: str) -> Callable[[F], F]:
    """`activity.defn(name=…)` with cancellation never raised inside the activity's thread.

    The SDK cancels a threaded activity (worker shutdown, workflow cancelled, heartbeat timeout) by injecting an
    exception into its thread with `PyThreadState_SetAsyncExc`. Our activities run SQLAlchemy, boto3 and thread
    pools, none of which survive an exception at an arbitrary bytecode, and on CPython 3.11 the exception can even
    land in a thread the activity is starting (its new thread state briefly carries the parent's id): that thread
    dies before it reports started, and the activity waits for it for ever while holding the executor's global
    lock (`tests/unit/test_activity_definitions.py`). Every activity is bounded by its timeouts and idempotent, so
    a cancelled attempt runs to its end and its result is discarded.
    """
    return activity.defn(name=name, no_thread_cancel_exception=True)
