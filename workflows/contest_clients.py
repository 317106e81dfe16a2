"""Client-side calls into the contest workflow, shared by the API, the pages and the tests."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from contracts.contests import ContestDecisionRequest, ContestDecisionResult, ContestView, LineContestInput
from domain.contests import ContestStatus
from ville.temporal import SA_BUSINESS_STATUS
from workflows.contests import LineContestWorkflow


async def start_contest(client: Client, task_queue: str, inp: LineContestInput) -> None:
    """Start the contest's workflow (its id is the contest's reference); starting twice is harmless."""
    await client.start_workflow(
        LineContestWorkflow.run,
        inp,
        id=inp.contest_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes([SearchAttributePair(SA_BUSINESS_STATUS, ContestStatus.OPEN.value)]),
    )


async def decide_contest(client: Client, contest_id: str, req: ContestDecisionRequest) -> ContestDecisionResult:
    """Hand the operator's decision to the workflow; answers once it is recorded (validator errors in French)."""
    handle = client.get_workflow_handle_for(LineContestWorkflow.run, contest_id)
    return await handle.execute_update(LineContestWorkflow.decide, req)


async def contest_state(client: Client, contest_id: str) -> ContestView:
    """The workflow's view of a contest."""
    handle = client.get_workflow_handle_for(LineContestWorkflow.run, contest_id)
    return await handle.query(LineContestWorkflow.state)
