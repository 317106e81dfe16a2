"""A family's contest of invoice lines: review deadline, reminder, escalation, decision, credit note."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.contests import (
        BILLING_TEAM,
        CREDIT_REFUSED,
        FAMILY,
        ContestActivity,
        ContestDecisionRequest,
        ContestDecisionResult,
        ContestNotice,
        ContestOutcome,
        ContestStatusChange,
        ContestView,
        LineContestInput,
        LineContestResult,
    )
    from domain.contests import (
        ALREADY_DECIDED,
        DECISION_IMPOSSIBLE,
        UNKNOWN_KIND,
        ContestRefused,
        ContestStatus,
        Decision,
        DecisionKind,
        check_decision,
        escalation_date,
        family_decision_message,
        family_opened_message,
        operator_escalation_message,
        operator_reminder_message,
        reminder_date,
        review_deadline,
    )
    from ville.temporal import SA_BUSINESS_STATUS
    from workflows.held_transfer import transfer_if_held_back
    from workflows.timing import MORNING_UTC

# Database and e-mail steps: patient (~2 days of an unavailable database or SES), still bounded.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=600,
    non_retryable_error_types=[CREDIT_REFUSED],
)
CALL = timedelta(seconds=30)


@workflow.defn
class LineContestWorkflow:
    """Holds one contest until a billing operator decides; reminds before the deadline, escalates after it."""

    @workflow.init
    def __init__(self, inp: LineContestInput) -> None:
        self.inp = inp
        opened = inp.opened_on
        self.deadline = review_deadline(opened)
        self.remind_on = reminder_date(opened)
        self.escalate_on = escalation_date(opened)
        self.status = ContestStatus.OPEN
        self.reminded = False
        self.escalated = False
        self.pending: Decision | None = None
        self.pending_by = 0
        self.result: ContestDecisionResult | None = None
        self.refusal: str | None = None

    @workflow.run
    async def run(self, inp: LineContestInput) -> LineContestResult:
        """Tell the family, wait for the decision (reminder, escalation), apply it, then resume the ladder."""
        self._publish()
        subject, body = family_opened_message(inp.invoice_number, sum(inp.lines.values()), self.deadline)
        await self._notify("contest_opened", f"contest-opened:{inp.contest_id}", FAMILY, subject, body)
        while self.result is None:
            if self.pending is not None:
                await self._apply(self.pending)
                continue
            timer = self._next_timer()
            if timer is None:
                await workflow.wait_condition(lambda: self.pending is not None)
                continue
            try:
                await workflow.wait_condition(lambda: self.pending is not None, timeout=timer)
            except TimeoutError:
                await self._on_timer()
        await self._after_decision()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return LineContestResult(inp.contest_id, self.status.value, self.result.credited_cents)

    def _next_timer(self) -> timedelta | None:
        """Time left before the reminder, then the escalation; None when both are done."""
        if self.escalated:
            return None
        day = self.remind_on if not self.reminded else self.escalate_on
        target = datetime.combine(day, MORNING_UTC, tzinfo=workflow.now().tzinfo)
        # a zero timeout would wait forever: a moment already passed fires at once
        return max(target - workflow.now(), timedelta(seconds=1))

    async def _on_timer(self) -> None:
        cid = self.inp.contest_id
        if not self.reminded:
            self.reminded = True
            await self._mark(ContestStatusChange(cid, self.status.value, reminded=True))
            subject, body = operator_reminder_message(cid, self.deadline)
            await self._notify("contest_reminder", f"contest-reminder:{cid}", BILLING_TEAM, subject, body)
            return
        self.escalated = True
        self.status = ContestStatus.ESCALATED
        self._publish()
        await self._mark(ContestStatusChange(cid, self.status.value))
        subject, body = operator_escalation_message(cid, self.deadline)
        await self._notify("contest_escalated", f"contest-escalated:{cid}", BILLING_TEAM, subject, body)

    async def _apply(self, decision: Decision) -> None:
        """Record the decision (credit note first); an invoice that can no longer take it sends it back."""
        outcome = ContestOutcome(
            self.inp.contest_id,
            self.inp.invoice_number,
            decision.status.value,
            dict(decision.credited),
            decision.answer,
            self.pending_by,
            workflow.now().date(),
        )
        try:
            await workflow.execute_activity(
                ContestActivity.DECIDE, outcome, result_type=bool, start_to_close_timeout=CALL, retry_policy=STORE_RETRY
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == CREDIT_REFUSED:
                self.refusal = cause.message
                self.pending = None
                return
            raise
        self.status = decision.status
        self.result = ContestDecisionResult(self.inp.contest_id, self.status.value, decision.credited_cents)
        self._publish()
        subject, body = family_decision_message(self.inp.invoice_number, decision)
        await self._notify("contest_decided", f"contest-decided:{self.inp.contest_id}", FAMILY, subject, body)

    async def _after_decision(self) -> None:
        """An invoice the contest held back from its transfer follows the ladder again (after a grace period)."""
        await transfer_if_held_back(self.inp.invoice_number, CALL, STORE_RETRY)

    async def _mark(self, change: ContestStatusChange) -> None:
        await workflow.execute_activity(
            ContestActivity.MARK, change, start_to_close_timeout=CALL, retry_policy=STORE_RETRY
        )

    async def _notify(self, template: str, key: str, audience: str, subject: str, body: str) -> None:
        notice = ContestNotice(
            key, self.inp.contest_id, self.inp.invoice_number, self.inp.account_id, audience, template, subject, body
        )
        await workflow.execute_activity(
            ContestActivity.NOTIFY, notice, result_type=int, start_to_close_timeout=CALL, retry_policy=STORE_RETRY
        )

    def _publish(self) -> None:
        workflow.upsert_search_attributes([SA_BUSINESS_STATUS.value_set(self.status.value)])

    @workflow.update
    async def decide(self, req: ContestDecisionRequest) -> ContestDecisionResult:
        """A billing operator's decision; answers once the credit note and the decision are recorded."""
        self.pending = self._checked(req)
        self.pending_by = req.operator_user_id
        self.refusal = None
        await workflow.wait_condition(lambda: self.result is not None or self.refusal is not None)
        if self.result is None:
            raise ApplicationError(self.refusal or DECISION_IMPOSSIBLE, type=CREDIT_REFUSED, non_retryable=True)
        return self.result

    @decide.validator
    def _validate_decision(self, req: ContestDecisionRequest) -> None:
        if self.result is not None or self.pending is not None:
            raise ValueError(ALREADY_DECIDED)
        self._checked(req)

    def _checked(self, req: ContestDecisionRequest) -> Decision:
        try:
            kind = DecisionKind(req.kind)
        except ValueError:
            raise ValueError(UNKNOWN_KIND) from None
        try:
            return check_decision(self.inp.lines, kind, req.amounts_by_activity, req.answer)
        except ContestRefused as err:
            raise ValueError(err.message_fr) from None

    @workflow.query
    def state(self) -> ContestView:
        """Status, dates and whether the reminder and the escalation happened."""
        return ContestView(
            self.inp.contest_id,
            self.status.value,
            self.inp.opened_on,
            self.deadline,
            self.reminded,
            self.escalated,
        )
