"""The messages an inspection sends: a key per send (each goes once), a template, a recipient, what they print."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.audit_inspection import Notice, TaskContext
    from contracts.audit_names import RecipientKind
    from domain.audit import messages as msg
    from domain.calendar import format_date_fr


@dataclass(frozen=True)
class TaskNotices:
    """Notices about one task, dated with its current due date."""

    task_id: int
    ctx: TaskContext
    window: tuple[date, date]
    due_on: date

    def _notice(
        self, suffix: str, template: str, kind: str, recipient: int, channel: str = "email", **extra: str
    ) -> Notice:
        ctx = self.ctx
        site = (ctx.site_name, ctx.site_type_label, ctx.arrondissement)
        context = msg.task_notice_context(self.task_id, site, ctx.mode, self.window, self.due_on)
        key, subject = f"audit-task-{self.task_id}-{suffix}", f"T{self.task_id}"
        return Notice(key, channel, template, kind, recipient, subject, {**context, **extra})

    def unassigned(self, round_: int, quality_user_id: int) -> Notice:
        """To the quality team: nobody holds the task."""
        return self._notice(f"r{round_}-unassigned", "audit_task_unassigned", RecipientKind.QUALITY, quality_user_id)

    def assigned(self, round_: int, inspector_id: int, accept_by: datetime) -> Notice:
        """To the inspector: the task is his to accept before `accept_by`."""
        kind, accept = RecipientKind.INSPECTOR, msg.time_fr(accept_by)
        return self._notice(f"r{round_}-assigned", "audit_task_assigned", kind, inspector_id, accept_by=accept)

    def reminders(self, round_: int, day: str, inspector_id: int) -> tuple[Notice, Notice]:
        """To the inspector, by e-mail and SMS: the due date comes."""
        key, template, due = f"r{round_}-reminder-{day}", "audit_task_reminder", format_date_fr(self.due_on)
        return (
            self._notice(f"{key}-email", template, RecipientKind.INSPECTOR, inspector_id, due_on=due),
            self._notice(f"{key}-sms", template, RecipientKind.INSPECTOR, inspector_id, channel="sms", due_on=due),
        )

    def late(self, deadline_moves: int, quality_user_id: int) -> Notice:
        """To the quality team: the due date passed without a result."""
        # after a deadline extension the alert names the new due date (and is not mistaken for the first one)
        suffix = "late" if deadline_moves == 0 else f"late-{self.due_on.isoformat()}"
        due = format_date_fr(self.due_on)
        return self._notice(suffix, "audit_task_late", RecipientKind.QUALITY, quality_user_id, due_on=due)

    def sent_back(self, send_backs: int, inspector_id: int, comment: str) -> Notice:
        """To the inspector: the reviewer sent the result back with a comment."""
        kind = RecipientKind.INSPECTOR
        return self._notice(f"sendback-{send_backs}", "audit_task_sent_back", kind, inspector_id, comment=comment)
