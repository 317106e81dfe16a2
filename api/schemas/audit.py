"""QualiParis request and response models: inspectors' tasks, the quality team's campaigns, review and results."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, WithJsonSchema

from api.audit_log import MOTIF_MIN
from domain.audit.criteria import AuditMode

Answer = bool | int | float | str


class CriterionOut(BaseModel):
    """A criterion of the checklist of a task."""

    code: str
    commitment: str
    label: str
    answer_type: str
    expected: str
    scale_max: int | None
    unit: str
    evidence_required_on_failure: bool


class InspectorTaskOut(BaseModel):
    """A task as its inspector sees it."""

    id: int
    campaign: str
    site_ref: str
    site_name: str
    site_type: str
    arrondissement: int
    address: str
    mode: str
    state: str
    due_on: date
    window_start: date
    window_end: date
    accept_by: datetime | None
    late: bool
    review_comment: str | None


class InspectorTaskDetail(InspectorTaskOut):
    """A task with its checklist and what the inspector submitted."""

    checklist: list[CriterionOut]
    visit_date: date | None
    answers: dict[str, Any] | None
    evidence: dict[str, list[str]] | None


class InspectorTaskList(BaseModel):
    """An inspector's tasks, and how many per state."""

    counts: dict[str, int]
    tasks: list[InspectorTaskOut]


class DeclineIn(BaseModel):
    """Why the inspector declines."""

    reason: str = Field("", max_length=300)


class EvidenceIn(BaseModel):
    """A file to upload as evidence for one criterion (its size, when given, is checked now; always at submission)."""

    criterion_code: str = Field(min_length=1, max_length=20)
    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(max_length=100)
    size_bytes: int | None = Field(None, ge=0)


class EvidenceUploadOut(BaseModel):
    """Where to POST the file (presigned S3 form: `fields` then the file as `file`) and the key to cite."""

    evidence_id: int
    key: str
    name: str
    upload_url: str
    method: str
    fields: dict[str, str]
    expires_at: datetime


class SubmissionIn(BaseModel):
    """The checklist: an answer per criterion code, evidence keys per criterion code."""

    visit_date: date
    answers: dict[str, Answer]
    evidence: dict[str, list[str]] = Field(default_factory=dict)
    comment: str = Field("", max_length=2000)


class TaskStateOut(BaseModel):
    """Where a task stands after an action."""

    id: int
    state: str
    submissions: int
    send_backs: int


class ReviewIn(BaseModel):
    """A reviewer's comment (required to send back)."""

    comment: str = Field("", max_length=2000)


class AssignIn(BaseModel):
    """Manual assignment of a task left without inspector."""

    inspector_id: int


class DeadlineIn(BaseModel):
    """A later due date for a task (within the campaign window), and why."""

    new_due_on: date
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=MOTIF_MIN, max_length=500)]


class CampaignSiteIn(BaseModel):
    """A site of the campaign and how it is audited."""

    site_id: int
    modes: list[AuditMode] = Field(min_length=1, max_length=3)


def _one_decimal(value: Any) -> Any:
    # JSON numbers are binary floats: 85.30000000000001 is how a client may send 85.3
    if isinstance(value, float) and math.isfinite(value) and abs(round(value, 1) - value) < 1e-9:
        return Decimal(str(round(value, 1)))
    return value


ThresholdPct = Annotated[
    Decimal,
    BeforeValidator(_one_decimal),
    Field(ge=0, le=100, decimal_places=1),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.1}),
]


class CampaignIn(BaseModel):
    """A new campaign (draft until started)."""

    name: str = Field(min_length=3, max_length=200)
    window_start: date
    window_end: date
    label_threshold_pct: ThresholdPct = Decimal("85")
    body_id: int
    referentiel_version: str | None = Field(None, max_length=20)
    acceptance_hours: int = Field(48, ge=1, le=720)
    corrective_due_days: int = Field(30, ge=0, le=365)
    sites: list[CampaignSiteIn] = Field(min_length=1, max_length=5000)


class CampaignOut(BaseModel):
    """A campaign."""

    id: int
    name: str
    status: str
    referentiel_version: str
    body_id: int
    window_start: date
    window_end: date
    label_threshold_pct: Decimal
    acceptance_hours: int
    corrective_due_days: int
    parent_campaign_id: int | None
    sites: int
    workflow_id: str


class SiteAddIn(BaseModel):
    """A site added to a running campaign."""

    site_id: int
    modes: list[AuditMode] = Field(min_length=1, max_length=3)


class ReasonIn(BaseModel):
    """Why (kept with the change)."""

    reason: str = Field("", max_length=300)


class ReferentielIn(BaseModel):
    """A new référentiel version: the JSON document (version, effective_from, themes, site_types...)."""

    document: dict[str, Any]


class ReferentielOut(BaseModel):
    """A référentiel version."""

    version: str
    effective_from: date
    source: str
    commitments: int
    criteria: int


class ReviewItemOut(BaseModel):
    """A submitted result waiting for review."""

    task_id: int
    campaign_id: int
    site_ref: str
    site_name: str
    mode: str
    inspector_id: int | None
    submitted_at: datetime | None
    submissions: int


class QualityTaskOut(BaseModel):
    """A task as the quality team sees it."""

    id: int
    campaign_id: int
    site_ref: str
    site_name: str
    mode: str
    state: str
    inspector_id: int | None
    round: int
    due_on: date
    late: bool
    visit_date: date | None
    answers: dict[str, Any] | None
    evidence: dict[str, list[str]]
    evidence_urls: dict[str, str]
    inspector_comment: str | None
    review_comment: str | None
    score_pct: Decimal | None
    assignments: list[dict[str, Any]]


class SiteResultOut(BaseModel):
    """A site's score and label decision."""

    site_id: int
    site_ref: str
    site_name: str
    site_type: str
    arrondissement: int
    score_pct: Decimal | None
    decision: str
    complete: bool
    failed_criteria: list[str]


class ActionOut(BaseModel):
    """A corrective action."""

    id: int
    site_ref: str
    criterion_code: str
    description: str
    owner: str
    due_on: date
    priority: str
    status: str


class ReportOut(BaseModel):
    """Short-lived download links of the campaign report."""

    csv_url: str
    pdf_url: str
