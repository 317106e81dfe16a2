"""`worker.py` with eager activity execution disabled: activities go through the task queue to any replica."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

import worker
from activities.registry import build_activities
from ville.log_context import LogContextInterceptor
from ville.settings import Settings, get_settings
from workflows.registry import WORKFLOWS


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    """Same as worker.build_worker, plus disable_eager_activity_execution=True."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(settings, client),
        activity_executor=executor,
        max_concurrent_activities=executor._max_workers,
        graceful_shutdown_timeout=timedelta(seconds=300),
        interceptors=[LogContextInterceptor()],
        disable_eager_activity_execution=True,
    )


if __name__ == "__main__":
    worker.build_worker = build_worker
    asyncio.run(worker.run(get_settings()))
