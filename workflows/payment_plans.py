"""A family's payment plan: the billing team's decision, then each monthly instalment to its end."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.billing import IntentRequest, IntentStatus, PaymentActivity, RecordedPayment
    from contracts.contests import BILLING_TEAM, ContestActivity, HeldTransfer, HeldTransferQuery
    from contracts.payment_plans import (
        PAYMENT_PLAN_WORKFLOW,
        PLAN_ATTEMPT_BASE,
        PLAN_REFUSED,
        PaymentPlanActivity,
        PaymentPlanInput,
        PaymentPlanResult,
        PaymentPlanView,
        PlanBasis,
        PlanDecisionRequest,
        PlanDecisionResult,
        PlanNotice,
        PlanOutcome,
        PlanProgress,
        PlanProgressUpdate,
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
        catch_up_deadline,
        check_count,
        check_decision,
        completed_message,
        covered,
        decision_deadline,
        defaulted_message,
        defaults,
        ended,
        missed_message,
        missing,
        notice_message,
        operator_request_message,
        paid_early,
        refused_message,
        requested_message,
        schedule,
        silent_decision,
        statuses,
    )
    from domain.sepa import result_deadline
    from ville.temporal import SA_BUSINESS_STATUS
    from workflows.timing import MORNING_UTC, sleep_until_morning

# Database and e-mail steps: patient (~2 days of an unavailable database or SES), still bounded.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5), maximum_attempts=600
)
# Stripe: a longer outage fails the debit, which the instalment's check then sees as unpaid
STRIPE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1), maximum_attempts=30
)
CALL = timedelta(seconds=30)
SEPA_RECHECK = timedelta(days=2)
EARLY_PAYMENT_CHECK = timedelta(days=7)  # between instalments, a whole rest paid early is noticed within a week
FINAL = ("succeeded", "failed")
# workflow.patched id: runs recorded before waited for the billing team's decision without a deadline
DECISION_DEADLINE = "decision-deadline"


@workflow.defn(name=PAYMENT_PLAN_WORKFLOW)
class PaymentPlanWorkflow:
    """Holds a plan request until a billing operator decides, then runs each instalment until the plan ends."""

    @workflow.init
    def __init__(self, inp: PaymentPlanInput) -> None:
        self.inp = inp
        self.status = PlanStatus.REQUESTED
        self.pending: Decision | None = None
        self.pending_by: int | None = 0  # None: decided by the deadline, not by an operator
        self.result: PlanDecisionResult | None = None
        self.refusal: str | None = None
        self.instalments: list[Instalment] = []
        self.statuses: list[InstalmentStatus] = []
        self.total = 0
        self.checked = 0
        self.misses = 0

    @workflow.run
    async def run(self, inp: PaymentPlanInput) -> PaymentPlanResult:
        """Tell the family and the billing team, wait for the decision, run the instalments, then resume dunning."""
        self._publish()
        subject, body = requested_message(inp.invoice_number, inp.asked_count)
        await self._notify("payment_plan_requested", "requested", "family", subject, body)
        subject, body = operator_request_message(inp.plan_id, inp.asked_count)
        await self._notify("payment_plan_to_review", "to-review", BILLING_TEAM, subject, body)
        silent_tries = 0
        while self.result is None:
            if self.pending is None and workflow.patched(DECISION_DEADLINE):
                if not await self._decided_in_time():
                    self.pending, self.pending_by = silent_decision(inp.asked_count, silent_tries > 0), None
                    silent_tries += 1
            else:
                await workflow.wait_condition(lambda: self.pending is not None)
            assert self.pending is not None
            await self._apply(self.pending)
        if self.status is PlanStatus.APPROVED:
            await self._run_instalments()
        if self.status in (PlanStatus.REFUSED, PlanStatus.DEFAULTED):
            await self._back_to_ladder()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return PaymentPlanResult(inp.plan_id, self.status.value, self.misses)

    # --- decision --------------------------------------------------------------------------------

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
            [(i.due_on.isoformat(), i.amount_cents) for i in instalments],
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

    # --- instalments -----------------------------------------------------------------------------

    async def _run_instalments(self) -> None:
        """Each instalment: a notice a week ahead, the SEPA debit on its day where a mandate exists, the check; one
        reminder per miss, the second miss defaults; a whole rest paid at any time completes the plan."""
        for inst in self.instalments:
            progress = await self._wait_until(inst.notice_on)
            if progress is None:
                return
            amount = self._missing(inst.seq, progress)
            if amount > 0:
                subject, body = notice_message(self.inp.invoice_number, inst, amount, progress.sepa_mandate)
                await self._notify("payment_plan_notice", f"notice-{inst.seq}", "family", subject, body)
            if progress.sepa_mandate:
                progress = await self._wait_until(inst.due_on)
                if progress is None:
                    return
                amount = self._missing(inst.seq, progress)
                if amount > 0:
                    await self._debit(inst, amount)
            progress = await self._wait_until(inst.check_on)
            if progress is None:
                return
            self.checked = inst.seq
            amount = self._missing(inst.seq, progress)
            if amount > 0:
                self.misses += 1
                if defaults(self.misses):
                    await self._end(PlanStatus.DEFAULTED, progress)
                    return
                subject, body = missed_message(self.inp.invoice_number, inst, amount)
                await self._notify("payment_plan_missed", f"missed-{inst.seq}", "family", subject, body)
            await self._record(progress)
        last = self.instalments[-1]
        progress = await self._progress()
        if self._missing(last.seq, progress) > 0:
            # the last instalment was a first miss: its reminder leaves a last delay, then it counts as the second
            waited = await self._wait_until(catch_up_deadline(last.check_on))
            if waited is None:
                return
            if self._missing(last.seq, waited) > 0:
                self.misses += 1
                await self._end(PlanStatus.DEFAULTED, waited)
                return
            progress = waited
        await self._end(PlanStatus.COMPLETED, progress)

    def _covered(self, progress: PlanProgress) -> int:
        return covered(self.total, progress.remaining_cents)

    def _missing(self, seq: int, progress: PlanProgress) -> int:
        return missing(self.instalments, seq, self._covered(progress), progress.held_cents)

    async def _wait_until(self, day: date) -> PlanProgress | None:
        """Sleep until the morning of `day`, looking each week for a rest paid early; the invoice's progress then,
        or None once the plan ended (completed early)."""
        target = datetime.combine(day, MORNING_UTC, tzinfo=workflow.now().tzinfo)
        while workflow.now() < target:
            await workflow.sleep(min(target - workflow.now(), EARLY_PAYMENT_CHECK))
            if workflow.now() < target and await self._ended_early():
                return None
        progress = await self._progress()
        if paid_early(progress.remaining_cents) or not progress.payable:
            await self._end(PlanStatus.COMPLETED, progress)
            return None
        return progress

    async def _ended_early(self) -> bool:
        progress = await self._progress()
        if paid_early(progress.remaining_cents) or not progress.payable:
            await self._end(PlanStatus.COMPLETED, progress)
            return True
        return False

    async def _debit(self, inst: Instalment, amount: int) -> None:
        """The instalment's SEPA debit through the payment activities (single money path), followed to its result."""
        intent = IntentRequest(self.inp.invoice_number, PLAN_ATTEMPT_BASE + inst.seq, "sepa_debit", amount)
        try:
            pi_id = await workflow.execute_activity(
                PaymentActivity.CREATE_INTENT,
                intent,
                result_type=str,
                start_to_close_timeout=CALL,
                retry_policy=STRIPE_RETRY,
            )
        except ActivityError:
            return  # refused (no mandate any more, nothing payable): the check sees the instalment unpaid
        status = await workflow.execute_activity(
            PaymentActivity.CONFIRM_INTENT,
            pi_id,
            result_type=IntentStatus,
            start_to_close_timeout=CALL,
            retry_policy=STRIPE_RETRY,
        )
        if status.status not in FINAL:
            status = await workflow.execute_activity(
                PaymentPlanActivity.DEBIT_RESULT,
                pi_id,
                result_type=IntentStatus,
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=timedelta(seconds=10),
                retry_policy=STRIPE_RETRY,
            )
        deadline = result_deadline(inst.due_on)
        while status.status not in FINAL and workflow.now().date() <= deadline:
            await workflow.sleep(SEPA_RECHECK)
            status = await workflow.execute_activity(
                PaymentActivity.RETRIEVE_INTENT,
                pi_id,
                result_type=IntentStatus,
                start_to_close_timeout=CALL,
                retry_policy=STRIPE_RETRY,
            )
        if status.status in FINAL:
            await workflow.execute_activity(
                PaymentActivity.RECORD_INTENT_OUTCOME,
                status,
                result_type=RecordedPayment,
                start_to_close_timeout=CALL,
                retry_policy=STORE_RETRY,
            )

    async def _end(self, status: PlanStatus, progress: PlanProgress) -> None:
        self.status = status
        self.statuses = ended(statuses(self.instalments, self.checked, self._covered(progress), progress.held_cents))
        self._publish()
        await self._save()
        if status is PlanStatus.COMPLETED:
            subject, body = completed_message(self.inp.invoice_number)
            await self._notify("payment_plan_completed", "completed", "family", subject, body)
        else:
            subject, body = defaulted_message(self.inp.invoice_number, progress.remaining_cents)
            await self._notify("payment_plan_defaulted", "defaulted", "family", subject, body)

    async def _record(self, progress: PlanProgress) -> None:
        self.statuses = statuses(self.instalments, self.checked, self._covered(progress), progress.held_cents)
        await self._save()

    async def _save(self) -> None:
        update = PlanProgressUpdate(self.inp.plan_id, self.status.value, [s.value for s in self.statuses], self.misses)
        await workflow.execute_activity(
            PaymentPlanActivity.RECORD_PROGRESS, update, start_to_close_timeout=CALL, retry_policy=STORE_RETRY
        )

    async def _progress(self) -> PlanProgress:
        return await workflow.execute_activity(
            PaymentPlanActivity.PROGRESS,
            self.inp.invoice_number,
            result_type=PlanProgress,
            start_to_close_timeout=CALL,
            retry_policy=STORE_RETRY,
        )

    async def _back_to_ladder(self) -> None:
        """A refused or defaulted plan's invoice follows the ladder from where it stood: if the cycle's transfer
        day passed while the plan held it, it is transferred here after a grace (the contests' activities)."""
        held = await workflow.execute_activity(
            ContestActivity.HELD_TRANSFER,
            HeldTransferQuery(self.inp.invoice_number, workflow.now().date()),
            result_type=HeldTransfer,
            start_to_close_timeout=CALL,
            retry_policy=STORE_RETRY,
        )
        if held.transfer_on is None:
            return
        await sleep_until_morning(held.transfer_on)
        await workflow.execute_activity(
            ContestActivity.TRANSFER_HELD,
            self.inp.invoice_number,
            result_type=bool,
            start_to_close_timeout=CALL,
            retry_policy=STORE_RETRY,
        )

    async def _notify(self, template: str, step: str, audience: str, subject: str, body: str) -> None:
        notice = PlanNotice(
            f"payment-plan-{step}:{self.inp.plan_id}",
            self.inp.plan_id,
            self.inp.invoice_number,
            self.inp.account_id,
            audience,
            template,
            subject,
            body,
        )
        await workflow.execute_activity(
            PaymentPlanActivity.NOTIFY, notice, result_type=int, start_to_close_timeout=CALL, retry_policy=STORE_RETRY
        )

    def _publish(self) -> None:
        workflow.upsert_search_attributes([SA_BUSINESS_STATUS.value_set(self.status.value)])

    @workflow.query
    def state(self) -> PaymentPlanView:
        """Status, each instalment's status and the misses so far."""
        return PaymentPlanView(self.inp.plan_id, self.status.value, [s.value for s in self.statuses], self.misses)
