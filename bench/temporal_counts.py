"""Temporal actions of a workflow, counted from its history across continue-as-new runs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

_NAMES = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "workflow_starts",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities_scheduled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search_attribute_upserts",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "updates",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child_starts",
}


async def history_counts(client: Client, workflow_id: str, first_run_id: str | None) -> dict[str, Any]:
    """Events of every run of `workflow_id` from `first_run_id`, following continue-as-new."""
    counts: Counter[str] = Counter()
    run_id = first_run_id
    runs = 0
    max_events = 0
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs += 1
        max_events = max(max_events, len(history.events))
        next_run = None
        for ev in history.events:
            counts["events"] += 1
            name = _NAMES.get(ev.event_type)
            if name:
                counts[name] += 1
            if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                counts["activity_attempts"] += ev.activity_task_started_event_attributes.attempt
            if ev.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                next_run = ev.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        if not next_run:
            break
        run_id = next_run
    out: dict[str, Any] = dict(counts)
    out["runs"] = runs
    out["max_events_per_run"] = max_events
    # workflow starts (incl. continue-as-new runs) + activities + signals: the brief's "actions"
    out["actions"] = counts["workflow_starts"] + counts["activities_scheduled"] + counts["signals"]
    return out
