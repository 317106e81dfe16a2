"""Campaigns of the quality team: set up (a draft), start, follow, and change while running (sites, inspectors).

Changes to a running campaign go through its workflow's updates (validated there, so a refused change leaves no
trace in history); reads come from the database, which the activities keep up to date.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import structlog
from fastapi import APIRouter, HTTPException, Query, status
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api.deps import AuditCampaignsDep, DbId, SettingsDep, TemporalDep
from api.errors import field_error, temporal_refusal
from api.qualiparis import PREFIX, TEMPORAL_ERRORS, QualityTeam, campaign_handle, update
from api.schemas.audit import CampaignIn, CampaignOut, ReasonIn, SiteAddIn
from api.security import not_found
from api.temporal_query import QUERY_TIMEOUT, bounded
from contracts.audit_campaign import (
    AuditCampaignInput,
    CampaignProgress,
    ChangeAck,
    InspectorUnavailable,
    SiteChange,
    SiteWithdrawal,
)
from services.audit_campaigns import AuditCampaigns, InvalidCampaign, NewCampaign
from ville.ids import audit_campaign_id
from ville.models.audit import AuditCampaign, CampaignStatus
from ville.temporal import SA_BUSINESS_STATUS, SA_CAMPAIGN
from workflows.audit_campaign import AuditCampaignWorkflow

log = structlog.get_logger(__name__)
router = APIRouter(prefix=PREFIX, tags=["qualiparis"])


def campaign_or_404(campaigns: AuditCampaigns, campaign_id: int) -> AuditCampaign:
    """The campaign, or 404."""
    campaign = campaigns.get(campaign_id)
    if campaign is None:
        raise not_found()
    return campaign


def _campaign_out(campaigns: AuditCampaigns, c: AuditCampaign) -> CampaignOut:
    assert c.id is not None
    return CampaignOut(
        id=c.id,
        name=c.name,
        status=c.status,
        referentiel_version=c.referentiel_version,
        body_id=c.body_id,
        window_start=c.window_start,
        window_end=c.window_end,
        label_threshold_pct=Decimal(c.label_threshold_permille).scaleb(-1),
        acceptance_hours=c.acceptance_hours,
        corrective_due_days=c.corrective_due_days,
        parent_campaign_id=c.parent_campaign_id,
        sites=campaigns.site_count(c.id),
        workflow_id=audit_campaign_id(c.id),
    )


@router.post("/campaigns", status_code=status.HTTP_201_CREATED)
def create_campaign(body: CampaignIn, principal: QualityTeam, campaigns: AuditCampaignsDep) -> CampaignOut:
    """Set up a campaign: sites and modes, window, label threshold, accredited body (a draft)."""
    new = NewCampaign(
        name=body.name,
        window_start=body.window_start,
        window_end=body.window_end,
        label_threshold_pct=body.label_threshold_pct,
        body_id=body.body_id,
        referentiel_version=body.referentiel_version,
        acceptance_hours=body.acceptance_hours,
        corrective_due_days=body.corrective_due_days,
        sites=[(s.site_id, [m.value for m in s.modes]) for s in body.sites],
    )
    try:
        campaign = campaigns.create(new, principal.user_id)
    except InvalidCampaign as err:
        raise field_error(err.field, err.message) from None
    return _campaign_out(campaigns, campaign)


@router.get("/campaigns")
def list_campaigns(principal: QualityTeam, campaigns: AuditCampaignsDep) -> list[CampaignOut]:
    """Every campaign, newest first."""
    return [_campaign_out(campaigns, c) for c in campaigns.newest_first()]


@router.get("/campaigns/{campaign_id}")
def get_campaign(campaign_id: DbId, principal: QualityTeam, campaigns: AuditCampaignsDep) -> CampaignOut:
    """One campaign."""
    return _campaign_out(campaigns, campaign_or_404(campaigns, campaign_id))


@router.post("/campaigns/{campaign_id}/start", status_code=status.HTTP_202_ACCEPTED, responses=TEMPORAL_ERRORS)
async def start_campaign(
    campaign_id: DbId,
    principal: QualityTeam,
    campaigns: AuditCampaignsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> dict[str, str]:
    """Start the campaign's workflow; starting twice is harmless (the running one is kept)."""
    campaign = campaign_or_404(campaigns, campaign_id)
    if campaign.status not in (CampaignStatus.draft, CampaignStatus.running, CampaignStatus.scheduled):
        raise HTTPException(status.HTTP_409_CONFLICT, "Cette campagne est close.")
    handle = await temporal.start_workflow(
        AuditCampaignWorkflow.run,
        AuditCampaignInput(campaign_id),
        id=audit_campaign_id(campaign_id),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(SA_CAMPAIGN, str(campaign_id)), SearchAttributePair(SA_BUSINESS_STATUS, "planning")]
        ),
    )
    log.info("audit.campaign_started", campaign_id=campaign_id, user_id=principal.user_id)
    return {"workflow_id": handle.id, "run_id": handle.result_run_id or ""}


@router.get("/campaigns/{campaign_id}/progress", responses=TEMPORAL_ERRORS)
async def campaign_progress(
    campaign_id: DbId, principal: QualityTeam, campaigns: AuditCampaignsDep, temporal: TemporalDep
) -> CampaignProgress:
    """Tasks per status, late tasks, unavailable inspectors (from the running workflow)."""
    campaign_or_404(campaigns, campaign_id)
    try:
        # bounded: a query waits for a worker, and a page must not hang when none is polling
        return await bounded(
            campaign_handle(temporal, campaign_id).query(AuditCampaignWorkflow.progress, rpc_timeout=QUERY_TIMEOUT)
        )
    except RPCError as err:
        raise temporal_refusal(err, "Campagne non lancée.") from err


@router.post("/campaigns/{campaign_id}/sites", responses=TEMPORAL_ERRORS)
async def add_site(
    campaign_id: DbId, body: SiteAddIn, principal: QualityTeam, campaigns: AuditCampaignsDep, temporal: TemporalDep
) -> ChangeAck:
    """Add a site to a running campaign: its tasks are planned and started."""
    campaign_or_404(campaigns, campaign_id)
    change = SiteChange(body.site_id, [m.value for m in body.modes])
    ack: ChangeAck = await update(campaign_handle(temporal, campaign_id), AuditCampaignWorkflow.add_site, change)
    return ack


@router.delete("/campaigns/{campaign_id}/sites/{site_id}", responses=TEMPORAL_ERRORS)
async def withdraw_site(
    campaign_id: DbId,
    site_id: DbId,
    principal: QualityTeam,
    campaigns: AuditCampaignsDep,
    temporal: TemporalDep,
    reason: Annotated[str, Query(max_length=300)] = "Site retiré de la campagne",
) -> ChangeAck:
    """Withdraw a site from a running campaign: its unfinished tasks are withdrawn."""
    campaign_or_404(campaigns, campaign_id)
    change = SiteWithdrawal(site_id, reason)
    ack: ChangeAck = await update(campaign_handle(temporal, campaign_id), AuditCampaignWorkflow.withdraw_site, change)
    return ack


@router.post("/campaigns/{campaign_id}/inspectors/{inspector_id}/unavailable", responses=TEMPORAL_ERRORS)
async def inspector_unavailable(
    campaign_id: DbId,
    inspector_id: DbId,
    body: ReasonIn,
    principal: QualityTeam,
    campaigns: AuditCampaignsDep,
    temporal: TemporalDep,
) -> ChangeAck:
    """Declare an inspector unavailable: his tasks in progress are handed to other inspectors."""
    campaign_or_404(campaigns, campaign_id)
    if campaigns.inspector(inspector_id) is None:
        raise not_found()
    change = InspectorUnavailable(inspector_id, body.reason or "Inspecteur indisponible")
    ack: ChangeAck = await update(
        campaign_handle(temporal, campaign_id), AuditCampaignWorkflow.inspector_unavailable, change
    )
    return ack
