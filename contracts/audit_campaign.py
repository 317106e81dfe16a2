"""Payloads of the audit campaign workflow: its input and carry, its updates and query, its activities' I/O.

Kept free of heavy imports (no boto3, SQLModel or reportlab) so that the workflow sandbox can load it.
Dates travel as ISO strings (`2027-03-01`): `ville.temporal`'s converter writes and reads `date` fields as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from contracts.audit_names import CampaignPhase


@dataclass
class CampaignCarry:
    """State handed over by continue-as-new: compact, task ids and statuses only."""

    window_start: date
    window_end: date
    review_deadline: date
    to_start: list[int] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)  # task id -> TaskState value | unassigned | pending
    finished: list[int] = field(default_factory=list)
    late: list[int] = field(default_factory=list)
    unavailable: list[int] = field(default_factory=list)
    withdrawn_sites: list[int] = field(default_factory=list)
    started: int = 0
    runs: int = 1
    phase: str = CampaignPhase.RUNNING


@dataclass
class AuditCampaignInput:
    """Start of a campaign (or its continuation with `carry`)."""

    campaign_id: int
    start_on: date | None = None  # a scheduled campaign (re-audit) waits for this Paris day
    wave_size: int = 200  # inspections started per activity
    max_history_events: int = 10_000  # continue-as-new beyond this history length
    carry: CampaignCarry | None = None


@dataclass
class StartInspections:
    """Activity input: start the inspection workflows of these tasks (idempotent)."""

    campaign_id: int
    task_ids: list[int]
    search_attributes: bool


@dataclass
class StartCampaign:
    """Activity input: start a (follow-up) campaign workflow, idempotently."""

    campaign: AuditCampaignInput
    search_attributes: bool


@dataclass
class PlanResult:
    """What planning produced."""

    task_ids: list[int]
    unassigned: int
    window_start: date
    window_end: date
    review_deadline: date


@dataclass
class TaskProgress:
    """Signal from an inspection to its campaign."""

    task_id: int
    status: str  # TaskState value or UNASSIGNED
    inspector_id: int | None
    late: bool = False
    finished: bool = False


@dataclass
class SiteChange:
    """Late addition of a site to a running campaign."""

    site_id: int
    modes: list[str]


@dataclass
class SiteWithdrawal:
    """Withdrawal of a site from a running campaign."""

    site_id: int
    reason: str = "Site retiré de la campagne"


@dataclass
class SiteWithdrawalResult:
    """Tasks of a withdrawn site: those whose workflow must be told, those closed directly."""

    open_task_ids: list[int]
    closed_task_ids: list[int]


@dataclass
class InspectorUnavailable:
    """An inspector cannot work any more on this campaign: his open tasks go to others."""

    inspector_id: int
    reason: str = "Inspecteur indisponible"


@dataclass
class CampaignSiteAdd:
    """Activity input: add a site to a campaign and plan its tasks."""

    campaign_id: int
    site_id: int
    modes: list[str]


@dataclass
class CampaignSiteWithdrawal:
    """Activity input: withdraw a site from a campaign."""

    campaign_id: int
    site_id: int
    reason: str


@dataclass
class CampaignInspectorUnavailable:
    """Activity input: record an inspector's unavailability for a campaign."""

    campaign_id: int
    inspector_id: int
    reason: str


@dataclass
class ChangeAck:
    """Answer of a campaign update."""

    task_ids: list[int]
    message: str


@dataclass
class CampaignStatusChange:
    """Campaign status to persist."""

    campaign_id: int
    status: str


@dataclass
class CampaignProgress:
    """Answer of the progress query."""

    campaign_id: int
    phase: str
    window_start: date | None
    window_end: date | None
    total_tasks: int
    started: int
    finished: int
    by_status: dict[str, int]
    late_task_ids: list[int]
    unavailable_inspector_ids: list[int]
    runs: int


@dataclass
class ResultsRequest:
    """Compute site results as of a Paris day."""

    campaign_id: int
    today: date


@dataclass
class ResultsSummary:
    """Outcome of the results computation."""

    sites: int
    scored: int
    granted: int
    granted_with_reservations: int
    refused: int
    not_audited: int
    corrective_actions: int
    failing_site_ids: list[int]
    average_percent: str | None


@dataclass
class ReauditPlan:
    """The follow-up campaign created for failing sites, if any."""

    campaign_id: int | None
    start_on: date | None
    sites: int = 0


@dataclass
class ReportKeys:
    """Where the campaign report lies in S3."""

    csv_key: str
    pdf_key: str


@dataclass
class AuditCampaignResult:
    """Final result of a campaign workflow."""

    campaign_id: int
    summary: ResultsSummary
    reaudit_campaign_id: int | None
    report: ReportKeys
    runs: int
