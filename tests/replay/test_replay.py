"""Determinism guard: every committed history replays on today's workflow code without a mismatch.

A change that reorders, adds or removes commands (activities, timers, children) in a way older runs did
not record fails here: version it with `workflow.patched(...)`, or the running workflows break on deploy.
Histories come from the workflow scenarios (`python -m tests.replay.record`); their payloads are
encrypted, so the replayer uses our data converter with the dev/test codec key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from ville.settings import Settings
from ville.temporal import data_converter
from workflows.registry import WORKFLOWS

HISTORIES = sorted((Path(__file__).resolve().parent / "histories").glob("*.json"))
EXPECTED_TYPES = {"BillingCycleWorkflow", "InvoicePaymentWorkflow", "ReferralCaseWorkflow", "AuditCampaignWorkflow",
                  "InspectionWorkflow",
                  "NotificationDeliveryWorkflow",
                  "TariffSimulationWorkflow",
                  "LineContestWorkflow",
                  "PaymentPlanWorkflow"}  # fmt: skip


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def _replayer() -> Replayer:
    settings = Settings(env="test", _env_file=None)
    return Replayer(workflows=WORKFLOWS, data_converter=data_converter(settings))


def test_every_workflow_type_has_recorded_histories() -> None:
    """Each registered workflow type is guarded by at least one history (a new type must be recorded)."""
    recorded = {p.stem.rsplit("-", 1)[0] for p in HISTORIES}
    assert {w.__name__ for w in WORKFLOWS} == EXPECTED_TYPES
    assert recorded == EXPECTED_TYPES


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_deterministically(path: Path) -> None:
    """The current code issues exactly the commands the recorded run issued."""
    history = _history(path)
    assert len(json.loads(path.read_text())["events"]) > 3
    result = await _replayer().replay_workflow(history)
    assert result.replay_failure is None


async def test_a_changed_command_sequence_is_caught() -> None:
    """The guard is live: a history whose first activity differs from what the code schedules fails."""
    path = next(p for p in HISTORIES if p.stem.startswith("BillingCycleWorkflow"))
    data = json.loads(path.read_text())
    scheduled = next(e for e in data["events"] if "activityTaskScheduledEventAttributes" in e)
    scheduled["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "renamed_activity"
    with pytest.raises(NondeterminismError):
        await _replayer().replay_workflow(WorkflowHistory.from_json(path.stem, json.dumps(data)))
