"""QualiParis inspection activities: load a task, persist its states, due date, submission and review, reassign."""

from __future__ import annotations

from activities.audit_common import AuditActivityBase, refusals
from activities.definition import defn
from contracts.audit_inspection import (
    DueDateRecord,
    ManualAssignment,
    ReassignOutcome,
    ReassignRequest,
    ReviewRecord,
    SubmissionRecord,
    TaskContext,
    TaskStateRecord,
)
from contracts.audit_names import AuditActivity
from services.audit_planning import AuditPlanning
from services.audit_tasks import AuditTasks


class InspectionActivities(AuditActivityBase):
    """The inspection workflow's database work."""

    @defn(name=AuditActivity.LOAD_TASK)
    def load_task(self, task_id: int) -> TaskContext:
        """What the inspection needs; marks the task opened (from now on its inspector sees it)."""
        with self.sessions() as s, refusals():
            return AuditTasks(s).load_context(task_id)

    @defn(name=AuditActivity.RECORD_TASK_STATE)
    def record_task_state(self, record: TaskStateRecord) -> None:
        """Persist a state change (idempotent); an approved result is never changed again."""
        with self.sessions() as s, refusals():
            AuditTasks(s).record_state(record)

    @defn(name=AuditActivity.RECORD_DUE_DATE)
    def record_due_date(self, record: DueDateRecord) -> None:
        """Persist a moved due date and the late flag that goes with it (idempotent)."""
        with self.sessions() as s, refusals():
            AuditTasks(s).record_due_date(record)

    @defn(name=AuditActivity.REASSIGN_TASK)
    def reassign_task(self, request: ReassignRequest) -> ReassignOutcome:
        """End assignment `round` and give the task to the next eligible inspector (domain rule), if any."""
        with self.sessions() as s, refusals():
            return AuditPlanning(s).reassign(request.task_id, request.round, request.outcome, request.reason)

    @defn(name=AuditActivity.ASSIGN_TASK)
    def assign_task(self, request: ManualAssignment) -> ReassignOutcome:
        """Assignment by the quality team of a task without inspector (area, conflicts, capacity checked)."""
        with self.sessions() as s, refusals():
            return AuditPlanning(s).assign(request.task_id, request.round, request.inspector_id, request.by_user_id)

    @defn(name=AuditActivity.SAVE_SUBMISSION)
    def save_submission(self, record: SubmissionRecord) -> None:
        """Store a validated checklist (answers, evidence keys, audit date)."""
        with self.sessions() as s, refusals():
            AuditTasks(s).save_submission(record)

    @defn(name=AuditActivity.RECORD_REVIEW)
    def record_review(self, record: ReviewRecord) -> None:
        """Persist a review: approval freezes the result and its score; a send-back keeps the comment."""
        with self.sessions() as s, refusals():
            AuditTasks(s).record_review(record)
