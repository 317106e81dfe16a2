"""The time-skipping server runs a workflow through our encrypted converter."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker


@workflow.defn
class _Echo:
    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.sleep(timedelta(days=3))
        return f"bonjour {name}"


async def test_time_skipping_server_runs_an_encrypted_workflow(time_env: WorkflowEnvironment) -> None:
    async with Worker(time_env.client, task_queue="smoke", workflows=[_Echo]):
        result = await time_env.client.execute_workflow(_Echo.run, "x", id="smoke-echo", task_queue="smoke")
    assert result == "bonjour x"
