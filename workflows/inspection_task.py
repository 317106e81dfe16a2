"""The state of an inspection and the steps its main loop and its handlers share (report, write, notices)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from contracts.audit_campaign import TaskProgress
    from contracts.audit_inspection import InspectionInput, TaskContext
    from contracts.audit_names import TASK_PROGRESS_SIGNAL, UNASSIGNED
    from domain.audit.inspection import RELEASABLE
    from domain.audit.referentiel import Referentiel
    from domain.audit.task_states import TaskState
    from ville.ids import audit_campaign_id
    from ville.temporal import SA_BUSINESS_STATUS
    from workflows.audit_calls import run, sa_enabled
    from workflows.inspection_notices import TaskNotices


class InspectionTask:
    """One audit task's state as the inspection workflow holds it, with the steps every part of it uses."""

    def __init__(self, inp: InspectionInput) -> None:
        self.task_id = inp.task_id
        self.campaign_id = inp.campaign_id
        self.ctx: TaskContext | None = None
        self.referentiel: Referentiel | None = None
        self.state: TaskState | None = None
        self.inspector_id: int | None = None
        self.round = self.submissions = self.send_backs = 0
        self.late = False
        self.comment = self.declined_reason = ""
        self.answers: dict[str, Any] = {}
        self.score_permille: int | None = None
        self.release_reason: str | None = None
        self.withdraw_reason: str | None = None
        self.withdrawn = False
        self.window_start = self.window_end = self.due_on = self.review_deadline = date.min
        # True while an assignment changes hands: the database already names the next inspector, this
        # workflow not yet (an accept/decline then waits instead of being refused as someone else's task)
        self.handing_over = False
        self.deadline_moves = 0  # due date extensions so far: the submission timers restart on each
        self.db = asyncio.Lock()  # one database write at a time, in workflow order

    def _finished(self) -> bool:
        return self.withdrawn or self.state is TaskState.APPROVED

    def _status(self) -> str:
        return UNASSIGNED if self.state is None else self.state.value

    def _context(self) -> TaskContext:
        assert self.ctx is not None
        return self.ctx

    def _interrupted(self) -> bool:
        return self.withdraw_reason is not None or self._releasing()

    def _closing(self) -> bool:
        return self.withdrawn or self.withdraw_reason is not None

    def _releasing(self) -> bool:
        return self.release_reason is not None and self.state in RELEASABLE

    def _notices(self) -> TaskNotices:
        return TaskNotices(self.task_id, self._context(), (self.window_start, self.window_end), self.due_on)

    async def _write(self, activity: str, record: Any) -> None:
        """Persist a change: one database write at a time, in workflow order."""
        async with self.db:
            await run(activity, record)

    async def _report(self, finished: bool = False) -> None:
        """Tell the campaign (its current run, by workflow id) where this task stands."""
        status = self._status()
        if sa_enabled():
            workflow.upsert_search_attributes([SA_BUSINESS_STATUS.value_set(status)])
        campaign = workflow.get_external_workflow_handle(audit_campaign_id(self.campaign_id))
        progress = TaskProgress(self.task_id, status, self.inspector_id, late=self.late, finished=finished)
        try:
            await campaign.signal(TASK_PROGRESS_SIGNAL, progress)
        except FailureError:
            # the campaign is already closed (a straggler's last word): nothing waits for it any more
            workflow.logger.info("audit.campaign_gone", extra={"task_id": self.task_id})
