"""QualiParis `InspectionWorkflow`, one per audit task (`inspection-<task id>`), started by its campaign in waves.

It reports each change by signal to the campaign's workflow id (whatever its current run) and closes itself at
the window end. The rules (submission, acceptance delay, deadline extension, score) are in `domain.audit`.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.audit_inspection import (
        InspectionInput,
        InspectionResult,
        ReassignOutcome,
        ReassignRequest,
        TaskContext,
        TaskStateRecord,
    )
    from contracts.audit_names import INSPECTION_WORKFLOW, AuditActivity
    from domain.audit import messages as msg
    from domain.audit.campaign import paris_date, paris_day_end, reminder_times
    from domain.audit.inspection import RELEASABLE, acceptance_deadline
    from domain.audit.referentiel import load_referentiel
    from domain.audit.task_states import TaskEvent, TaskState, transition
    from ville.temporal import SA_ARRONDISSEMENT
    from workflows.audit_calls import call, notify, sa_enabled, wait_until

from workflows.inspection_handlers import InspectionHandlers


@workflow.defn(name=INSPECTION_WORKFLOW)
class InspectionWorkflow(InspectionHandlers):
    """One audit task: assignment, acceptance, submission, review; the result frozen when approved."""

    @workflow.init
    def __init__(self, inp: InspectionInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: InspectionInput) -> InspectionResult:
        """Drive the task until it is approved or withdrawn."""
        ctx = await call(AuditActivity.LOAD_TASK, inp.task_id, TaskContext)
        self.referentiel = load_referentiel(ctx.referentiel)
        self.state = TaskState(ctx.state) if ctx.state else None
        self.inspector_id, self.round = ctx.inspector_id, ctx.round
        self.submissions, self.send_backs, self.late = ctx.submissions, ctx.send_backs, ctx.late
        self.answers = dict(ctx.answers)  # a restarted inspection can still score a stored submission
        self.withdrawn = self.state is TaskState.WITHDRAWN
        if not ctx.inspector_available and self.state in (*RELEASABLE, TaskState.SUBMITTED):
            self.release_reason = msg.INSPECTOR_UNAVAILABLE
        self.window_start, self.window_end = ctx.window_start, ctx.window_end
        self.due_on, self.review_deadline = ctx.due_on, ctx.review_deadline
        self.ctx = ctx
        if sa_enabled():
            workflow.upsert_search_attributes([SA_ARRONDISSEMENT.value_set(ctx.arrondissement)])
        await self._report()
        window_close = paris_day_end(self.window_end)
        review_close = paris_day_end(self.review_deadline)
        while not self._finished():
            if self.withdraw_reason is not None:
                await self._withdraw(self.withdraw_reason)
            elif self.release_reason is not None and self.state in RELEASABLE:
                self.state = transition(self.state, TaskEvent.WITHDRAW)
                await self._reassign(TaskState.WITHDRAWN, self.release_reason, window_close)
            elif self.state is None:
                await self._await_assignment(window_close)
            elif self.state is TaskState.ASSIGNED:
                await self._await_acceptance(window_close)
            elif self.state is TaskState.DECLINED:
                await self._reassign(
                    TaskState.DECLINED, self.declined_reason or msg.DECLINED_BY_INSPECTOR, window_close
                )
            elif self.state is TaskState.ACCEPTED:
                await self._await_submission(window_close)
            elif self.state is TaskState.SENT_BACK:
                # a correction is not a new visit: it may come after the window, until the review deadline
                await self._await_submission(review_close)
            elif self.state is TaskState.SUBMITTED:
                await self._await_review(review_close)
        await self._report(finished=True)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return InspectionResult(self.task_id, self._status(), self.inspector_id, self.round, self.score_permille)

    # --- main loop steps ---------------------------------------------------------------------------

    async def _await_assignment(self, window_close: datetime) -> None:
        quality = self._context().quality_user_id
        if quality is not None:
            await notify(self._notices().unassigned(self.round, quality))
        if not await wait_until(
            lambda: self.inspector_id is not None or self.withdraw_reason is not None, window_close
        ):
            self.withdraw_reason = msg.WINDOW_CLOSED_UNASSIGNED

    async def _await_acceptance(self, window_close: datetime) -> None:
        r, inspector = self.round, self.inspector_id
        assert inspector is not None
        accept_by = acceptance_deadline(workflow.now(), self._context().accept_hours, window_close)
        await notify(self._notices().assigned(r, inspector, accept_by))
        answered = await wait_until(
            lambda: self.state is not TaskState.ASSIGNED or self.round != r or self._interrupted(), accept_by
        )
        if answered or self.state is not TaskState.ASSIGNED:
            return  # accepted, declined, released or withdrawn: the main loop goes on
        if workflow.now() >= window_close:
            self.withdraw_reason = msg.WINDOW_CLOSED_BEFORE_ACCEPTANCE
            return
        self.state = transition(TaskState.ASSIGNED, TaskEvent.EXPIRE)
        await self._reassign(TaskState.EXPIRED, msg.NO_ANSWER_IN_TIME, window_close)

    async def _await_submission(self, close: datetime) -> None:
        r, state, moves = self.round, self.state, self.deadline_moves
        reminders = reminder_times(self.due_on, workflow.now()) if self.submissions == 0 else []
        late_at = paris_day_end(self.due_on)
        while True:
            upcoming = [*reminders, close]
            if not self.late and self.submissions == 0 and late_at < close:
                upcoming.append(late_at)
            changed = await wait_until(
                lambda: (
                    self.state is not state or self.round != r or self._interrupted() or self.deadline_moves != moves
                ),
                min(upcoming),
            )
            if changed:
                return
            now = workflow.now()
            if now >= close:
                self.withdraw_reason = msg.WINDOW_CLOSED_UNSUBMITTED
                return
            due = [t for t in reminders if t <= now]
            reminders = [t for t in reminders if t > now]
            if due:
                await self._remind(paris_date(due[-1]).isoformat())
            if not self.late and self.submissions == 0 and now >= late_at:
                await self._mark_late()

    async def _await_review(self, review_close: datetime) -> None:
        n = self.submissions
        reviewed = await wait_until(
            lambda: self.state is not TaskState.SUBMITTED or self.submissions != n or self.withdraw_reason is not None,
            review_close,
        )
        if not reviewed:
            self.withdraw_reason = msg.NOT_REVIEWED_IN_TIME

    async def _reassign(self, outcome: TaskState, reason: str, window_close: datetime) -> None:
        """Close the current assignment and hand the task to the next eligible inspector (domain rule)."""
        if workflow.now() >= window_close:
            self.withdraw_reason = msg.WINDOW_CLOSED
            return
        self.handing_over = True
        try:
            async with self.db:
                request = ReassignRequest(self.task_id, self.round, outcome.value, reason)
                result = await call(AuditActivity.REASSIGN_TASK, request, ReassignOutcome)
        finally:
            self.handing_over = False
        self.round, self.inspector_id = result.round, result.inspector_id
        self.state = TaskState.ASSIGNED if result.inspector_id is not None else None
        self.release_reason, self.declined_reason = None, ""
        await self._report()

    async def _withdraw(self, reason: str) -> None:
        self.withdrawn = True
        previous, self.state = self.state, TaskState.WITHDRAWN
        # the current assignment ends too: withdrawn if it was running, else with its own outcome
        outcome = None
        if previous is not None:
            outcome = TaskState.WITHDRAWN.value if previous.is_open else previous.value
        record = TaskStateRecord(
            self.task_id,
            self.round,
            TaskState.WITHDRAWN.value,
            self.inspector_id,
            assignment_outcome=outcome,
            reason=reason,
        )
        await self._write(AuditActivity.RECORD_TASK_STATE, record)

    async def _remind(self, day: str) -> None:
        assert self.inspector_id is not None
        await notify(*self._notices().reminders(self.round, day, self.inspector_id))

    async def _mark_late(self) -> None:
        self.late = True
        state = self.state.value if self.state else None
        await self._write(
            AuditActivity.RECORD_TASK_STATE,
            TaskStateRecord(self.task_id, self.round, state, self.inspector_id, late=True),
        )
        quality = self._context().quality_user_id
        if quality is not None:
            await notify(self._notices().late(self.deadline_moves, quality))
        await self._report()
