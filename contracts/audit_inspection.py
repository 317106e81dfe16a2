"""Payloads of the inspection workflow (one audit task): its input, updates, signals, query and activities' I/O.

Kept free of heavy imports (no boto3, SQLModel or reportlab) so that the workflow sandbox can load it.
Dates travel as ISO strings (`2027-03-01`): `ville.temporal`'s converter writes and reads `date` fields as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


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
    window_start: date
    window_end: date
    due_on: date
    review_deadline: date
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
    visit_date: date
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

    new_due_on: date
    by_user_id: int
    reason: str = ""


@dataclass
class DueDateRecord:
    """A moved due date to persist, with the task's late flag once moved."""

    task_id: int
    due_on: date
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
    visit_date: date
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
