"""History sizes (events and bytes, per continue-as-new run) and process peaks shared by the scale benchmarks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.stack import Stack, vm_hwm_mb


async def history_size(client: Client, workflow_id: str) -> dict[str, Any]:
    """Events and bytes of every run of `workflow_id`, from its first run, following continue-as-new."""
    desc = await client.get_workflow_handle(workflow_id).describe()
    first_run = desc.raw_description.workflow_execution_info.first_run_id or desc.run_id
    runs: list[dict[str, int]] = []
    run_id: str | None = first_run
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        size = sum(ev.ByteSize() for ev in history.events)
        types = [ev.event_type for ev in history.events]
        runs.append(
            {
                "events": len(history.events),
                "bytes": size,
                "signals": types.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
                "activities": types.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
                "timers_started": types.count(EventType.EVENT_TYPE_TIMER_STARTED),
                "timers_fired_or_cancelled": types.count(EventType.EVENT_TYPE_TIMER_FIRED)
                + types.count(EventType.EVENT_TYPE_TIMER_CANCELED),
            }
        )
        run_id = None
        for ev in history.events:
            if ev.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                run_id = ev.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return {
        "runs": len(runs),
        "events": sum(r["events"] for r in runs),
        "bytes": sum(r["bytes"] for r in runs),
        "max_events_per_run": max(r["events"] for r in runs),
        "max_bytes_per_run": max(r["bytes"] for r in runs),
        "per_run": runs,
    }


async def activity_times(client: Client, workflow_id: str) -> dict[str, list[tuple[float, float]]]:
    """Per activity type of the workflow's current run: (schedule-to-start, start-to-close) seconds of each call.

    Schedule-to-start is time spent waiting for a worker slot (queueing), start-to-close the execution.
    """
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    scheduled: dict[int, tuple[str, float]] = {}
    started: dict[int, float] = {}
    out: dict[str, list[tuple[float, float]]] = {}
    for ev in history.events:
        t = ev.event_time.ToMicroseconds() / 1e6
        if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[ev.event_id] = (ev.activity_task_scheduled_event_attributes.activity_type.name, t)
        elif ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[ev.activity_task_started_event_attributes.scheduled_event_id] = t
        elif ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            sid = ev.activity_task_completed_event_attributes.scheduled_event_id
            name, t_sched = scheduled[sid]
            t_start = started.get(sid, t_sched)
            out.setdefault(name, []).append((round(t_start - t_sched, 3), round(t - t_start, 3)))
    return out


async def sample_sizes(client: Client, workflow_ids: list[str]) -> dict[str, Any]:
    """History sizes of a sample of workflows: mean and max events and bytes, and their activities' timings."""
    sizes = await asyncio.gather(*(history_size(client, w) for w in workflow_ids))
    if not sizes:
        return {"sampled": 0}
    times = await asyncio.gather(*(activity_times(client, w) for w in workflow_ids))
    merged: dict[str, list[tuple[float, float]]] = {}
    for t in times:
        for name, calls in t.items():
            merged.setdefault(name, []).extend(calls)
    activities = {
        name: {
            "calls": len(calls),
            "schedule_to_start_mean_s": round(sum(c[0] for c in calls) / len(calls), 3),
            "start_to_close_mean_s": round(sum(c[1] for c in calls) / len(calls), 3),
        }
        for name, calls in merged.items()
    }
    return {
        "activities": activities,
        "sampled": len(sizes),
        "events_mean": round(sum(s["events"] for s in sizes) / len(sizes), 1),
        "events_max": max(s["events"] for s in sizes),
        "bytes_mean": round(sum(s["bytes"] for s in sizes) / len(sizes)),
        "bytes_max": max(s["bytes"] for s in sizes),
        "pending_timers_min": min(
            sum(r["timers_started"] - r["timers_fired_or_cancelled"] for r in s["per_run"][-1:]) for s in sizes
        ),
    }


async def count(client: Client, query: str) -> int:
    """Visibility count of the workflows matching `query`."""
    return (await client.count_workflows(query)).count


async def wait_count(client: Client, query: str, expected: int, timeout_s: float) -> tuple[int, float]:
    """Poll the visibility count until it reaches `expected` (visibility lags a little); (count, seconds)."""
    t0 = time.perf_counter()
    n = await count(client, query)
    while n < expected and time.perf_counter() - t0 < timeout_s:
        await asyncio.sleep(1.0)
        n = await count(client, query)
    return n, time.perf_counter() - t0


def peaks(stack: Stack, worker_pids: list[int]) -> dict[str, float | None]:
    """Peak RSS (VmHWM, MB) of the Temporal dev server and of the worker processes."""
    temporal = next((s for s in stack.services if s.name == "temporal"), None)
    out: dict[str, float | None] = {
        "temporal_server": round(v, 1) if temporal and temporal.proc and (v := vm_hwm_mb(temporal.proc.pid)) else None
    }
    for i, pid in enumerate(worker_pids, start=1):
        v = vm_hwm_mb(pid)
        out[f"worker_{i}"] = round(v, 1) if v else None
    return out
