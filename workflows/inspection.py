"""QualiParis `InspectionWorkflow`, one per audit task (`inspection-<task id>`), started by its campaign in waves.

It reports each change by signal to the campaign's workflow id (whatever its current run) and closes itself at
the window end. The rules (submission, acceptance delay, deadline extension, score) are in `domain.audit`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from contracts.audit import (
        INSPECTION_WORKFLOW,
        TASK_PROGRESS_SIGNAL,
        UNASSIGNED,
        AcceptTask,
        ApproveTask,
        AssignTask,
        AuditActivity,
        AuditError,
        DeclineTask,
        DueDateRecord,
        ExtendDeadline,
        InspectionInput,
        InspectionResult,
        ManualAssignment,
        ReassignOutcome,
        ReassignRequest,
        ReleaseTask,
        ReviewRecord,
        SendBackTask,
        SubmissionRecord,
        SubmitChecklist,
        TaskContext,
        TaskProgress,
        TaskStateRecord,
        TaskView,
        WithdrawTask,
    )
    from domain.audit import messages as msg
    from domain.audit.campaign import is_late, paris_date, paris_day_end, reminder_times
    from domain.audit.inspection import (
        RELEASABLE,
        ActionRefused,
        Refusal,
        acceptance_deadline,
        check_assignable,
        check_extension,
        check_inspector_action,
        check_task_action,
        score_permille,
        submission_errors,
    )
    from domain.audit.referentiel import Referentiel, load_referentiel
    from domain.audit.scoring import score_site
    from domain.audit.task_states import TaskEvent, TaskState, transition
    from ville.ids import audit_campaign_id
    from ville.temporal import SA_ARRONDISSEMENT, SA_BUSINESS_STATUS
    from workflows.audit_calls import business_failure, call, notify, run, sa_enabled, wait_until
    from workflows.inspection_notices import TaskNotices

_API_ERRORS = {
    Refusal.ILLEGAL: AuditError.ILLEGAL_TRANSITION,
    Refusal.NOT_YOURS: AuditError.NOT_YOUR_TASK,
    Refusal.ASSIGNED: AuditError.INVALID_ASSIGNMENT,
    Refusal.INVALID: AuditError.INVALID_CHANGE,
}


@contextmanager
def _refused() -> Iterator[None]:
    """A domain refusal as the update failure the API maps by type (with the field, when one is wrong)."""
    try:
        yield
    except ActionRefused as err:
        kind = _API_ERRORS[err.kind]
        if err.field is None:
            raise ApplicationError(err.message, type=kind) from None
        raise ApplicationError(err.message, [{"field": err.field, "message": err.message}], type=kind) from None


@workflow.defn(name=INSPECTION_WORKFLOW)
class InspectionWorkflow:
    """One audit task: assignment, acceptance, submission, review; the result frozen when approved."""

    @workflow.init
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
        self.window_start, self.window_end = date.fromisoformat(ctx.window_start), date.fromisoformat(ctx.window_end)
        self.due_on, self.review_deadline = date.fromisoformat(ctx.due_on), date.fromisoformat(ctx.review_deadline)
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

    def _finished(self) -> bool:
        return self.withdrawn or self.state is TaskState.APPROVED

    def _status(self) -> str:
        return UNASSIGNED if self.state is None else self.state.value

    def _context(self) -> TaskContext:
        assert self.ctx is not None
        return self.ctx

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

    def _interrupted(self) -> bool:
        return self.withdraw_reason is not None or self._releasing()

    def _closing(self) -> bool:
        return self.withdrawn or self.withdraw_reason is not None

    def _releasing(self) -> bool:
        return self.release_reason is not None and self.state in RELEASABLE

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

    def _notices(self) -> TaskNotices:
        return TaskNotices(self.task_id, self._context(), (self.window_start, self.window_end), self.due_on)

    async def _write(self, activity: str, record: Any) -> None:
        """Persist a change: one database write at a time, in workflow order."""
        async with self.db:
            await run(activity, record)

    async def _answer(self) -> TaskView:
        """Tell the campaign, then answer the update with the task's view."""
        await self._report()
        return self.view()

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

    # --- handlers ----------------------------------------------------------------------------------

    def _check(self, inspector_id: int, event: TaskEvent) -> None:
        """Refuse an inspector's action on a task that is not his or not in the right state."""
        if self.ctx is None:
            raise ApplicationError(msg.TASK_LOADING, type=AuditError.ILLEGAL_TRANSITION)
        with _refused():
            holder, closed = self.inspector_id, self.withdrawn
            check_inspector_action(inspector_id, holder, closed, self._releasing(), self.state, event)

    def _check_state(self, event: TaskEvent) -> None:
        with _refused():
            check_task_action(self.state, self.withdrawn, event)

    async def _opened(self) -> None:
        # accept/decline may arrive while the task is loading or changing hands: wait instead of refusing
        await workflow.wait_condition(self._settled)

    def _settled(self) -> bool:
        """Loaded and not changing hands: the in-memory inspector and state can judge an inspector's action."""
        return self.ctx is not None and not self.handing_over

    async def _move(self, event: TaskEvent) -> None:
        """Apply an inspector's event to the task, record the new state, tell the campaign."""
        assert self.state is not None
        self.state = transition(self.state, event)
        await self._write(
            AuditActivity.RECORD_TASK_STATE,
            TaskStateRecord(self.task_id, self.round, self.state.value, self.inspector_id),
        )
        await self._report()

    @workflow.update
    async def accept(self, req: AcceptTask) -> TaskView:
        """The inspector accepts the task."""
        await self._opened()
        self._check(req.inspector_id, TaskEvent.ACCEPT)
        await self._move(TaskEvent.ACCEPT)
        return self.view()

    @accept.validator
    def _validate_accept(self, req: AcceptTask) -> None:
        if self._settled():
            self._check(req.inspector_id, TaskEvent.ACCEPT)

    @workflow.update
    async def decline(self, req: DeclineTask) -> TaskView:
        """The inspector declines: the task goes to the next eligible inspector."""
        await self._opened()
        self._check(req.inspector_id, TaskEvent.DECLINE)
        assert self.state is not None
        r = self.round
        self.state = transition(self.state, TaskEvent.DECLINE)
        self.declined_reason = (req.reason.strip() or msg.DECLINED_BY_INSPECTOR)[: msg.REASON_MAX_LENGTH]
        # answer once the main loop has handed the task over (round moves on even if nobody is found)
        await workflow.wait_condition(lambda: self.round != r or self._finished())
        return self.view()

    @decline.validator
    def _validate_decline(self, req: DeclineTask) -> None:
        if self._settled():
            self._check(req.inspector_id, TaskEvent.DECLINE)

    @workflow.update
    async def submit(self, req: SubmitChecklist) -> TaskView:
        """The inspector submits the checklist (validated against the audit standard beforehand)."""
        self._validate_submit(req)  # state may have moved since the validator ran
        assert self.state is not None
        self.state = transition(self.state, TaskEvent.SUBMIT)
        self.submissions += 1
        self.answers = dict(req.answers)
        evidence = {k: list(v) for k, v in req.evidence.items()}
        record = SubmissionRecord(
            self.task_id,
            self.round,
            req.inspector_id,
            req.visit_date,
            self.answers,
            evidence,
            req.comment,
            self.submissions,
        )
        await self._write(AuditActivity.SAVE_SUBMISSION, record)
        return await self._answer()

    @submit.validator
    def _validate_submit(self, req: SubmitChecklist) -> None:
        self._check(req.inspector_id, TaskEvent.SUBMIT)
        ctx = self._context()
        assert self.referentiel is not None
        window, keys = (self.window_start, self.window_end), (self.campaign_id, self.task_id)
        errors = submission_errors(
            self.referentiel,
            ctx.site_type,
            ctx.mode,
            req.answers,
            req.evidence,
            req.visit_date,
            window,
            keys,
            workflow.now(),
        )
        if errors:
            details = [{"field": e.field, "message": e.message} for e in errors]
            raise ApplicationError(
                msg.submission_refused(errors), details, type=AuditError.INVALID_SUBMISSION, non_retryable=True
            )

    @workflow.update
    async def approve(self, req: ApproveTask) -> TaskView:
        """The reviewer approves: the score is computed (domain) and the result frozen."""
        self._validate_approve(req)
        ctx = self._context()
        assert self.referentiel is not None and self.state is not None
        self.state = transition(self.state, TaskEvent.APPROVE)
        self.score_permille = score_permille(score_site(self.referentiel, ctx.site_type, ctx.mode, self.answers))
        self.comment = req.comment
        review = ReviewRecord(
            self.task_id, self.round, True, req.reviewer_user_id, req.comment, self.score_permille, self.send_backs
        )
        await self._write(AuditActivity.RECORD_REVIEW, review)
        return await self._answer()

    @approve.validator
    def _validate_approve(self, req: ApproveTask) -> None:
        self._check_state(TaskEvent.APPROVE)

    @workflow.update
    async def send_back(self, req: SendBackTask) -> TaskView:
        """The reviewer sends the result back to the inspector with comments."""
        self._validate_send_back(req)
        assert self.state is not None and self.inspector_id is not None
        self.state = transition(self.state, TaskEvent.SEND_BACK)
        self.send_backs += 1
        self.comment = req.comment.strip()
        review = ReviewRecord(
            self.task_id, self.round, False, req.reviewer_user_id, self.comment, None, self.send_backs
        )
        await self._write(AuditActivity.RECORD_REVIEW, review)
        await notify(self._notices().sent_back(self.send_backs, self.inspector_id, self.comment))
        return await self._answer()

    @send_back.validator
    def _validate_send_back(self, req: SendBackTask) -> None:
        self._check_state(TaskEvent.SEND_BACK)
        if not req.comment.strip():
            details = [{"field": "comment", "message": msg.COMMENT_REQUIRED_FIELD}]
            raise ApplicationError(msg.COMMENT_REQUIRED, details, type=AuditError.INVALID_REVIEW)

    @workflow.update
    async def assign(self, req: AssignTask) -> TaskView:
        """The quality team assigns a task left without inspector."""
        self._validate_assign(req)
        self.handing_over = True
        try:
            async with self.db:
                request = ManualAssignment(self.task_id, self.round, req.inspector_id, req.by_user_id)
                result = await call(AuditActivity.ASSIGN_TASK, request, ReassignOutcome)
        except ActivityError as err:
            raise business_failure(err) from None
        finally:
            self.handing_over = False
        self.inspector_id, self.round, self.state = result.inspector_id, result.round, TaskState.ASSIGNED
        return await self._answer()

    @assign.validator
    def _validate_assign(self, req: AssignTask) -> None:
        with _refused():
            check_assignable(self.ctx is None or self._closing(), self.state, self.inspector_id)

    @workflow.update
    async def extend_deadline(self, req: ExtendDeadline) -> TaskView:
        """Move the due date later: reminders and late detection follow the new date (durable timers)."""
        await workflow.wait_condition(lambda: self.ctx is not None)  # may arrive while the task loads
        self._validate_extend(req)  # state may have moved since the validator ran
        new_due = date.fromisoformat(req.new_due_on)
        self.due_on, self.deadline_moves = new_due, self.deadline_moves + 1
        if self.late and not is_late(new_due, False, workflow.now()):
            self.late = False  # no longer late: it goes late again (with a fresh alert) at the new date
        await self._write(AuditActivity.RECORD_DUE_DATE, DueDateRecord(self.task_id, req.new_due_on, self.late))
        return await self._answer()

    @extend_deadline.validator
    def _validate_extend(self, req: ExtendDeadline) -> None:
        if self.ctx is None:
            return  # checked by the handler once the task is loaded
        with _refused():
            window = (self.window_start, self.window_end)
            check_extension(self._finished() or self._closing(), self.state, self.due_on, req.new_due_on, window)

    @workflow.signal
    def release(self, req: ReleaseTask) -> None:
        """The campaign declared the inspector unavailable: hand the task over (after review if submitted)."""
        if not self._finished() and self.state is not None:
            self.release_reason = req.reason[: msg.REASON_MAX_LENGTH]

    @workflow.signal
    def withdraw(self, req: WithdrawTask) -> None:
        """The campaign withdrew the task (site withdrawn)."""
        if not self._finished():
            self.withdraw_reason = req.reason[: msg.REASON_MAX_LENGTH]

    @workflow.query
    def view(self) -> TaskView:
        """Where the task stands."""
        return TaskView(
            self.task_id,
            self._status(),
            self.inspector_id,
            self.round,
            self.submissions,
            self.send_backs,
            self.late,
            self.comment,
            self.score_permille,
        )
