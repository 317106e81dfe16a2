"""QualiParis campaign activities: planning, starting inspections and follow-up campaigns, changes while running."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy

from activities.audit_common import AuditActivityBase, refusals, search_attributes
from activities.definition import defn
from contracts.audit_campaign import (
    CampaignInspectorUnavailable,
    CampaignSiteAdd,
    CampaignSiteWithdrawal,
    CampaignStatusChange,
    PlanResult,
    SiteWithdrawalResult,
    StartCampaign,
    StartInspections,
)
from contracts.audit_inspection import InspectionInput
from contracts.audit_names import AUDIT_CAMPAIGN_WORKFLOW, INSPECTION_WORKFLOW, AuditActivity
from services.audit_campaigns import AuditCampaigns
from services.audit_planning import AuditPlanning
from ville.ids import audit_campaign_id, inspection_id


class AuditCampaignActivities(AuditActivityBase):
    """The campaign workflow's database work, and the workflows it starts."""

    @defn(name=AuditActivity.PLAN_CAMPAIGN)
    def plan_campaign(self, campaign_id: int) -> PlanResult:
        """Create the campaign's tasks and first assignments (once; later calls return the same tasks)."""
        with self.sessions() as s, refusals():
            return AuditPlanning(s).plan_campaign(campaign_id)

    @defn(name=AuditActivity.START_INSPECTIONS)
    async def start_inspections(self, wave: StartInspections) -> int:
        """Start one inspection workflow per task; a task already started keeps its workflow."""
        assert self.client is not None, "AuditActivities needs the Temporal client to start inspections"
        client, queue = self.client, activity.info().task_queue
        attributes = search_attributes(wave.search_attributes, wave.campaign_id, "assigned")

        async def start(task_id: int) -> None:
            await client.start_workflow(
                INSPECTION_WORKFLOW,
                InspectionInput(task_id, wave.campaign_id),
                id=inspection_id(task_id),
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=attributes,
            )

        for i in range(0, len(wave.task_ids), 20):  # a few concurrent starts, a heartbeat per chunk
            await asyncio.gather(*(start(t) for t in wave.task_ids[i : i + 20]))
            activity.heartbeat(i)
        return len(wave.task_ids)

    @defn(name=AuditActivity.START_CAMPAIGN)
    async def start_campaign(self, request: StartCampaign) -> None:
        """Start a campaign workflow (a re-audit waiting for its window); harmless if already started."""
        assert self.client is not None, "AuditActivities needs the Temporal client to start campaigns"
        campaign_id = request.campaign.campaign_id
        await self.client.start_workflow(
            AUDIT_CAMPAIGN_WORKFLOW,
            request.campaign,
            id=audit_campaign_id(campaign_id),
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=search_attributes(request.search_attributes, campaign_id, "scheduled"),
        )

    @defn(name=AuditActivity.SET_CAMPAIGN_STATUS)
    def set_campaign_status(self, change: CampaignStatusChange) -> None:
        """Persist the campaign's status."""
        with self.sessions() as s, refusals():
            AuditCampaigns(s).set_status(change.campaign_id, change.status)

    @defn(name=AuditActivity.ADD_SITE)
    def add_campaign_site(self, change: CampaignSiteAdd) -> list[int]:
        """Add a site to a running campaign and plan its tasks; the ids of its tasks (idempotent)."""
        with self.sessions() as s, refusals():
            return AuditPlanning(s).add_site(change.campaign_id, change.site_id, change.modes)

    @defn(name=AuditActivity.WITHDRAW_SITE)
    def withdraw_campaign_site(self, change: CampaignSiteWithdrawal) -> SiteWithdrawalResult:
        """Withdraw a site: tasks nobody opened yet are closed here, the others are returned."""
        with self.sessions() as s, refusals():
            return AuditPlanning(s).withdraw_site(change.campaign_id, change.site_id, change.reason)

    @defn(name=AuditActivity.INSPECTOR_UNAVAILABLE)
    def mark_inspector_unavailable(self, change: CampaignInspectorUnavailable) -> list[int]:
        """Record the unavailability; the inspector's tasks still in progress (to hand over)."""
        with self.sessions() as s, refusals():
            return AuditPlanning(s).mark_unavailable(change.campaign_id, change.inspector_id, change.reason)
