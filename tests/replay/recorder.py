"""Pytest plugin: remember every workflow run the tests' workers execute, save their histories as JSON.

Loaded by `python -m tests.replay.record` (never by a normal test run). Each `Worker` built by a test
gets an activity interceptor noting (workflow id, run id, type); when the worker stops, the histories
of those runs are fetched from the worker's own server (still up: fixtures outlive the worker).
"""

from __future__ import annotations

import functools
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)

HISTORIES = Path(__file__).resolve().parent / "histories"
PER_TYPE = int(os.environ.get("REPLAY_PER_TYPE", "4"))
# (workflow type, workflow id, run id) -> history JSON
_recorded: dict[tuple[str, str, str], str] = {}


class _SeenRuns(Interceptor):
    def __init__(self) -> None:
        self.runs: set[tuple[str, str, str]] = set()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _NoteRun(next, self.runs)


class _NoteRun(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, runs: set[tuple[str, str, str]]) -> None:
        super().__init__(next)
        self._runs = runs

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.workflow_id and info.workflow_run_id and info.workflow_type:
            self._runs.add((info.workflow_type, info.workflow_id, info.workflow_run_id))
        return await super().execute_activity(input)


async def _fetch(client: Client, runs: set[tuple[str, str, str]]) -> None:
    for wf_type, wf_id, run_id in sorted(runs):
        history = await client.get_workflow_handle(wf_id, run_id=run_id).fetch_history()
        _recorded[(wf_type, wf_id, run_id)] = history.to_json()


def _patch_worker() -> None:
    original_init = Worker.__init__
    original_aexit = Worker.__aexit__

    @functools.wraps(original_init)
    def init(self: Worker, client: Client, **kwargs: Any) -> None:
        seen = _SeenRuns()
        kwargs["interceptors"] = [*kwargs.get("interceptors", []), seen]
        self._replay_seen = seen  # type: ignore[attr-defined]
        self._replay_client = client  # type: ignore[attr-defined]
        original_init(self, client, **kwargs)

    @functools.wraps(original_aexit)
    async def aexit(self: Worker, *exc: Any) -> None:
        await original_aexit(self, *exc)
        await _fetch(self._replay_client, self._replay_seen.runs)  # type: ignore[attr-defined]

    Worker.__init__ = init  # type: ignore[method-assign]
    Worker.__aexit__ = aexit  # type: ignore[method-assign,assignment]


def pytest_configure(config: pytest.Config) -> None:
    """Patch the SDK's worker before any test builds one."""
    _patch_worker()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Keep the longest histories of each type (most branches covered), replace the committed ones."""
    by_type: dict[str, list[str]] = defaultdict(list)
    from workflows.registry import WORKFLOWS

    registered = {w.__name__ for w in WORKFLOWS}
    for (wf_type, _wf_id, _run), text in sorted(_recorded.items()):
        if wf_type in registered:  # a scenario's own test-only workflows are not the worker's to replay
            by_type[wf_type].append(text)
    if exitstatus != 0 or not by_type:
        return  # a failed scenario never replaces the committed histories
    for old in HISTORIES.glob("*.json"):
        old.unlink()
    for wf_type, texts in by_type.items():
        longest = sorted(texts, key=lambda t: -len(json.loads(t)["events"]))[:PER_TYPE]
        for n, text in enumerate(longest, start=1):
            (HISTORIES / f"{wf_type}-{n}.json").write_text(text + "\n")
