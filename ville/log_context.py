"""Workflow/run/activity ids on every log line the worker writes, whichever logger wrote it.

- Activities: `LogContextInterceptor` binds the ids into structlog's contextvars for the whole execution,
  so `structlog.get_logger()` in activity code (and in what it calls: notifier, repositories, SDK clients
  logging through stdlib) carries them. Sync activities see them too: the SDK copies the context into the
  thread pool.
- Workflows: workflow code logs through `workflow.logger` (it skips replayed events and is sandbox-safe);
  the SDK puts the ids in a nested `temporal_workflow` extra. A filter on the SDK's loggers lifts them to
  flat record attributes (`workflow_id`, `run_id`, ...), which structlog's `ExtraAdder` turns into keys,
  so workflow and activity lines share field names. Binding contextvars inside the sandbox is avoided on
  purpose: workflows interleave on shared threads and their event loop is not asyncio's.

Creating the interceptor (to register it on a Worker) is the single switch: it installs the filter once
per process; no workflow interceptor is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import structlog
from temporalio import activity, workflow
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

# The SDK's names for the ids, mapped to ours (same keys as the activity contextvars below).
_FIELD_NAMES = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_id": "activity_id",
    "activity_type": "activity_type",
    "attempt": "attempt",
    "task_queue": "task_queue",
    "update_id": "update_id",
    "update_name": "update_name",
}


def activity_log_fields(info: activity.Info) -> dict[str, Any]:
    """The log fields of one activity execution (ids and attempt only, never arguments)."""
    fields: dict[str, Any] = {
        "workflow_id": info.workflow_id,
        "run_id": info.workflow_run_id,
        "workflow_type": info.workflow_type,
        "activity_type": info.activity_type,
        "activity_id": info.activity_id,
        "attempt": info.attempt,
    }
    return {k: v for k, v in fields.items() if v is not None}


class TemporalExtraFilter(logging.Filter):
    """Lifts the SDK's nested `temporal_workflow`/`temporal_activity` extra into flat record attributes."""

    def __init__(self, extra_key: str) -> None:
        super().__init__()
        self.extra_key = extra_key

    def filter(self, record: logging.LogRecord) -> bool:
        """Flatten the ids; never drops a record."""
        details = record.__dict__.pop(self.extra_key, None)
        if isinstance(details, Mapping):
            for sdk_name, ours in _FIELD_NAMES.items():
                if sdk_name in details and ours not in record.__dict__:
                    setattr(record, ours, details[sdk_name])
        return True


_installed = False


def install_temporal_log_fields() -> None:
    """Flatten the ids of `workflow.logger` and `activity.logger` lines (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    workflow.logger.base_logger.addFilter(TemporalExtraFilter("temporal_workflow"))
    activity.logger.base_logger.addFilter(TemporalExtraFilter("temporal_activity"))
    # The ids are now fields; repeating them as a dict inside the message would only add noise.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False


class _ActivityLogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        # bound_contextvars restores the previous values on exit, so nothing leaks to the next task.
        with structlog.contextvars.bound_contextvars(**activity_log_fields(activity.info())):
            return await super().execute_activity(input)


class LogContextInterceptor(Interceptor):
    """Worker interceptor putting workflow and activity ids on every log line."""

    def __init__(self) -> None:
        install_temporal_log_fields()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Bind the activity's ids around its execution."""
        return _ActivityLogContext(next)
