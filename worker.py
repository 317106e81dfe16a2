"""The Temporal worker: every workflow and activity of the platform, with graceful shutdown.

Observability: SDK metrics on METRICS_BIND_HOST:METRICS_PORT/metrics (Temporal runtime's Prometheus exporter),
business metrics of activities on METRICS_BIND_HOST:METRICS_PORT+1/metrics (prometheus_client; see ville/metrics.py),
workflow/activity ids on every log line (ville/log_context.py), traces when OTEL_EXPORTER_OTLP_ENDPOINT is set.
"""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.registry import build_activities
from services.attendance import AttendanceIngest, AttendanceQueueConsumer
from ville.aws import aws_client
from ville.db import SessionFactory, engine_for
from ville.log_context import LogContextInterceptor
from ville.logging import configure_logging
from ville.metrics import serve_business_metrics, worker_runtime
from ville.settings import Settings, get_settings
from ville.temporal import connect
from ville.tracing import configure_tracing
from workflows.registry import WORKFLOWS

log = structlog.get_logger("worker")


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    """A worker on the platform's task queue; blocking SDKs run on `executor`."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(settings, client),
        activity_executor=executor,
        max_concurrent_activities=executor._max_workers,
        graceful_shutdown_timeout=timedelta(seconds=300),
        # eager execution keeps a workflow's activities on the worker that scheduled them: with several
        # replicas that leaves the others idle (measured: 2 workers 137 → 148 families/s without it)
        disable_eager_activity_execution=True,
        interceptors=[LogContextInterceptor()],
    )


async def run(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then let running activities finish."""
    configure_logging(settings)
    configure_tracing(settings, "ville-worker")
    client = await connect(settings, runtime=worker_runtime(settings))
    metrics_server = serve_business_metrics(settings)
    log.info("worker.metrics", sdk_port=settings.metrics_port, business_port=metrics_server.server_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="activity") as executor:
        worker = build_worker(client, settings, executor)
        log.info("worker.started", task_queue=settings.task_queue, workflows=len(WORKFLOWS))
        async with worker:
            consumer = asyncio.create_task(consume_attendance(settings, stop))
            await stop.wait()
            log.info("worker.stopping")
            await consumer
    metrics_server.shutdown()
    log.info("worker.stopped")


async def consume_attendance(settings: Settings, stop: asyncio.Event) -> None:
    """Ingest attendance messages from SQS until stopped (when a queue is configured)."""
    if not settings.sqs_attendance_queue_url:
        return
    consumer = AttendanceQueueConsumer(
        aws_client(settings, "sqs"),
        settings.sqs_attendance_queue_url,
        AttendanceIngest(SessionFactory(engine_for(settings.database_url))),
    )
    log.info("attendance.consumer_started")
    while not stop.is_set():
        try:
            await asyncio.to_thread(consumer.poll_once, datetime.now(UTC).date(), 5)
        except Exception:
            log.exception("attendance.consumer_error")
            await asyncio.sleep(5)  # back off before polling again; the messages stay in the queue


def main() -> None:
    """Entry point of `python worker.py`."""
    asyncio.run(run(get_settings()))


if __name__ == "__main__":
    main()
