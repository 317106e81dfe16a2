"""`worker.py` with eager activity execution disabled: activities go through the task queue to any replica."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.worker import Worker

import worker
from activities.registry import build_activities
from ville.log_context import LogContextInterceptor
from ville.settings import get_settings
from workflows.registry import WORKFLOWS


def build_worker(client: object, settings: object, executor: ThreadPoolExecutor) -> Worker:
    """Same as worker.build_worker, plus disable_eager_activity_execution=True."""
    return Worker(
        client,  # type: ignore[arg-type]
        task_queue=settings.task_queue,  # type: ignore[attr-defined]
        workflows=WORKFLOWS,
        activities=build_activities(settings, client),  # type: ignore[arg-type]
        activity_executor=executor,
        max_concurrent_activities=executor._max_workers,
        graceful_shutdown_timeout=timedelta(seconds=300),
        interceptors=[LogContextInterceptor()],
        disable_eager_activity_execution=True,
    )


if __name__ == "__main__":
    worker.build_worker = build_worker  # type: ignore[assignment]
    asyncio.run(worker.run(get_settings()))
