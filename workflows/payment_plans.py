"""A family's payment plan: the billing team's decision, then each monthly instalment to its end."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.contests import BILLING_TEAM
    from contracts.payment_plans import (
        PAYMENT_PLAN_WORKFLOW,
        PaymentPlanInput,
        PaymentPlanResult,
        PaymentPlanView,
        PlanProgress,
    )
    from domain.payment_plans import (
        PlanStatus,
        catch_up_deadline,
        completed_message,
        covered,
        defaulted_message,
        defaults,
        ended,
        missed_message,
        missing,
        notice_message,
        operator_request_message,
        paid_early,
        requested_message,
        silent_decision,
        statuses,
    )
    from workflows.timing import MORNING_UTC

from workflows.payment_plan_decision import PaymentPlanDecision

EARLY_PAYMENT_CHECK = timedelta(days=7)  # between instalments, a whole rest paid early is noticed within a week
# workflow.patched id: runs recorded before waited for the billing team's decision without a deadline
DECISION_DEADLINE = "decision-deadline"


@workflow.defn(name=PAYMENT_PLAN_WORKFLOW)
class PaymentPlanWorkflow(PaymentPlanDecision):
    """Holds a plan request until a billing operator decides, then runs each instalment until the plan ends."""

    @workflow.init
    def __init__(self, inp: PaymentPlanInput) -> None:
        super().__init__(inp)

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

    @workflow.query
    def state(self) -> PaymentPlanView:
        """Status, each instalment's status and the misses so far."""
        return PaymentPlanView(self.inp.plan_id, self.status.value, [s.value for s in self.statuses], self.misses)
