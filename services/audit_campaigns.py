"""QualiParis campaigns as the quality team sets them up: sites and modes, window, threshold; the sites and
inspectors they choose from; the campaign's status as its workflow moves it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import case
from sqlmodel import Session, col, func, select

from domain.audit.referentiel import Referentiel
from domain.audit.scoring import LabelDecision
from services.audit import (
    campaign_or_refuse,
    load_referentiel_version,
    publish_referentiel,
    referentiel_document,
    referentiel_in_force,
    referentiel_versions,
)
from ville.models.audit import (
    AuditBody,
    AuditCampaign,
    AuditCampaignSite,
    AuditInspector,
    AuditSite,
    AuditSiteResult,
    AuditTask,
    CampaignStatus,
    ReferentielVersion,
)
from ville.models.common import utcnow

log = structlog.get_logger(__name__)

ACTIVE_CAMPAIGNS = [CampaignStatus.running.value, CampaignStatus.scheduled.value, CampaignStatus.closing.value]
LABELLED = [LabelDecision.GRANTED.value, LabelDecision.GRANTED_WITH_RESERVATIONS.value]


@dataclass(frozen=True)
class CampaignProgress:
    """An active campaign: its tasks by state ("unassigned" when without inspector), late tasks, results so far."""

    campaign: AuditCampaign
    tasks_by_state: list[tuple[str, int]]
    late: int
    results: int
    labelled: int

    @property
    def unassigned(self) -> int:
        """Tasks without inspector."""
        return dict(self.tasks_by_state).get("unassigned", 0)


class InvalidCampaign(ValueError):
    """A campaign that cannot be set up: the field at fault and a French message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class NewCampaign:
    """A campaign to set up (a draft until started)."""

    name: str
    window_start: date
    window_end: date
    label_threshold_pct: Decimal
    body_id: int
    referentiel_version: str | None
    acceptance_hours: int
    corrective_due_days: int
    sites: Sequence[tuple[int, Sequence[str]]]  # site id, audit modes


@dataclass
class AuditCampaigns:
    """Campaigns, sites and inspectors, over one session."""

    s: Session

    def get(self, campaign_id: int) -> AuditCampaign | None:
        """A campaign, or None."""
        return self.s.get(AuditCampaign, campaign_id)

    def newest_first(self) -> Sequence[AuditCampaign]:
        """Every campaign, newest first."""
        return self.s.exec(select(AuditCampaign).order_by(col(AuditCampaign.id).desc())).all()

    def site_count(self, campaign_id: int) -> int:
        """Sites still in the campaign (withdrawn ones left out)."""
        n = self.s.exec(
            select(func.count())
            .select_from(AuditCampaignSite)
            .where(AuditCampaignSite.campaign_id == campaign_id, col(AuditCampaignSite.withdrawn).is_(False))
        ).one()
        return int(n)

    def active_progress(self, limit: int = 20) -> list[CampaignProgress]:
        """The newest active campaigns, with task counts and results (one grouped query each)."""
        rows = self.s.exec(
            select(AuditCampaign)
            .where(col(AuditCampaign.status).in_(ACTIVE_CAMPAIGNS))
            .order_by(col(AuditCampaign.id).desc())
            .limit(limit)
        ).all()
        ids = [c.id for c in rows if c.id is not None]
        counts: dict[int, dict[str, int]] = {i: {} for i in ids}
        late: dict[int, int] = dict.fromkeys(ids, 0)
        for cid, state, is_late, n in self.s.exec(
            select(AuditTask.campaign_id, AuditTask.state, AuditTask.late, func.count())
            .where(col(AuditTask.campaign_id).in_(ids))
            .group_by(col(AuditTask.campaign_id), col(AuditTask.state), col(AuditTask.late))
        ).all():
            key = state or "unassigned"
            counts[cid][key] = counts[cid].get(key, 0) + int(n)
            if is_late:
                late[cid] += int(n)
        results: dict[int, tuple[int, int]] = {}
        for cid, n, labelled in self.s.exec(
            select(
                AuditSiteResult.campaign_id,
                func.count(),
                func.coalesce(func.sum(case((col(AuditSiteResult.decision).in_(LABELLED), 1), else_=0)), 0),
            )
            .where(col(AuditSiteResult.campaign_id).in_(ids))
            .group_by(col(AuditSiteResult.campaign_id))
        ).all():
            results[cid] = (int(n), int(labelled))
        return [
            CampaignProgress(c, sorted(counts[c.id].items()), late[c.id], *results.get(c.id, (0, 0)))
            for c in rows
            if c.id is not None
        ]

    def active_sites(self) -> Sequence[AuditSite]:
        """The sites that can be audited, by reference."""
        return self.s.exec(select(AuditSite).where(col(AuditSite.active)).order_by(col(AuditSite.ref))).all()

    def inspectors(self) -> Sequence[AuditInspector]:
        """Inspectors of the accredited bodies, by reference."""
        return self.s.exec(select(AuditInspector).order_by(col(AuditInspector.ref))).all()

    def active_inspectors(self) -> Sequence[AuditInspector]:
        """Inspectors still active, by reference (those a task can be given to)."""
        return self.s.exec(
            select(AuditInspector).where(col(AuditInspector.active).is_(True)).order_by(col(AuditInspector.ref))
        ).all()

    def inspector(self, inspector_id: int) -> AuditInspector | None:
        """An inspector, or None."""
        return self.s.get(AuditInspector, inspector_id)

    def referentiels(self) -> list[ReferentielVersion]:
        """Every version of the référentiel, oldest first."""
        return referentiel_versions(self.s)

    def referentiel_document(self, version: str) -> dict[str, Any] | None:
        """The JSON document of a version, or None."""
        return referentiel_document(self.s, version)

    def referentiel(self, version: str) -> Referentiel | None:
        """The parsed référentiel of a version, or None."""
        return load_referentiel_version(self.s, version)

    def publish_referentiel(self, ref: Referentiel, document: dict[str, Any], user_id: int) -> ReferentielVersion:
        """Store a new version (AuditRefusal when it exists: versions are never edited in place)."""
        return publish_referentiel(self.s, ref, document, user_id)

    def create(self, new: NewCampaign, owner_user_id: int) -> AuditCampaign:
        """Check and store a draft campaign with its sites; InvalidCampaign names the field at fault."""
        s = self.s
        if new.window_start > new.window_end:
            raise InvalidCampaign("window_end", "La fin de la fenêtre doit suivre son début.")
        if s.get(AuditBody, new.body_id) is None:
            raise InvalidCampaign("body_id", "Organisme accrédité inconnu.")
        referentiel = self._referentiel(new)
        site_ids = [site_id for site_id, _ in new.sites]
        if len(set(site_ids)) != len(site_ids):
            raise InvalidCampaign("sites", "Un site figure deux fois.")
        known = {x.id: x for x in s.exec(select(AuditSite).where(col(AuditSite.id).in_(site_ids))).all()}
        for i, (site_id, modes) in enumerate(new.sites):
            site = known.get(site_id)
            if site is None or not site.active:
                raise InvalidCampaign(f"sites.{i}.site_id", f"Site {site_id} inconnu ou inactif.")
            if site.site_type not in referentiel.site_type_codes:
                raise InvalidCampaign(
                    f"sites.{i}.site_id", f"Le référentiel ne couvre pas le type de site {site.site_type}."
                )
            if len(set(modes)) != len(modes):
                raise InvalidCampaign(f"sites.{i}.modes", "Mode d'audit en double.")
        campaign = AuditCampaign(
            name=new.name,
            referentiel_version=referentiel.version,
            body_id=new.body_id,
            window_start=new.window_start,
            window_end=new.window_end,
            label_threshold_permille=int(new.label_threshold_pct * 10),
            acceptance_hours=new.acceptance_hours,
            corrective_due_days=new.corrective_due_days,
            owner_user_id=owner_user_id,
        )
        s.add(campaign)
        s.flush()
        assert campaign.id is not None
        s.add_all(
            AuditCampaignSite(campaign_id=campaign.id, site_id=site_id, modes=list(modes))
            for site_id, modes in new.sites
        )
        s.commit()
        log.info("audit.campaign_created", campaign_id=campaign.id, sites=len(new.sites), user_id=owner_user_id)
        return campaign

    def _referentiel(self, new: NewCampaign) -> Referentiel:
        try:
            referentiel = (
                load_referentiel_version(self.s, new.referentiel_version)
                if new.referentiel_version
                else referentiel_in_force(self.s, new.window_start)
            )
        except LookupError:
            referentiel = None
        if referentiel is None:
            raise InvalidCampaign(
                "referentiel_version", "Aucun référentiel de cette version ou en vigueur à cette date."
            )
        return referentiel

    def set_status(self, campaign_id: int, status: str) -> None:
        """Persist the campaign's status (and when it closed, once reported)."""
        campaign = campaign_or_refuse(self.s, campaign_id)
        campaign.status = CampaignStatus(status).value
        if status == CampaignStatus.reported and campaign.closed_at is None:
            campaign.closed_at = utcnow()
        self.s.add(campaign)
        self.s.commit()
