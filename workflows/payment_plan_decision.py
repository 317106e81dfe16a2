"""The payment plan's decision: the billing team's `decide` update (with its validator), its deadline, its recording."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.payment_plans import (
        PLAN_REFUSED,
        PaymentPlanActivity,
        PlanBasis,
        PlanDecisionRequest,
        PlanDecisionResult,
        PlanOutcome,
    )
    from domain.payment_plans import (
        ALREADY_DECIDED,
        DECISION_IMPOSSIBLE,
        NOT_PAYABLE,
        UNKNOWN_KIND,
        Decision,
        DecisionKind,
        Instalment,
        InstalmentStatus,
        PlanRefused,
        PlanStatus,
        approved_message,
        check_count,
        check_decision,
        decision_deadline,
        refused_message,
        schedule,
    )
    from workflows.timing import MORNING_UTC

from workflows.payment_plan_calls import CALL, STORE_RETRY, PaymentPlanCalls


class PaymentPlanDecision(PaymentPlanCalls):
    """The decision part of `PaymentPlanWorkflow` (mixed into it): waiting for it, checking it, applying it."""

    async def _decided_in_time(self) -> bool:
        """Wait for the billing team's decision until the service deadline; False once it has passed."""
        day = decision_deadline(self.inp.requested_on)
        deadline = datetime.combine(day, MORNING_UTC, tzinfo=workflow.now().tzinfo)
        wait = max(deadline - workflow.now(), timedelta(seconds=1))
        try:
            await workflow.wait_condition(lambda: self.pending is not None, timeout=wait)
        except TimeoutError:
            return False
        return True

    async def _apply(self, decision: Decision) -> None:
        """Approve on what remains today (the schedule starts now) or refuse; a plan the invoice can no longer take
        sends the decision back to the operator."""
        today = workflow.now().date()
        instalments: list[Instalment] = []
        if decision.kind is not DecisionKind.REFUSE:
            basis = await workflow.execute_activity(
                PaymentPlanActivity.BASIS,
                self.inp.invoice_number,
                result_type=PlanBasis,
                start_to_close_timeout=CALL,
                retry_policy=STORE_RETRY,
            )
            try:
                if not basis.payable or basis.remaining_cents <= 0:
                    raise PlanRefused("invoice", NOT_PAYABLE)
                check_count(basis.remaining_cents, decision.count)
            except PlanRefused as err:
                self.refusal = err.message_fr
                self.pending = None
                return
            instalments = schedule(basis.remaining_cents, decision.count, today)
        outcome = PlanOutcome(
            self.inp.plan_id,
            decision.status.value,
            decision.answer,
            self.pending_by,
            today,
            [(i.due_on, i.amount_cents) for i in instalments],
        )
        await workflow.execute_activity(
            PaymentPlanActivity.DECIDE, outcome, result_type=bool, start_to_close_timeout=CALL, retry_policy=STORE_RETRY
        )
        self.status = decision.status
        self.instalments = instalments
        self.total = sum(i.amount_cents for i in instalments)
        self.statuses = [InstalmentStatus.UPCOMING] * len(instalments)
        self.result = PlanDecisionResult(self.inp.plan_id, self.status.value, outcome.instalments)
        self._publish()
        if self.status is PlanStatus.APPROVED:
            subject, body = approved_message(self.inp.invoice_number, instalments)
        else:
            subject, body = refused_message(self.inp.invoice_number)
        await self._notify("payment_plan_decided", "decided", "family", subject, body)

    @workflow.update
    async def decide(self, req: PlanDecisionRequest) -> PlanDecisionResult:
        """A billing operator's decision; answers once it is recorded (with the schedule when approved)."""
        self.pending = self._checked(req)
        self.pending_by = req.operator_user_id
        self.refusal = None
        await workflow.wait_condition(lambda: self.result is not None or self.refusal is not None)
        if self.result is None:
            raise ApplicationError(self.refusal or DECISION_IMPOSSIBLE, type=PLAN_REFUSED, non_retryable=True)
        return self.result

    @decide.validator
    def _validate_decision(self, req: PlanDecisionRequest) -> None:
        if self.result is not None or self.pending is not None:
            raise ValueError(ALREADY_DECIDED)
        self._checked(req)

    def _checked(self, req: PlanDecisionRequest) -> Decision:
        try:
            kind = DecisionKind(req.kind)
        except ValueError:
            raise ValueError(UNKNOWN_KIND) from None
        try:
            return check_decision(self.inp.asked_count, kind, req.count, req.answer)
        except PlanRefused as err:
            raise ValueError(err.message_fr) from None
