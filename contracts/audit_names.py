"""Names shared by the audit workflows, their activities and the API: activities, workflow types, signal, codes.

Kept free of heavy imports (no boto3, SQLModel or reportlab) so that the workflow sandbox can load it.
The payloads themselves are in `contracts.audit_campaign` and `contracts.audit_inspection`.
"""

from __future__ import annotations

from enum import StrEnum

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
