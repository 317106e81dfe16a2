"""Dataclasses and activity names shared by the audit workflows, their activities and the API.

Kept free of heavy imports (no boto3, SQLModel or reportlab) so that the workflow sandbox can load it.
Dates travel as ISO strings (`2027-03-01`). `ville.temporal`'s converter reads and writes `date` fields as such
strings; the fields here still typed `str` are written or read by the API or by `activities/audit.py`, and move
to `date` together with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contracts.delivery import NotificationActivity


class AuditActivity:
    """Activity names: workflows call them by these names, activities register under them."""

    PLAN_CAMPAIGN = "audit.plan_campaign"
    START_INSPECTIONS = "audit.start_inspections"
    START_CAMPAIGN = "audit.start_campaign"
    SET_CAMPAIGN_STATUS = "audit.set_campaign_status"
    ADD_SITE = "audit.add_campaign_site"
    WITHDRAW_SITE = "audit.withdraw_campaign_site"
    INSPECTOR_UNAVAILABLE = "audit.mark_inspector_unavailable"
    LOAD_TASK = "audit.load_task"
    RECORD_TASK_STATE = "audit.record_task_state"
    REASSIGN_TASK = "audit.reassign_task"
    ASSIGN_TASK = "audit.assign_task"
    SAVE_SUBMISSION = "audit.save_submission"
    RECORD_REVIEW = "audit.record_review"
    COMPUTE_RESULTS = "audit.compute_results"
    SCHEDULE_REAUDIT = "audit.schedule_reaudit"
    BUILD_REPORT = "audit.build_report"
    NOTIFY_SITE_MANAGERS = "audit.notify_site_managers"
    RECORD_DUE_DATE = "audit.record_due_date"


SEND_NOTIFICATIONS = NotificationActivity.SEND
"""The shared notification activity of `services/notifications.py`."""

AUDIT_CAMPAIGN_WORKFLOW = "AuditCampaignWorkflow"  # workflow type names, for the activities that start them
INSPECTION_WORKFLOW = "InspectionWorkflow"
TASK_PROGRESS_SIGNAL = "task_progress"
"""The campaign's signal an inspection reports by (by name: the inspection does not import the campaign)."""


class CampaignPhase(StrEnum):
    """Where a campaign's workflow stands (its business-status search attribute and progress `phase`)."""

    SCHEDULED = "scheduled"  # a re-audit sleeping until its window opens
    PLANNING = "planning"
    RUNNING = "running"
    CLOSING = "closing"  # window over: last reviews
    RESULTS = "results"
    REPORTED = "reported"


class RecipientKind:
    """Recipient kinds the audit registers contact resolvers for."""

    INSPECTOR = "audit_inspector"  # id: audit_inspector.id
    SITE_MANAGER = "audit_site_manager"  # id: audit_site.id
    QUALITY = "audit_quality"  # id: user_account.id of a quality-team member


class AuditError:
    """`ApplicationError.type` values the API maps to HTTP answers (never matched on message text)."""

    INVALID_SUBMISSION = "AuditInvalidSubmission"  # 422, details: list of {field, message}
    NOT_YOUR_TASK = "AuditNotYourTask"  # 404
    ILLEGAL_TRANSITION = "AuditIllegalTransition"  # 409
    INVALID_REVIEW = "AuditInvalidReview"  # 422
    INVALID_ASSIGNMENT = "AuditInvalidAssignment"  # 422
    CAMPAIGN_CLOSED = "AuditCampaignClosed"  # 409
    INVALID_CHANGE = "AuditInvalidChange"  # 422
    NOT_FOUND = "AuditNotFound"  # 404


UNASSIGNED = "unassigned"
"""Task status when no inspector currently holds it (never assigned, or none eligible left)."""
NOT_STARTED = "pending"
"""Task status in campaign progress before its inspection workflow started."""


@dataclass(frozen=True)
class Notice:
    """Same fields as `contracts.delivery.NotificationRequest` (the payload of the shared send activity)."""

    key: str
    channel: str
    template: str
    recipient_kind: str
    recipient_id: int
    subject_ref: str
    context: dict[str, str] = field(default_factory=dict)


# --- campaign -------------------------------------------------------------------------------------


@dataclass
class CampaignCarry:
    """State handed over by continue-as-new: compact, task ids and statuses only."""

    window_start: str  # ISO date
    window_end: str  # ISO date
    review_deadline: str  # ISO date
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
    start_on: str | None = None  # ISO date: a scheduled campaign (re-audit) waits for this Paris day
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
    window_start: str  # ISO date
    window_end: str  # ISO date
    review_deadline: str  # ISO date


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
    window_start: str | None  # ISO date
    window_end: str | None  # ISO date
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
    today: str  # ISO date


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
    start_on: str | None  # ISO date
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


# --- inspection -----------------------------------------------------------------------------------


@dataclass
class InspectionInput:
    """One task: everything else is loaded by the first activity."""

    task_id: int
    campaign_id: int


@dataclass
class TaskContext:
    """What an inspection needs, loaded from the database (no personal data)."""

    task_id: int
    campaign_id: int
    site_id: int
    site_ref: str
    site_name: str
    site_type: str
    site_type_label: str
    arrondissement: int
    mode: str
    state: str | None
    inspector_id: int | None
    inspector_available: bool
    round: int
    window_start: str  # ISO date
    window_end: str  # ISO date
    due_on: str  # ISO date
    review_deadline: str  # ISO date
    accept_hours: int
    quality_user_id: int | None
    referentiel_version: str
    referentiel: dict[str, Any]
    submissions: int = 0
    send_backs: int = 0
    late: bool = False
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass
class AcceptTask:
    """Inspector accepts the task."""

    inspector_id: int


@dataclass
class DeclineTask:
    """Inspector declines the task."""

    inspector_id: int
    reason: str = ""


@dataclass
class SubmitChecklist:
    """Inspector's checklist: answers per criterion code, evidence keys per criterion code."""

    inspector_id: int
    visit_date: str  # ISO date
    answers: dict[str, Any]
    evidence: dict[str, list[str]] = field(default_factory=dict)
    comment: str = ""


@dataclass
class ApproveTask:
    """Reviewer approves the submitted result: it is frozen."""

    reviewer_user_id: int
    comment: str = ""


@dataclass
class SendBackTask:
    """Reviewer sends the result back to the inspector with comments."""

    reviewer_user_id: int
    comment: str


@dataclass
class AssignTask:
    """Quality team assigns a task left without inspector."""

    inspector_id: int
    by_user_id: int


@dataclass
class ExtendDeadline:
    """The quality team (or an operator) moves the task's due date later, within the campaign window."""

    new_due_on: str  # ISO date
    by_user_id: int
    reason: str = ""


@dataclass
class DueDateRecord:
    """A moved due date to persist, with the task's late flag once moved."""

    task_id: int
    due_on: str  # ISO date
    late: bool


@dataclass
class ReleaseTask:
    """The current inspector became unavailable (signal from the campaign)."""

    reason: str


@dataclass
class WithdrawTask:
    """The task is withdrawn (site withdrawn)."""

    reason: str


@dataclass
class TaskView:
    """Answer of inspection updates and query."""

    task_id: int
    status: str
    inspector_id: int | None
    round: int
    submissions: int
    send_backs: int
    late: bool
    comment: str
    score_permille: int | None


@dataclass
class InspectionResult:
    """Final result of an inspection workflow."""

    task_id: int
    status: str
    inspector_id: int | None
    rounds: int
    score_permille: int | None


@dataclass
class TaskStateRecord:
    """A state change to persist; `assignment_outcome` closes the current assignment."""

    task_id: int
    round: int
    state: str | None
    inspector_id: int | None
    assignment_outcome: str | None = None
    reason: str = ""
    late: bool | None = None


@dataclass
class ReassignRequest:
    """Close assignment `round` with `outcome` and look for another eligible inspector."""

    task_id: int
    round: int
    outcome: str
    reason: str


@dataclass
class ReassignOutcome:
    """The new inspector (None: nobody eligible) and the new round."""

    inspector_id: int | None
    round: int


@dataclass
class ManualAssignment:
    """Assignment decided by the quality team."""

    task_id: int
    round: int
    inspector_id: int
    by_user_id: int


@dataclass
class SubmissionRecord:
    """A validated submission to persist."""

    task_id: int
    round: int
    inspector_id: int
    visit_date: str  # ISO date
    answers: dict[str, Any]
    evidence: dict[str, list[str]]
    comment: str
    submission_no: int


@dataclass
class ReviewRecord:
    """A review decision to persist; an approval freezes the result with its score."""

    task_id: int
    round: int
    approved: bool
    reviewer_user_id: int
    comment: str
    score_permille: int | None
    send_backs: int = 0
