"""The inspection workflow's updates (with their validators), signals and query: what inspectors and reviewers ask.

The rules they apply are in `domain.audit.inspection`; a domain refusal becomes the update failure the API maps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.audit_inspection import (
        AcceptTask,
        ApproveTask,
        AssignTask,
        DeclineTask,
        DueDateRecord,
        ExtendDeadline,
        ManualAssignment,
        ReassignOutcome,
        ReleaseTask,
        ReviewRecord,
        SendBackTask,
        SubmissionRecord,
        SubmitChecklist,
        TaskStateRecord,
        TaskView,
        WithdrawTask,
    )
    from contracts.audit_names import AuditActivity, AuditError
    from domain.audit import messages as msg
    from domain.audit.campaign import is_late
    from domain.audit.inspection import (
        ActionRefused,
        Refusal,
        check_assignable,
        check_extension,
        check_inspector_action,
        check_task_action,
        score_permille,
        submission_errors,
    )
    from domain.audit.scoring import score_site
    from domain.audit.task_states import TaskEvent, TaskState, transition
    from workflows.audit_calls import business_failure, call, notify

from workflows.inspection_task import InspectionTask

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


class InspectionHandlers(InspectionTask):
    """Updates, signals and query of `InspectionWorkflow` (mixed into it)."""

    async def _answer(self) -> TaskView:
        """Tell the campaign, then answer the update with the task's view."""
        await self._report()
        return self.view()

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
        self.due_on, self.deadline_moves = req.new_due_on, self.deadline_moves + 1
        if self.late and not is_late(req.new_due_on, False, workflow.now()):
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
