"""QualiParis results: site scores and label decisions, corrective actions, the follow-up campaign, the report's
data and the site managers' notices. Scoring and deciding are `domain.audit.scoring`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

import structlog
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from contracts.audit_campaign import ReauditPlan, ResultsSummary
from contracts.audit_names import RecipientKind
from documents.audit_report import DECISION_LABELS, NOT_AUDITED, CampaignReportData, ReportSite, format_permille
from documents.audit_report import site_results as scored_sites
from domain.audit.campaign import reaudit_window
from domain.audit.criteria import format_decimal
from domain.audit.referentiel import Referentiel
from domain.audit.scoring import (
    LabelDecision,
    aggregate,
    combine_scores,
    corrective_actions,
    decide_label,
    score_site,
)
from domain.audit.task_states import TaskState
from domain.calendar import format_date_fr
from services.audit import campaign_or_refuse, referentiel_or_refuse
from services.notifications import NotificationRequest
from ville.models.audit import (
    AuditCampaign,
    AuditCampaignSite,
    AuditCorrectiveAction,
    AuditSite,
    AuditSiteResult,
    AuditTask,
    CampaignStatus,
)

log = structlog.get_logger(__name__)


@dataclass
class AuditResults:
    """Results of the campaigns, over one session."""

    s: Session

    def _evaluate(
        self, campaign: AuditCampaign, referentiel: Referentiel
    ) -> list[tuple[AuditSite, tuple[str, ...], ReportSite]]:
        """Score every site still in the campaign from its approved (frozen) results, by the domain rules."""
        threshold = Decimal(campaign.label_threshold_permille).scaleb(-1)
        links = self.s.exec(
            select(AuditCampaignSite, AuditSite)
            .join(AuditSite, col(AuditSite.id) == AuditCampaignSite.site_id)
            .where(AuditCampaignSite.campaign_id == campaign.id, col(AuditCampaignSite.withdrawn).is_(False))
            .order_by(col(AuditSite.ref))
        ).all()
        approved: dict[int, list[AuditTask]] = {}
        for t in self.s.exec(
            select(AuditTask).where(AuditTask.campaign_id == campaign.id, AuditTask.state == TaskState.APPROVED.value)
        ).all():
            approved.setdefault(t.site_id, []).append(t)
        out = []
        for link, site in links:
            tasks = sorted(approved.get(site.id or 0, []), key=lambda t: t.mode)
            score = decision = None
            if tasks:
                score = combine_scores(score_site(referentiel, site.site_type, t.mode, t.answers or {}) for t in tasks)
                decision = decide_label(score, threshold)
            modes = tuple(t.mode for t in tasks)
            scored = ReportSite(site.ref, site.name, site.site_type, site.arrondissement, modes, score, decision)
            out.append((site, tuple(link.modes), scored))
        return out

    def compute(self, campaign_id: int, today: date) -> ResultsSummary:
        """Score every site from its approved results, decide its label, open corrective actions."""
        s = self.s
        campaign = campaign_or_refuse(s, campaign_id)
        evaluations = self._evaluate(campaign, referentiel_or_refuse(s, campaign.referentiel_version))
        # recomputing replaces the previous results: the activity can run again safely
        s.execute(delete(AuditCorrectiveAction).where(col(AuditCorrectiveAction.campaign_id) == campaign.id))
        s.execute(delete(AuditSiteResult).where(col(AuditSiteResult.campaign_id) == campaign.id))
        actions_count = 0
        for site, planned, e in evaluations:
            assert site.id is not None
            if e.score is None or e.decision is None:
                s.add(
                    AuditSiteResult(
                        campaign_id=campaign_id,
                        site_id=site.id,
                        modes_audited=[],
                        decision=NOT_AUDITED,
                        failed_criteria=[],
                    )
                )
                continue
            s.add(
                AuditSiteResult(
                    campaign_id=campaign_id,
                    site_id=site.id,
                    modes_audited=list(e.audited_modes),
                    complete=set(e.audited_modes) == set(planned),
                    score_permille=int(e.score.percent * 10),
                    decision=e.decision.value,
                    failed_criteria=[r.code for r in e.score.failed],
                )
            )
            owner = f"{site.manager_name}, responsable — {site.name}"[:200]
            for action in corrective_actions(e.score.results, owner, today, campaign.corrective_due_days):
                actions_count += 1
                s.add(
                    AuditCorrectiveAction(
                        campaign_id=campaign_id,
                        site_id=site.id,
                        criterion_code=action.criterion_code,
                        commitment_code=action.commitment_code,
                        description=action.description[:1000],
                        owner=action.owner,
                        due_on=action.due_on,
                        priority=action.priority.value,
                    )
                )
        s.commit()
        overall = aggregate(scored_sites([e for _, _, e in evaluations])).overall
        log.info("audit.results", campaign_id=campaign_id, scored=overall.count, refused=overall.refused)
        return ResultsSummary(
            sites=len(evaluations),
            scored=overall.count,
            granted=overall.granted,
            granted_with_reservations=overall.granted_with_reservations,
            refused=overall.refused,
            not_audited=sum(1 for _, _, e in evaluations if e.score is None),
            corrective_actions=actions_count,
            failing_site_ids=[site.id for site, _, e in evaluations if e.decision is LabelDecision.REFUSED and site.id],
            average_percent=format_decimal(overall.average_percent) if overall.average_percent is not None else None,
        )

    def schedule_reaudit(self, campaign_id: int, today: date) -> ReauditPlan:
        """Create (once) the follow-up campaign of the refused sites, opening after their actions are due."""
        s = self.s
        campaign = campaign_or_refuse(s, campaign_id)
        existing = s.exec(select(AuditCampaign).where(AuditCampaign.parent_campaign_id == campaign.id)).first()
        if existing is not None:
            n = s.exec(select(func.count()).where(AuditCampaignSite.campaign_id == existing.id)).one()
            return ReauditPlan(existing.id, existing.window_start, int(n))
        refused = s.exec(
            select(AuditSiteResult.site_id).where(
                AuditSiteResult.campaign_id == campaign.id, AuditSiteResult.decision == LabelDecision.REFUSED.value
            )
        ).all()
        if not refused:
            return ReauditPlan(None, None, 0)
        last_due = s.exec(
            select(func.max(AuditCorrectiveAction.due_on)).where(
                AuditCorrectiveAction.campaign_id == campaign.id, col(AuditCorrectiveAction.site_id).in_(refused)
            )
        ).one()
        window = reaudit_window(last_due or today, campaign.window_start, campaign.window_end)
        follow_up = AuditCampaign(
            name=f"Re-audit — {campaign.name}"[:200],
            status=CampaignStatus.scheduled.value,
            referentiel_version=campaign.referentiel_version,  # same grid: results stay comparable
            body_id=campaign.body_id,
            window_start=window.start,
            window_end=window.end,
            label_threshold_permille=campaign.label_threshold_permille,
            acceptance_hours=campaign.acceptance_hours,
            corrective_due_days=campaign.corrective_due_days,
            owner_user_id=campaign.owner_user_id,
            parent_campaign_id=campaign.id,
        )
        s.add(follow_up)
        s.flush()
        modes = {
            cs.site_id: cs.modes
            for cs in s.exec(select(AuditCampaignSite).where(AuditCampaignSite.campaign_id == campaign.id)).all()
        }
        for site_id in sorted(refused):
            s.add(AuditCampaignSite(campaign_id=follow_up.id, site_id=site_id, modes=list(modes[site_id])))
        s.commit()
        log.info("audit.reaudit_scheduled", campaign_id=campaign.id, follow_up=follow_up.id, sites=len(refused))
        return ReauditPlan(follow_up.id, window.start, len(refused))

    def report_data(self, campaign_id: int) -> CampaignReportData:
        """What the campaign report prints."""
        s = self.s
        campaign = campaign_or_refuse(s, campaign_id)
        referentiel = referentiel_or_refuse(s, campaign.referentiel_version)
        actions = Counter(
            s.exec(select(AuditCorrectiveAction.site_id).where(AuditCorrectiveAction.campaign_id == campaign_id))
        )
        sites = tuple(
            replace(e, actions=actions.get(site.id or 0, 0)) for site, _, e in self._evaluate(campaign, referentiel)
        )
        return CampaignReportData(
            name=campaign.name,
            window_start=campaign.window_start,
            window_end=campaign.window_end,
            referentiel_version=campaign.referentiel_version,
            label_threshold_permille=campaign.label_threshold_permille,
            type_labels={st.code: st.label for st in referentiel.site_types},
            sites=sites,
        )

    def record_report(self, campaign_id: int, csv_key: str, pdf_key: str) -> None:
        """Remember where the campaign's report lies."""
        campaign = campaign_or_refuse(self.s, campaign_id)
        campaign.report_csv_key, campaign.report_pdf_key = csv_key, pdf_key
        self.s.add(campaign)
        self.s.commit()

    def site_manager_notices(self, campaign_id: int) -> list[NotificationRequest]:
        """One e-mail per site manager: the site's result and its corrective actions (keyed per campaign and site)."""
        s = self.s
        campaign = campaign_or_refuse(s, campaign_id)
        actions: dict[int, list[AuditCorrectiveAction]] = {}
        for a in s.exec(
            select(AuditCorrectiveAction)
            .where(AuditCorrectiveAction.campaign_id == campaign_id)
            .order_by(col(AuditCorrectiveAction.id))
        ).all():
            actions.setdefault(a.site_id, []).append(a)
        requests = []
        for result, site in self.site_results(campaign_id, ordered=False):
            assert site.id is not None
            site_actions = actions.get(site.id, [])
            requests.append(
                NotificationRequest(
                    key=f"audit-result-{campaign_id}-{site.id}",
                    channel="email",
                    template="audit_site_result",
                    recipient_kind=RecipientKind.SITE_MANAGER,
                    recipient_id=site.id,
                    subject_ref=f"C{campaign_id}-{site.ref}",
                    context={
                        "campaign_name": campaign.name,
                        "site_name": site.name,
                        "score": format_permille(result.score_permille),
                        "decision": DECISION_LABELS.get(result.decision, result.decision),
                        "actions": "\n".join(
                            f"- {a.description} Échéance : {format_date_fr(a.due_on)}." for a in site_actions
                        ),
                        "actions_count": str(len(site_actions)),
                    },
                )
            )
        return requests

    # --- reads (API) -----------------------------------------------------------------------------

    def site_results(self, campaign_id: int, ordered: bool = True) -> Sequence[tuple[AuditSiteResult, AuditSite]]:
        """Each site's result with its site (by site reference when `ordered`)."""
        query = (
            select(AuditSiteResult, AuditSite)
            .join(AuditSite, col(AuditSite.id) == AuditSiteResult.site_id)
            .where(AuditSiteResult.campaign_id == campaign_id)
        )
        if ordered:
            query = query.order_by(col(AuditSite.ref))
        return self.s.exec(query).all()

    def corrective_actions(self, campaign_id: int) -> Sequence[tuple[AuditCorrectiveAction, AuditSite]]:
        """The campaign's corrective actions with their site, by site reference."""
        return self.s.exec(
            select(AuditCorrectiveAction, AuditSite)
            .join(AuditSite, col(AuditSite.id) == AuditCorrectiveAction.site_id)
            .where(AuditCorrectiveAction.campaign_id == campaign_id)
            .order_by(col(AuditSite.ref), col(AuditCorrectiveAction.id))
        ).all()
