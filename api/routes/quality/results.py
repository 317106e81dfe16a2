"""Results of a closed campaign for the quality team: site scores and labels, corrective actions, the report."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from fastapi import APIRouter, HTTPException, status

from api.deps import AuditCampaignsDep, AuditResultsDep, DbId, S3Dep, SettingsDep
from api.errors import error_responses
from api.qualiparis import PREFIX, QualityTeam
from api.routes.quality.campaigns import campaign_or_404
from api.schemas.audit import ActionOut, ReportOut, SiteResultOut

router = APIRouter(prefix=PREFIX, tags=["qualiparis"])
DOWNLOAD_URL_SECONDS = 300


@router.get("/campaigns/{campaign_id}/results")
def campaign_results(
    campaign_id: DbId, principal: QualityTeam, campaigns: AuditCampaignsDep, results: AuditResultsDep
) -> list[SiteResultOut]:
    """Score and label decision of every site of a closed campaign."""
    campaign_or_404(campaigns, campaign_id)
    return [
        SiteResultOut(
            site_id=site.id or 0,
            site_ref=site.ref,
            site_name=site.name,
            site_type=site.site_type,
            arrondissement=site.arrondissement,
            score_pct=None if r.score_permille is None else Decimal(r.score_permille).scaleb(-1),
            decision=r.decision,
            complete=r.complete,
            failed_criteria=list(r.failed_criteria),
        )
        for r, site in results.site_results(campaign_id)
    ]


@router.get("/campaigns/{campaign_id}/corrective-actions")
def corrective_actions(
    campaign_id: DbId, principal: QualityTeam, campaigns: AuditCampaignsDep, results: AuditResultsDep
) -> list[ActionOut]:
    """Corrective actions opened by a campaign, with owner and due date."""
    campaign_or_404(campaigns, campaign_id)
    return [
        ActionOut(
            id=a.id or 0,
            site_ref=site.ref,
            criterion_code=a.criterion_code,
            description=a.description,
            owner=a.owner,
            due_on=a.due_on,
            priority=a.priority,
            status=a.status,
        )
        for a, site in results.corrective_actions(campaign_id)
    ]


@router.get("/campaigns/{campaign_id}/report", responses=error_responses(409))
async def campaign_report(
    campaign_id: DbId, principal: QualityTeam, campaigns: AuditCampaignsDep, s3: S3Dep, settings: SettingsDep
) -> ReportOut:
    """Short-lived links to the campaign report (CSV and PDF)."""
    campaign = campaign_or_404(campaigns, campaign_id)
    if campaign.report_csv_key is None or campaign.report_pdf_key is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "Le rapport n'est pas encore produit.")
    urls = [
        await asyncio.to_thread(
            s3.generate_presigned_url,
            "get_object",
            Params={"Bucket": settings.s3_bucket, "Key": key},
            ExpiresIn=DOWNLOAD_URL_SECONDS,
        )
        for key in (campaign.report_csv_key, campaign.report_pdf_key)
    ]
    return ReportOut(csv_url=urls[0], pdf_url=urls[1])
