"""Every log line of an activity or a workflow carries its workflow/run/activity ids."""

from __future__ import annotations

import io
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    import structlog
    from structlog.testing import capture_logs

    from ville.log_context import LogContextInterceptor

STDLIB_LOGGER = "tests.log_context.stdlib"


@activity.defn
def sync_logging_activity(note: str) -> str:
    """Runs on the thread pool, like the project's activities."""
    structlog.get_logger("tests.log_context").info("sync.ran", note=note)
    logging.getLogger(STDLIB_LOGGER).info("stdlib.ran")
    activity.logger.info("sdk.ran")
    return note


@activity.defn
async def async_logging_activity(note: str) -> str:
    """Runs on the event loop."""
    structlog.get_logger("tests.log_context").info("async.ran", note=note)
    return note


@workflow.defn
class LoggingWorkflow:
    @workflow.run
    async def run(self, note: str) -> str:
        workflow.logger.info("workflow.ran")
        timeout = timedelta(seconds=30)
        await workflow.execute_activity(sync_logging_activity, note, start_to_close_timeout=timeout)
        return await workflow.execute_activity(async_logging_activity, note, start_to_close_timeout=timeout)


def _json_handler(stream: io.StringIO) -> logging.Handler:
    """The shape of ville.logging's handler: stdlib records get contextvars and extras, rendered as JSON."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.contextvars.merge_contextvars, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    return handler


async def test_activity_and_workflow_logs_carry_ids(
    time_env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    stream = io.StringIO()
    stdlib_logger = logging.getLogger(STDLIB_LOGGER)
    handler = _json_handler(stream)
    stdlib_logger.addHandler(handler)
    task_queue = f"log-context-{uuid.uuid4().hex[:8]}"
    workflow_id = f"log-context-{uuid.uuid4().hex[:8]}"
    try:
        with (
            ThreadPoolExecutor(max_workers=2) as executor,
            capture_logs(processors=[structlog.contextvars.merge_contextvars]) as captured,
        ):
            async with Worker(
                time_env.client,
                task_queue=task_queue,
                workflows=[LoggingWorkflow],
                activities=[sync_logging_activity, async_logging_activity],
                activity_executor=executor,
                interceptors=[LogContextInterceptor()],
            ):
                handle: WorkflowHandle[LoggingWorkflow, str] = await time_env.client.start_workflow(
                    LoggingWorkflow.run, "facture", id=workflow_id, task_queue=task_queue
                )
                assert await handle.result() == "facture"
    finally:
        stdlib_logger.removeHandler(handler)
    run_id = handle.result_run_id

    by_event = {e["event"]: e for e in captured}
    for event, activity_type in (("sync.ran", "sync_logging_activity"), ("async.ran", "async_logging_activity")):
        line = by_event[event]
        assert line["workflow_id"] == workflow_id
        assert line["run_id"] == run_id
        assert line["workflow_type"] == "LoggingWorkflow"
        assert line["activity_type"] == activity_type
        assert line["activity_id"]
        assert line["attempt"] == 1
        assert line["note"] == "facture"

    [stdlib_line] = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert stdlib_line["event"] == "stdlib.ran"
    assert stdlib_line["workflow_id"] == workflow_id
    assert stdlib_line["activity_type"] == "sync_logging_activity"

    [wf_record] = [r for r in caplog.records if r.getMessage() == "workflow.ran"]
    assert wf_record.__dict__["workflow_id"] == workflow_id
    assert wf_record.__dict__["run_id"] == run_id
    assert wf_record.__dict__["workflow_type"] == "LoggingWorkflow"
    assert "temporal_workflow" not in wf_record.__dict__

    [sdk_record] = [r for r in caplog.records if r.getMessage() == "sdk.ran"]
    assert sdk_record.__dict__["run_id"] == run_id
    assert sdk_record.__dict__["activity_type"] == "sync_logging_activity"
