"""QualiParis tables: sites, accredited body, inspectors, référentiel versions, campaigns, tasks, results."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from ville.models.common import opt_ts_field, ts_field


class AuditSite(SQLModel, table=True):
    """A municipal site that can be audited (mairie, bibliothèque, piscine, parc, centre d'appels)."""

    __tablename__ = "audit_site"

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True, max_length=20)  # opaque, e.g. BIB-07: safe in workflow ids
    name: str = Field(max_length=200)
    site_type: str = Field(index=True, max_length=40)  # a site type code of the référentiel
    arrondissement: int = Field(index=True, ge=1, le=20)
    address: str = Field(max_length=300)
    manager_name: str = Field(max_length=200)
    manager_email: str = Field(max_length=254)
    manager_phone: str | None = Field(default=None, max_length=30)
    active: bool = True
    created_at: datetime = ts_field()


class AuditBody(SQLModel, table=True):
    """The external accredited body whose inspectors carry out the audits."""

    __tablename__ = "audit_body"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    accreditation: str = Field(max_length=100)
    contact_email: str = Field(max_length=254)


class AuditInspector(SQLModel, table=True):
    """An inspector of the accredited body: capacity per campaign, area for visits, conflicts of interest."""

    __tablename__ = "audit_inspector"

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True, max_length=20)
    body_id: int = Field(foreign_key="audit_body.id", index=True)
    display_name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    phone: str | None = Field(default=None, max_length=30)
    capacity: int = Field(default=10, ge=0)
    arrondissements: list = Field(sa_column=Column(JSON, nullable=False))
    conflict_site_refs: list = Field(sa_column=Column(JSON, nullable=False))
    active: bool = True


class ReferentielVersion(SQLModel, table=True):
    """A version of the référentiel (JSON document of domain.audit.referentiel); never edited, only added."""

    __tablename__ = "audit_referentiel"

    version: str = Field(primary_key=True, max_length=20)
    effective_from: date
    data: dict = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(default="bundled", max_length=20)  # bundled | quality_team
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = ts_field()


class CampaignStatus(StrEnum):
    """Where a campaign stands."""

    draft = "draft"
    scheduled = "scheduled"  # a re-audit waiting for its window
    running = "running"
    closing = "closing"  # window over: last reviews, then results
    reported = "reported"
    cancelled = "cancelled"


class AuditCampaign(SQLModel, table=True):
    """An audit campaign: sites, window, label threshold, accredited body."""

    __tablename__ = "audit_campaign"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    status: str = Field(default=CampaignStatus.draft.value, index=True, max_length=20)
    referentiel_version: str = Field(foreign_key="audit_referentiel.version", max_length=20)
    body_id: int = Field(foreign_key="audit_body.id")
    window_start: date
    window_end: date
    label_threshold_permille: int = Field(default=850, ge=0, le=1000)  # 85 % = 850 ‰
    acceptance_hours: int = Field(default=48, ge=1)
    corrective_due_days: int = Field(default=30, ge=0)
    owner_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    parent_campaign_id: int | None = Field(default=None, foreign_key="audit_campaign.id", unique=True)
    report_csv_key: str | None = Field(default=None, max_length=300)
    report_pdf_key: str | None = Field(default=None, max_length=300)
    created_at: datetime = ts_field()
    started_at: datetime | None = opt_ts_field()
    closed_at: datetime | None = opt_ts_field()


class AuditCampaignSite(SQLModel, table=True):
    """A site in a campaign with its audit modes; withdrawn sites keep their row."""

    __tablename__ = "audit_campaign_site"
    __table_args__ = (UniqueConstraint("campaign_id", "site_id", name="uq_audit_campaign_site"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="audit_campaign.id", index=True)
    site_id: int = Field(foreign_key="audit_site.id")
    modes: list = Field(sa_column=Column(JSON, nullable=False))
    added_late: bool = False
    withdrawn: bool = False
    withdrawn_reason: str | None = Field(default=None, max_length=300)


class InspectorUnavailability(SQLModel, table=True):
    """An inspector declared unavailable for a campaign: no new task, open tasks reassigned."""

    __tablename__ = "audit_inspector_unavailability"
    __table_args__ = (UniqueConstraint("campaign_id", "inspector_id", name="uq_audit_unavailability"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="audit_campaign.id", index=True)
    inspector_id: int = Field(foreign_key="audit_inspector.id")
    reason: str = Field(default="", max_length=300)
    at: datetime = ts_field()


class AuditTask(SQLModel, table=True):
    """One audit of one site in one mode (workflow `inspection-<id>`); `state` is its current assignment's.

    `state` is None while no inspector holds the task; the outcomes of earlier assignments (declined,
    expired, withdrawn from an unavailable inspector) are kept in `audit_assignment`.
    """

    __tablename__ = "audit_task"
    __table_args__ = (UniqueConstraint("campaign_id", "site_id", "mode", name="uq_audit_task"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="audit_campaign.id", index=True)
    site_id: int = Field(foreign_key="audit_site.id", index=True)
    mode: str = Field(max_length=10)
    state: str | None = Field(default=None, index=True, max_length=20)
    inspector_id: int | None = Field(default=None, foreign_key="audit_inspector.id", index=True)
    round: int = 1
    due_on: date
    opened_at: datetime | None = opt_ts_field()  # set when its workflow took it: then inspectors see it
    late: bool = False
    unassigned_reason: str | None = Field(default=None, max_length=40)
    visit_date: date | None = None
    answers: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    evidence: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    inspector_comment: str | None = Field(default=None, max_length=2000)
    submissions: int = 0
    send_backs: int = 0
    review_comment: str | None = Field(default=None, max_length=2000)
    reviewer_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    submitted_at: datetime | None = opt_ts_field()
    approved_at: datetime | None = opt_ts_field()
    score_permille: int | None = None  # score in tenths of a percent (875 = 87,5 %), as decided
    frozen: bool = False
    withdrawn_reason: str | None = Field(default=None, max_length=300)
    updated_at: datetime = ts_field()


class AuditAssignment(SQLModel, table=True):
    """One assignment of a task to an inspector; `outcome` is set when it ends (declined, expired...)."""

    __tablename__ = "audit_assignment"
    __table_args__ = (UniqueConstraint("task_id", "round", name="uq_audit_assignment"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="audit_task.id", index=True)
    round: int
    inspector_id: int = Field(foreign_key="audit_inspector.id", index=True)
    assigned_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    assigned_at: datetime = ts_field()
    outcome: str | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=300)
    ended_at: datetime | None = opt_ts_field()


class AuditEvidence(SQLModel, table=True):
    """An evidence file uploaded to S3 through a presigned URL; the key is recorded when the URL is issued."""

    __tablename__ = "audit_evidence"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="audit_task.id", index=True)
    criterion_code: str = Field(max_length=20)
    s3_key: str = Field(unique=True, max_length=300)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    inspector_id: int = Field(foreign_key="audit_inspector.id")
    created_at: datetime = ts_field()


class AuditSiteResult(SQLModel, table=True):
    """Score and label decision of a site at the end of a campaign (decision `not_audited` without result)."""

    __tablename__ = "audit_site_result"
    __table_args__ = (UniqueConstraint("campaign_id", "site_id", name="uq_audit_site_result"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="audit_campaign.id", index=True)
    site_id: int = Field(foreign_key="audit_site.id")
    modes_audited: list = Field(sa_column=Column(JSON, nullable=False))
    complete: bool = False  # every planned mode has an approved result
    score_permille: int | None = None  # score in tenths of a percent (875 = 87,5 %), as decided
    decision: str = Field(max_length=30)
    failed_criteria: list = Field(sa_column=Column(JSON, nullable=False))
    computed_at: datetime = ts_field()


class AuditCorrectiveAction(SQLModel, table=True):
    """Something a site must fix before its re-audit: owner and due date."""

    __tablename__ = "audit_corrective_action"
    __table_args__ = (UniqueConstraint("campaign_id", "site_id", "criterion_code", name="uq_audit_corrective_action"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="audit_campaign.id", index=True)
    site_id: int = Field(foreign_key="audit_site.id", index=True)
    criterion_code: str = Field(max_length=20)
    commitment_code: str = Field(max_length=20)
    description: str = Field(max_length=1000)
    owner: str = Field(max_length=200)
    due_on: date
    priority: str = Field(max_length=10)
    status: str = Field(default="open", max_length=20)
    created_at: datetime = ts_field()
