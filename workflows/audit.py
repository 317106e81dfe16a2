"""QualiParis workflows: `AuditCampaignWorkflow` per campaign, `InspectionWorkflow` per audit task.

Scale: a campaign of 2,000 sites has up to 6,000 tasks, all open for weeks, far beyond the ~2,000
pending children a Temporal workflow may hold. So the campaign starts its inspections in waves
through one activity per wave (idempotent starts by workflow id `inspection-<task id>`): it holds no
pending children at all and a wave costs a few history events. Inspections report each change by
signal to the campaign's workflow id (whatever its current run); the campaign continues as new when
its history grows, carrying only task ids and statuses. Each inspection closes itself at the window
end, so closing costs no fan-out of signals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from contracts.audit import (
        AUDIT_CAMPAIGN_WORKFLOW,
        INSPECTION_WORKFLOW,
        NOT_STARTED,
        SEND_NOTIFICATIONS,
        UNASSIGNED,
        AcceptTask,
        ApproveTask,
        AssignTask,
        AuditActivity,
        AuditCampaignInput,
        AuditCampaignResult,
        AuditError,
        CampaignCarry,
        CampaignInspectorUnavailable,
        CampaignProgress,
        CampaignSiteAdd,
        CampaignSiteWithdrawal,
        CampaignStatusChange,
        ChangeAck,
        DeclineTask,
        DueDateRecord,
        ExtendDeadline,
        InspectionInput,
        InspectionResult,
        InspectorUnavailable,
        ManualAssignment,
        Notice,
        PlanResult,
        ReassignOutcome,
        ReassignRequest,
        ReauditPlan,
        RecipientKind,
        ReleaseTask,
        ReportKeys,
        ResultsRequest,
        ResultsSummary,
        ReviewRecord,
        SendBackTask,
        SiteChange,
        SiteWithdrawal,
        SiteWithdrawalResult,
        StartCampaign,
        StartInspections,
        SubmissionRecord,
        SubmitChecklist,
        TaskContext,
        TaskProgress,
        TaskStateRecord,
        TaskView,
        WithdrawTask,
    )
    from contracts.delivery import NotificationOutcome
    from domain.audit.campaign import (
        PARIS,
        check_deadline_extension,
        paris_date,
        paris_day_end,
        paris_time,
        reminder_times,
    )
    from domain.audit.checklist import FieldError, validate_submission
    from domain.audit.evidence import evidence_prefix, foreign_keys
    from domain.audit.referentiel import AuditMode, Referentiel, load_referentiel
    from domain.audit.scoring import score_site
    from domain.audit.task_states import IllegalTransition, TaskEvent, TaskState, transition
    from domain.calendar import format_date_fr
    from ville.ids import audit_campaign_id, inspection_id
    from ville.temporal import SA_ARRONDISSEMENT, SA_BUSINESS_STATUS, SA_CAMPAIGN

T = TypeVar("T")

# bounded (~3 h at the 1 min cap): a step that still fails then fails the run, which the console lists
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1), maximum_attempts=200)
_DB_TIMEOUT = timedelta(seconds=60)
_BATCH_TIMEOUT = timedelta(minutes=15)
_REVIEW_MARGIN = timedelta(hours=1)  # after the review deadline, time for inspections' last reports
_RELEASABLE = (TaskState.ASSIGNED, TaskState.ACCEPTED, TaskState.SENT_BACK)


async def _call(name: str, arg: Any, result_type: type[T], timeout: timedelta = _DB_TIMEOUT) -> T:
    """Run an activity by its registered name with the standard retry policy."""
    result = await workflow.execute_activity(
        name, arg, start_to_close_timeout=timeout, retry_policy=_RETRY, result_type=result_type
    )
    return cast(T, result)


async def _run(name: str, arg: Any, timeout: timedelta = _DB_TIMEOUT) -> None:
    """Run an activity that returns nothing."""
    await workflow.execute_activity(name, arg, start_to_close_timeout=timeout, retry_policy=_RETRY)


async def _notify(*notices: Notice) -> None:
    """Send messages through the shared notification activity (each once per key)."""
    if notices:
        await workflow.execute_activity(
            SEND_NOTIFICATIONS,
            list(notices),
            result_type=NotificationOutcome,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_RETRY,
        )


async def _wait_until(condition: Callable[[], bool], until: datetime) -> bool:
    """Wait for `condition` until the instant `until`; False on timeout (a durable timer)."""
    remaining = until - workflow.now()
    if remaining <= timedelta(0):
        return condition()
    try:
        await workflow.wait_condition(condition, timeout=remaining)
    except TimeoutError:
        return condition()
    return True


def _business_failure(err: ActivityError) -> ApplicationError:
    """Turn an activity's business failure into an update failure the API can map (by type)."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return ApplicationError(cause.message, type=cause.type, non_retryable=True)
    return ApplicationError("Opération impossible pour le moment", type=AuditError.INVALID_CHANGE)


def _sa_enabled() -> bool:
    # The namespace has our search attributes only if the start set them (the time-skipping test
    # server has no custom search attributes): upsert only then.
    return workflow.info().typed_search_attributes.get(SA_CAMPAIGN) is not None


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def _time_fr(ts: datetime) -> str:
    local = ts.astimezone(PARIS)
    return f"{format_date_fr(local.date())} à {local:%H:%M}"


# --- inspection -----------------------------------------------------------------------------------


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
        self.round = 0
        self.submissions = 0
        self.send_backs = 0
        self.late = False
        self.comment = ""
        self.answers: dict[str, Any] = {}
        self.score_permille: int | None = None
        self.declined_reason = ""
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
        ctx = await _call(AuditActivity.LOAD_TASK, inp.task_id, TaskContext)
        self.referentiel = load_referentiel(ctx.referentiel)
        self.state = TaskState(ctx.state) if ctx.state else None
        self.inspector_id, self.round = ctx.inspector_id, ctx.round
        self.submissions, self.send_backs, self.late = ctx.submissions, ctx.send_backs, ctx.late
        self.answers = dict(ctx.answers)  # a restarted inspection can still score a stored submission
        self.withdrawn = self.state is TaskState.WITHDRAWN
        if not ctx.inspector_available and self.state in (*_RELEASABLE, TaskState.SUBMITTED):
            self.release_reason = "Inspecteur indisponible"
        self.window_start, self.window_end = date.fromisoformat(ctx.window_start), date.fromisoformat(ctx.window_end)
        self.due_on, self.review_deadline = date.fromisoformat(ctx.due_on), date.fromisoformat(ctx.review_deadline)
        self.ctx = ctx
        if _sa_enabled():
            workflow.upsert_search_attributes([SA_ARRONDISSEMENT.value_set(ctx.arrondissement)])
        await self._report()
        window_close = paris_day_end(self.window_end)
        review_close = paris_day_end(self.review_deadline)
        while not self._finished():
            if self.withdraw_reason is not None:
                await self._withdraw(self.withdraw_reason)
            elif self.release_reason is not None and self.state in _RELEASABLE:
                assert self.state is not None
                self.state = transition(self.state, TaskEvent.WITHDRAW)
                await self._reassign(TaskState.WITHDRAWN, self.release_reason, window_close)
            elif self.state is None:
                await self._await_assignment(window_close)
            elif self.state is TaskState.ASSIGNED:
                await self._await_acceptance(window_close)
            elif self.state is TaskState.DECLINED:
                await self._reassign(
                    TaskState.DECLINED, self.declined_reason or "Refusée par l'inspecteur", window_close
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
        ctx, r = self._context(), self.round
        if ctx.quality_user_id is not None:
            await _notify(
                self._notice(f"r{r}-unassigned", "audit_task_unassigned", RecipientKind.QUALITY, ctx.quality_user_id)
            )
        assigned = await _wait_until(
            lambda: self.inspector_id is not None or self.withdraw_reason is not None, window_close
        )
        if not assigned:
            self.withdraw_reason = "Fenêtre de campagne close sans inspecteur"

    async def _await_acceptance(self, window_close: datetime) -> None:
        ctx, r, inspector = self._context(), self.round, self.inspector_id
        assert inspector is not None
        accept_by = min(workflow.now() + timedelta(hours=ctx.accept_hours), window_close)
        await _notify(
            self._notice(
                f"r{r}-assigned",
                "audit_task_assigned",
                RecipientKind.INSPECTOR,
                inspector,
                accept_by=_time_fr(accept_by),
            )
        )
        answered = await _wait_until(
            lambda: self.state is not TaskState.ASSIGNED or self.round != r or self._interrupted(), accept_by
        )
        if answered or self.state is not TaskState.ASSIGNED:
            return  # accepted, declined, released or withdrawn: the main loop goes on
        if workflow.now() >= window_close:
            self.withdraw_reason = "Fenêtre de campagne close avant l'acceptation"
            return
        self.state = transition(TaskState.ASSIGNED, TaskEvent.EXPIRE)
        await self._reassign(TaskState.EXPIRED, "Pas de réponse dans le délai d'acceptation", window_close)

    async def _await_submission(self, close: datetime) -> None:
        r, state, moves = self.round, self.state, self.deadline_moves
        reminders = reminder_times(self.due_on, workflow.now()) if self.submissions == 0 else []
        late_at = paris_day_end(self.due_on)
        while True:
            upcoming = [*reminders, close]
            if not self.late and self.submissions == 0 and late_at < close:
                upcoming.append(late_at)
            changed = await _wait_until(
                lambda: (
                    self.state is not state or self.round != r or self._interrupted() or self.deadline_moves != moves
                ),
                min(upcoming),
            )
            if changed:
                return
            now = workflow.now()
            if now >= close:
                self.withdraw_reason = "Fenêtre close sans soumission du résultat"
                return
            due = [t for t in reminders if t <= now]
            reminders = [t for t in reminders if t > now]
            if due:
                await self._remind(paris_date(due[-1]).isoformat())
            if not self.late and self.submissions == 0 and now >= late_at:
                await self._mark_late()

    async def _await_review(self, review_close: datetime) -> None:
        n = self.submissions
        reviewed = await _wait_until(
            lambda: self.state is not TaskState.SUBMITTED or self.submissions != n or self.withdraw_reason is not None,
            review_close,
        )
        if not reviewed:
            self.withdraw_reason = "Résultat non revu avant la date limite de revue"

    def _interrupted(self) -> bool:
        return self.withdraw_reason is not None or (self.release_reason is not None and self.state in _RELEASABLE)

    async def _reassign(self, outcome: TaskState, reason: str, window_close: datetime) -> None:
        """Close the current assignment and hand the task to the next eligible inspector (domain rule)."""
        if workflow.now() >= window_close:
            self.withdraw_reason = "Fenêtre de campagne close"
            return
        self.handing_over = True
        try:
            async with self.db:
                result = await _call(
                    AuditActivity.REASSIGN_TASK,
                    ReassignRequest(self.task_id, self.round, outcome.value, reason),
                    ReassignOutcome,
                )
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
        async with self.db:
            await _run(
                AuditActivity.RECORD_TASK_STATE,
                TaskStateRecord(
                    self.task_id,
                    self.round,
                    TaskState.WITHDRAWN.value,
                    self.inspector_id,
                    assignment_outcome=outcome,
                    reason=reason,
                ),
            )

    async def _remind(self, day: str) -> None:
        inspector = self.inspector_id
        assert inspector is not None
        due = format_date_fr(self.due_on)
        await _notify(
            self._notice(
                f"r{self.round}-reminder-{day}-email",
                "audit_task_reminder",
                RecipientKind.INSPECTOR,
                inspector,
                due_on=due,
            ),
            self._notice(
                f"r{self.round}-reminder-{day}-sms",
                "audit_task_reminder",
                RecipientKind.INSPECTOR,
                inspector,
                channel="sms",
                due_on=due,
            ),
        )

    async def _mark_late(self) -> None:
        self.late = True
        # after a deadline extension the alert names the new due date (and is not mistaken for the first one)
        suffix = "late" if self.deadline_moves == 0 else f"late-{self.due_on.isoformat()}"
        async with self.db:
            await _run(
                AuditActivity.RECORD_TASK_STATE,
                TaskStateRecord(
                    self.task_id, self.round, self.state.value if self.state else None, self.inspector_id, late=True
                ),
            )
        ctx = self._context()
        if ctx.quality_user_id is not None:
            await _notify(
                self._notice(
                    suffix,
                    "audit_task_late",
                    RecipientKind.QUALITY,
                    ctx.quality_user_id,
                    due_on=format_date_fr(self.due_on),
                )
            )
        await self._report()

    def _notice(
        self, suffix: str, template: str, kind: str, recipient: int, channel: str = "email", **extra: str
    ) -> Notice:
        ctx = self._context()
        return Notice(
            key=f"audit-task-{self.task_id}-{suffix}",
            channel=channel,
            template=template,
            recipient_kind=kind,
            recipient_id=recipient,
            subject_ref=f"T{self.task_id}",
            context={
                "task_id": str(self.task_id),
                "site_name": ctx.site_name,
                "site_type": ctx.site_type_label,
                "arrondissement": str(ctx.arrondissement),
                "mode": AuditMode(ctx.mode).label,
                "window_start": format_date_fr(self.window_start),
                "window_end": format_date_fr(self.window_end),
                "due_on": format_date_fr(self.due_on),
                **extra,
            },
        )

    async def _report(self, finished: bool = False) -> None:
        """Tell the campaign (its current run, by workflow id) where this task stands."""
        status = self._status()
        if _sa_enabled():
            workflow.upsert_search_attributes([SA_BUSINESS_STATUS.value_set(status)])
        campaign = workflow.get_external_workflow_handle_for(
            AuditCampaignWorkflow.run, audit_campaign_id(self.campaign_id)
        )
        try:
            await campaign.signal(
                AuditCampaignWorkflow.task_progress,
                TaskProgress(self.task_id, status, self.inspector_id, late=self.late, finished=finished),
            )
        except FailureError:
            # the campaign is already closed (a straggler's last word): nothing waits for it any more
            workflow.logger.info("audit.campaign_gone", extra={"task_id": self.task_id})

    # --- handlers ----------------------------------------------------------------------------------

    def _check(self, inspector_id: int, event: TaskEvent) -> None:
        """Refuse an inspector's action on a task that is not his or not in the right state."""
        if self.ctx is None:
            raise ApplicationError(
                "Tâche en cours d'ouverture, réessayez dans un instant", type=AuditError.ILLEGAL_TRANSITION
            )
        if self.inspector_id is None or inspector_id != self.inspector_id or self.withdrawn:
            raise ApplicationError("Tâche introuvable", type=AuditError.NOT_YOUR_TASK)
        if self.release_reason is not None and self.state in _RELEASABLE:
            raise ApplicationError("Cette tâche est en cours de réattribution", type=AuditError.ILLEGAL_TRANSITION)
        self._check_state(event)

    def _check_state(self, event: TaskEvent) -> None:
        if self.state is None or self.withdrawn:
            raise ApplicationError(
                "Aucune action possible : la tâche n'a pas d'inspecteur ou est close",
                type=AuditError.ILLEGAL_TRANSITION,
            )
        try:
            transition(self.state, event)
        except IllegalTransition as err:
            raise ApplicationError(str(err), type=AuditError.ILLEGAL_TRANSITION) from None

    async def _opened(self) -> None:
        # accept/decline may arrive while the task is loading or changing hands: wait instead of refusing
        await workflow.wait_condition(lambda: self.ctx is not None and not self.handing_over)

    def _settled(self) -> bool:
        """Loaded and not changing hands: the in-memory inspector and state can judge an inspector's action."""
        return self.ctx is not None and not self.handing_over

    @workflow.update
    async def accept(self, req: AcceptTask) -> TaskView:
        """The inspector accepts the task."""
        await self._opened()
        self._check(req.inspector_id, TaskEvent.ACCEPT)
        assert self.state is not None
        self.state = transition(self.state, TaskEvent.ACCEPT)
        async with self.db:
            await _run(
                AuditActivity.RECORD_TASK_STATE,
                TaskStateRecord(self.task_id, self.round, self.state.value, self.inspector_id),
            )
        await self._report()
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
        self.declined_reason = (req.reason.strip() or "Refusée par l'inspecteur")[:300]
        # answer once the main loop has handed the task over (round moves on even if nobody is found)
        await workflow.wait_condition(lambda: self.round != r or self._finished())
        return self.view()

    @decline.validator
    def _validate_decline(self, req: DeclineTask) -> None:
        if self._settled():
            self._check(req.inspector_id, TaskEvent.DECLINE)

    @workflow.update
    async def submit(self, req: SubmitChecklist) -> TaskView:
        """The inspector submits the checklist (validated against the référentiel beforehand)."""
        self._validate_submit(req)  # state may have moved since the validator ran
        assert self.state is not None
        self.state = transition(self.state, TaskEvent.SUBMIT)
        self.submissions += 1
        self.answers = dict(req.answers)
        record = SubmissionRecord(
            self.task_id,
            self.round,
            req.inspector_id,
            req.visit_date,
            self.answers,
            {k: list(v) for k, v in req.evidence.items()},
            req.comment,
            self.submissions,
        )
        async with self.db:
            await _run(AuditActivity.SAVE_SUBMISSION, record)
        await self._report()
        return self.view()

    @submit.validator
    def _validate_submit(self, req: SubmitChecklist) -> None:
        self._check(req.inspector_id, TaskEvent.SUBMIT)
        ctx = self._context()
        assert self.referentiel is not None
        visit_date = _parse_date(req.visit_date)
        errors = validate_submission(
            self.referentiel,
            ctx.site_type,
            ctx.mode,
            req.answers,
            req.evidence,
            visit_date or self.window_start,
            self.window_start,
            self.window_end,
        )
        if visit_date is None:
            errors.append(FieldError("visit_date", "Date de l'audit invalide : format attendu AAAA-MM-JJ."))
        errors.extend(foreign_keys(evidence_prefix(self.campaign_id, self.task_id), req.evidence))
        if visit_date is not None and visit_date > paris_date(workflow.now()):
            errors.append(
                FieldError(
                    "visit_date",
                    f"La date de l'audit ({format_date_fr(visit_date)}) ne peut pas être dans le futur.",
                )
            )
        if errors:
            more = f" (et {len(errors) - 1} autre(s) point(s) à corriger)" if len(errors) > 1 else ""
            raise ApplicationError(
                f"Soumission refusée : {errors[0].message}{more}",
                [{"field": e.field, "message": e.message} for e in errors],
                type=AuditError.INVALID_SUBMISSION,
                non_retryable=True,
            )

    @workflow.update
    async def approve(self, req: ApproveTask) -> TaskView:
        """The reviewer approves: the score is computed (domain) and the result frozen."""
        self._validate_approve(req)
        ctx = self._context()
        assert self.referentiel is not None and self.state is not None
        self.state = transition(self.state, TaskEvent.APPROVE)
        score = score_site(self.referentiel, ctx.site_type, ctx.mode, self.answers)
        self.score_permille = int(score.percent * 10)
        self.comment = req.comment
        async with self.db:
            await _run(
                AuditActivity.RECORD_REVIEW,
                ReviewRecord(
                    self.task_id,
                    self.round,
                    True,
                    req.reviewer_user_id,
                    req.comment,
                    self.score_permille,
                    self.send_backs,
                ),
            )
        await self._report()
        return self.view()

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
        async with self.db:
            await _run(
                AuditActivity.RECORD_REVIEW,
                ReviewRecord(
                    self.task_id, self.round, False, req.reviewer_user_id, self.comment, None, self.send_backs
                ),
            )
        await _notify(
            self._notice(
                f"sendback-{self.send_backs}",
                "audit_task_sent_back",
                RecipientKind.INSPECTOR,
                self.inspector_id,
                comment=self.comment,
            )
        )
        await self._report()
        return self.view()

    @send_back.validator
    def _validate_send_back(self, req: SendBackTask) -> None:
        self._check_state(TaskEvent.SEND_BACK)
        if not req.comment.strip():
            raise ApplicationError(
                "Un commentaire est obligatoire pour renvoyer le résultat à l'inspecteur",
                [{"field": "comment", "message": "Commentaire obligatoire"}],
                type=AuditError.INVALID_REVIEW,
            )

    @workflow.update
    async def assign(self, req: AssignTask) -> TaskView:
        """The quality team assigns a task left without inspector."""
        self._validate_assign(req)
        self.handing_over = True
        try:
            async with self.db:
                result = await _call(
                    AuditActivity.ASSIGN_TASK,
                    ManualAssignment(self.task_id, self.round, req.inspector_id, req.by_user_id),
                    ReassignOutcome,
                )
        except ActivityError as err:
            raise _business_failure(err) from None
        finally:
            self.handing_over = False
        self.inspector_id, self.round, self.state = result.inspector_id, result.round, TaskState.ASSIGNED
        await self._report()
        return self.view()

    @assign.validator
    def _validate_assign(self, req: AssignTask) -> None:
        if self.ctx is None or self.withdrawn or self.withdraw_reason is not None:
            raise ApplicationError("Tâche close ou en cours d'ouverture", type=AuditError.ILLEGAL_TRANSITION)
        if self.state is not None or self.inspector_id is not None:
            raise ApplicationError("Cette tâche a déjà un inspecteur", type=AuditError.INVALID_ASSIGNMENT)

    @workflow.update
    async def extend_deadline(self, req: ExtendDeadline) -> TaskView:
        """Move the due date later: reminders and late detection follow the new date (durable timers)."""
        await workflow.wait_condition(lambda: self.ctx is not None)  # may arrive while the task loads
        self._validate_extend(req)  # state may have moved since the validator ran
        new_due = date.fromisoformat(req.new_due_on)
        self.due_on, self.deadline_moves = new_due, self.deadline_moves + 1
        if self.late and workflow.now() < paris_day_end(new_due):
            self.late = False  # no longer late: it goes late again (with a fresh alert) at the new date
        async with self.db:
            await _run(AuditActivity.RECORD_DUE_DATE, DueDateRecord(self.task_id, req.new_due_on, self.late))
        await self._report()
        return self.view()

    @extend_deadline.validator
    def _validate_extend(self, req: ExtendDeadline) -> None:
        if self.ctx is None:
            return  # checked by the handler once the task is loaded
        if self._finished() or self.withdraw_reason is not None:
            raise ApplicationError("Tâche close ou en cours d'ouverture", type=AuditError.ILLEGAL_TRANSITION)
        if self.state is TaskState.SUBMITTED:
            raise ApplicationError("Le résultat est déjà soumis : rien à prolonger", type=AuditError.ILLEGAL_TRANSITION)
        new_due = _parse_date(req.new_due_on)
        try:
            if new_due is None:
                raise ValueError("Date attendue au format AAAA-MM-JJ.")
            check_deadline_extension(self.due_on, new_due, self.window_start, self.window_end)
        except ValueError as err:
            raise ApplicationError(
                str(err), [{"field": "new_due_on", "message": str(err)}], type=AuditError.INVALID_CHANGE
            ) from None

    @workflow.signal
    def release(self, req: ReleaseTask) -> None:
        """The campaign declared the inspector unavailable: hand the task over (after review if submitted)."""
        if not self._finished() and self.state is not None:
            self.release_reason = req.reason[:300]

    @workflow.signal
    def withdraw(self, req: WithdrawTask) -> None:
        """The campaign withdrew the task (site withdrawn)."""
        if not self._finished():
            self.withdraw_reason = req.reason[:300]

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


# --- campaign -------------------------------------------------------------------------------------


def _inspection(task_id: int) -> workflow.ExternalWorkflowHandle[InspectionWorkflow]:
    return workflow.get_external_workflow_handle_for(InspectionWorkflow.run, inspection_id(task_id))


@workflow.defn(name=AUDIT_CAMPAIGN_WORKFLOW)
class AuditCampaignWorkflow:
    """A campaign: plan, start inspections in waves, follow them, close, score, report, re-audit."""

    @workflow.init
    def __init__(self, inp: AuditCampaignInput) -> None:
        self.inp = inp
        self.carry: CampaignCarry | None = inp.carry
        self.finished: set[int] = set(inp.carry.finished) if inp.carry else set()
        self.late: set[int] = set(inp.carry.late) if inp.carry else set()
        self.phase = inp.carry.phase if inp.carry else "planning"

    @workflow.run
    async def run(self, inp: AuditCampaignInput) -> AuditCampaignResult:
        """Run the campaign to its report."""
        if self.carry is None:
            if inp.start_on is not None:
                self._set_phase("scheduled")
                opening = paris_time(date.fromisoformat(inp.start_on))
                if opening > workflow.now():
                    await workflow.sleep(opening - workflow.now())
            self._set_phase("planning")
            plan = await _call(AuditActivity.PLAN_CAMPAIGN, inp.campaign_id, PlanResult, _BATCH_TIMEOUT)
            self.carry = CampaignCarry(
                window_start=plan.window_start,
                window_end=plan.window_end,
                review_deadline=plan.review_deadline,
                to_start=list(plan.task_ids),
                statuses=dict.fromkeys((str(t) for t in plan.task_ids), NOT_STARTED),
            )
        carry = self.carry
        self._set_phase(carry.phase)
        window_close = paris_day_end(date.fromisoformat(carry.window_end))
        while carry.phase == "running":
            await self._start_wave()
            if self._should_continue_as_new():
                await self._continue_as_new()
            if workflow.now() >= window_close:
                carry.phase = "closing"
            elif not carry.to_start:
                await _wait_until(lambda: bool(carry.to_start) or self._should_continue_as_new(), window_close)
        if self.phase != "closing":
            self._set_phase("closing")
            await _run(AuditActivity.SET_CAMPAIGN_STATUS, CampaignStatusChange(inp.campaign_id, "closing"))
        # inspections close themselves at the window end; submitted ones wait for review until the deadline
        final = paris_day_end(date.fromisoformat(carry.review_deadline)) + _REVIEW_MARGIN
        while not self._all_finished() and workflow.now() < final:
            await self._start_wave()
            if self._should_continue_as_new():
                await self._continue_as_new()
            await _wait_until(
                lambda: self._all_finished() or bool(carry.to_start) or self._should_continue_as_new(), final
            )
        return await self._conclude()

    async def _conclude(self) -> AuditCampaignResult:
        inp, carry = self.inp, self._carry()
        self._set_phase("results")
        today = paris_date(workflow.now()).isoformat()
        summary = await _call(
            AuditActivity.COMPUTE_RESULTS, ResultsRequest(inp.campaign_id, today), ResultsSummary, _BATCH_TIMEOUT
        )
        reaudit = await _call(AuditActivity.SCHEDULE_REAUDIT, ResultsRequest(inp.campaign_id, today), ReauditPlan)
        if reaudit.campaign_id is not None:
            await self._schedule_reaudit(reaudit)
        report = await _call(AuditActivity.BUILD_REPORT, inp.campaign_id, ReportKeys, _BATCH_TIMEOUT)
        await _call(AuditActivity.NOTIFY_SITE_MANAGERS, inp.campaign_id, int, _BATCH_TIMEOUT)
        await _run(AuditActivity.SET_CAMPAIGN_STATUS, CampaignStatusChange(inp.campaign_id, "reported"))
        self._set_phase("reported")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return AuditCampaignResult(inp.campaign_id, summary, reaudit.campaign_id, report, carry.runs)

    async def _schedule_reaudit(self, plan: ReauditPlan) -> None:
        """Start the follow-up campaign now; it sleeps (durable timer) until its window opens."""
        assert plan.campaign_id is not None
        follow_up = AuditCampaignInput(
            plan.campaign_id,
            start_on=plan.start_on,
            wave_size=self.inp.wave_size,
            max_history_events=self.inp.max_history_events,
        )
        await _run(AuditActivity.START_CAMPAIGN, StartCampaign(follow_up, _sa_enabled()))

    # --- helpers -----------------------------------------------------------------------------------

    def _carry(self) -> CampaignCarry:
        assert self.carry is not None
        return self.carry

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        if self.carry is not None:
            self.carry.phase = phase if phase in ("running", "closing") else self.carry.phase
        if _sa_enabled():
            workflow.upsert_search_attributes([SA_BUSINESS_STATUS.value_set(phase)])

    def _all_finished(self) -> bool:
        carry = self._carry()
        return not carry.to_start and len(self.finished) >= len(carry.statuses)

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return info.get_current_history_length() >= self.inp.max_history_events or info.is_continue_as_new_suggested()

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        carry = self._carry()
        carry.finished, carry.late, carry.runs = sorted(self.finished), sorted(self.late), carry.runs + 1
        workflow.continue_as_new(
            AuditCampaignInput(self.inp.campaign_id, None, self.inp.wave_size, self.inp.max_history_events, carry)
        )

    async def _start_wave(self) -> None:
        """Start the next wave of inspections: one activity per `wave_size` tasks, a few history events."""
        carry = self._carry()
        batch = carry.to_start[: self.inp.wave_size]
        if not batch:
            return
        await _run(AuditActivity.START_INSPECTIONS, StartInspections(self.inp.campaign_id, batch, _sa_enabled()),
                   _BATCH_TIMEOUT)  # fmt: skip
        started = set(batch)
        carry.to_start = [t for t in carry.to_start if t not in started]
        carry.started += len(batch)

    async def _tell(self, task_ids: list[int], signal: Callable[[int], Awaitable[None]]) -> None:
        for task_id in task_ids:
            try:
                await signal(task_id)
            except FailureError:
                workflow.logger.info("audit.inspection_gone", extra={"task_id": task_id})

    # --- messages ----------------------------------------------------------------------------------

    @workflow.signal
    def task_progress(self, progress: TaskProgress) -> None:
        """An inspection reports its status."""
        if self.carry is None:
            return
        self.carry.statuses[str(progress.task_id)] = progress.status
        if progress.late:
            self.late.add(progress.task_id)
        else:
            self.late.discard(progress.task_id)  # a deadline extension can make a late task on time again
        if progress.finished:
            self.finished.add(progress.task_id)

    def _check_running(self) -> None:
        if self.carry is None or self.phase != "running":
            raise ApplicationError(
                "La campagne n'est pas en cours : modification impossible", type=AuditError.CAMPAIGN_CLOSED
            )

    @workflow.update
    async def add_site(self, change: SiteChange) -> ChangeAck:
        """Add a site late: its tasks are planned (domain assignment) and started with the next wave."""
        self._validate_add_site(change)
        try:
            ids = await _call(
                AuditActivity.ADD_SITE, CampaignSiteAdd(self.inp.campaign_id, change.site_id, change.modes), list[int]
            )
        except ActivityError as err:
            raise _business_failure(err) from None
        carry = self._carry()
        new = [t for t in ids if str(t) not in carry.statuses]
        for t in new:
            carry.statuses[str(t)] = NOT_STARTED
        carry.to_start.extend(new)
        return ChangeAck(new, f"{len(new)} tâche(s) planifiée(s) pour ce site")

    @add_site.validator
    def _validate_add_site(self, change: SiteChange) -> None:
        self._check_running()
        modes = [m for m in change.modes if m in {mode.value for mode in AuditMode}]
        if not change.modes or len(modes) != len(change.modes) or len(set(modes)) != len(modes):
            raise ApplicationError(
                "Modes d'audit invalides : visit, call ou email, sans doublon",
                [{"field": "modes", "message": "Modes d'audit invalides"}],
                type=AuditError.INVALID_CHANGE,
            )

    @workflow.update
    async def withdraw_site(self, change: SiteWithdrawal) -> ChangeAck:
        """Withdraw a site: its unfinished tasks are withdrawn."""
        self._validate_withdraw_site(change)
        try:
            result = await _call(
                AuditActivity.WITHDRAW_SITE,
                CampaignSiteWithdrawal(self.inp.campaign_id, change.site_id, change.reason),
                SiteWithdrawalResult,
            )
        except ActivityError as err:
            raise _business_failure(err) from None
        carry = self._carry()
        closed = set(result.closed_task_ids)
        carry.to_start = [t for t in carry.to_start if t not in closed]
        for t in closed:
            carry.statuses[str(t)] = TaskState.WITHDRAWN.value
            self.finished.add(t)
        carry.withdrawn_sites.append(change.site_id)
        notice = WithdrawTask(change.reason)
        await self._tell(result.open_task_ids, lambda t: _inspection(t).signal(InspectionWorkflow.withdraw, notice))
        return ChangeAck(sorted(closed | set(result.open_task_ids)), "Site retiré de la campagne")

    @withdraw_site.validator
    def _validate_withdraw_site(self, change: SiteWithdrawal) -> None:
        self._check_running()

    @workflow.update
    async def inspector_unavailable(self, change: InspectorUnavailable) -> ChangeAck:
        """An inspector becomes unavailable: his tasks in progress are handed to other inspectors."""
        self._validate_inspector_unavailable(change)
        try:
            ids = await _call(
                AuditActivity.INSPECTOR_UNAVAILABLE,
                CampaignInspectorUnavailable(self.inp.campaign_id, change.inspector_id, change.reason),
                list[int],
            )
        except ActivityError as err:
            raise _business_failure(err) from None
        carry = self._carry()
        if change.inspector_id not in carry.unavailable:
            carry.unavailable.append(change.inspector_id)
        waiting = set(carry.to_start)  # not started yet: they see the unavailability when they load
        started = [t for t in ids if t not in waiting]
        notice = ReleaseTask(change.reason)
        await self._tell(started, lambda t: _inspection(t).signal(InspectionWorkflow.release, notice))
        return ChangeAck(ids, f"{len(ids)} tâche(s) à réattribuer")

    @inspector_unavailable.validator
    def _validate_inspector_unavailable(self, change: InspectorUnavailable) -> None:
        self._check_running()

    @workflow.query
    def progress(self) -> CampaignProgress:
        """Counts by status, late tasks, waves started."""
        carry = self.carry
        if carry is None:
            return CampaignProgress(self.inp.campaign_id, self.phase, None, None, 0, 0, 0, {}, [], [], 1)
        counts: dict[str, int] = {}
        for status in carry.statuses.values():
            counts[status] = counts.get(status, 0) + 1
        return CampaignProgress(
            campaign_id=self.inp.campaign_id,
            phase=self.phase,
            window_start=carry.window_start,
            window_end=carry.window_end,
            total_tasks=len(carry.statuses),
            started=carry.started,
            finished=len(self.finished),
            by_status=dict(sorted(counts.items())),
            late_task_ids=sorted(t for t in self.late if t not in self.finished),
            unavailable_inspector_ids=sorted(carry.unavailable),
            runs=carry.runs,
        )
