"""What the QualiParis routers (inspector, quality team) share: who may call, the workflows' handles, and the
one mapping of their refused updates to HTTP (`api.workflow_updates`)."""

from __future__ import annotations

from typing import Annotated, Any

from temporalio.client import Client, WorkflowHandle

from api.errors import error_responses
from api.schemas.audit import TaskStateOut
from api.security import Principal, require
from api.workflow_updates import Refusals, execute_update
from contracts.audit_inspection import TaskView
from contracts.audit_names import UNASSIGNED, AuditError
from ville.ids import audit_campaign_id, inspection_id
from ville.models.people import Role
from workflows.audit_campaign import AuditCampaignWorkflow
from workflows.inspection import InspectionWorkflow

PREFIX = "/api/qualiparis"
# actions that reach a workflow: 409 when its state refuses them or it has ended, 503 when Temporal is unreachable
TEMPORAL_ERRORS = error_responses(409, 503)

InspectorUser = Annotated[Principal, require(Role.inspector)]
QualityTeam = Annotated[Principal, require(Role.quality_team)]
TaskSupervisor = Annotated[Principal, require(Role.quality_team, Role.operator)]

AUDIT_REFUSALS = Refusals(
    closed="Ce processus est clos : action impossible.",
    not_found=frozenset({AuditError.NOT_YOUR_TASK, AuditError.NOT_FOUND}),
    conflict=frozenset({AuditError.ILLEGAL_TRANSITION, AuditError.CAMPAIGN_CLOSED}),
)


def inspection(temporal: Client, task_id: int) -> WorkflowHandle[InspectionWorkflow, Any]:
    """The inspection workflow of a task."""
    return temporal.get_workflow_handle_for(InspectionWorkflow.run, inspection_id(task_id))


def campaign_handle(temporal: Client, campaign_id: int) -> WorkflowHandle[AuditCampaignWorkflow, Any]:
    """The campaign's workflow (no run id: it continues as new, updates and queries go to its current run)."""
    return temporal.get_workflow_handle_for(AuditCampaignWorkflow.run, audit_campaign_id(campaign_id))


async def update(handle: WorkflowHandle[Any, Any], update: Any, arg: Any) -> Any:
    """Run an audit workflow's update; a refusal becomes its HTTP answer."""
    return await execute_update(handle, update, arg, AUDIT_REFUSALS)


def state_out(view: TaskView) -> TaskStateOut:
    """Where a task stands after an action."""
    return TaskStateOut(id=view.task_id, state=view.status, submissions=view.submissions, send_backs=view.send_backs)


def status_of(state: str | None) -> str:
    """A task's status as shown: its state, or `unassigned` while nobody holds it."""
    return state or UNASSIGNED
