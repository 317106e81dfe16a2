"""Facil'familles billing cycle: batches of hundreds of families per activity, then dunning on timers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts.billing import (
        BatchRequest,
        BatchTotalsView,
        BillingActivity,
        BillingCycleInput,
        BillingCycleResult,
        BillingWorkflow,
        CyclePhase,
        CycleProgress,
        CycleState,
        DunningRequest,
        PlanRequest,
        PlanResult,
    )
    from domain.periods import period_for, previous_period
    from ville.temporal import SA_BILLING_PERIOD, SA_BUSINESS_STATUS
    from workflows.timing import sleep_until_morning

BATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_attempts=5, non_retryable_error_types=["PeriodNotClosed"]
)
BATCH_TIMEOUT = timedelta(minutes=15)
# Batch activities heartbeat every few seconds: a killed worker's batch is retried after this, not 15 minutes.
BATCH_HEARTBEAT = timedelta(seconds=20)


@workflow.defn(name=BillingWorkflow.CYCLE)
class BillingCycleWorkflow:
    """Bills one period: plan, issue/archive/deliver in batches, SEPA debits, reminders, transfer."""

    @workflow.init
    def __init__(self, inp: BillingCycleInput) -> None:
        if not inp.period_key:
            closed = previous_period(period_for(workflow.now().date(), inp.period_months))
            inp = replace(inp, period_key=closed.key)
        self.inp = inp
        self.state = inp.state or CycleState()
        self._in_flight = 0

    @workflow.run
    async def run(self, inp: BillingCycleInput) -> BillingCycleResult:
        """Run (or resume after continue-as-new) the cycle to its end."""
        self._publish()
        if self.state.phase is CyclePhase.PLANNING:
            await self._plan()
        if self.state.phase is CyclePhase.ISSUING:
            if await self._issue_batches():
                workflow.continue_as_new(replace(self.inp, state=self.state))
            self._set_phase(CyclePhase.PREVIEWED if inp.dry_run else CyclePhase.AWAITING_DUE_DATE)
        if self.state.phase is CyclePhase.AWAITING_DUE_DATE:
            assert self.state.due_date is not None  # planned before issuing
            await sleep_until_morning(self.state.due_date)
            await workflow.execute_activity(
                BillingActivity.START_SEPA_DEBITS,
                self.inp.period_key,
                result_type=int,
                start_to_close_timeout=BATCH_TIMEOUT,
                retry_policy=BATCH_RETRY,
            )
            self._set_phase(CyclePhase.DUNNING)
        if self.state.phase is CyclePhase.DUNNING:
            await self._dunning()
            self._set_phase(CyclePhase.DONE)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return BillingCycleResult(
            self.inp.period_key, inp.dry_run, self.state.families, self.state.totals, self.state.dunning_counts
        )

    async def _plan(self) -> None:
        issue = self.inp.issue_date or workflow.now().date()
        plan = await workflow.execute_activity(
            BillingActivity.PLAN_CYCLE,
            PlanRequest(self.inp.period_key, self.inp.batch_size, issue),
            result_type=PlanResult,
            start_to_close_timeout=BATCH_TIMEOUT,
            retry_policy=BATCH_RETRY,
        )
        self.state.bounds = plan.bounds
        self.state.families = plan.families
        self.state.issue_date = plan.issue_date
        self.state.due_date = plan.due_date
        self.state.dunning_plan = plan.dunning
        self._set_phase(CyclePhase.ISSUING)

    async def _issue_batches(self) -> bool:
        """Process pending batches with bounded parallelism; True when history asks for continue-as-new.

        On cancellation (an operator's "annuler") no new batch starts and the batches in flight run to their
        end (issue, archive, deliver: never half a batch); then the cancellation goes on and the cycle ends as
        cancelled. Invoices already issued stay issued (they are payable as usual); unbilled families are
        billed by a new cycle of the same period, which skips invoices already issued.
        """
        started_here = 0
        tasks: set[asyncio.Task[None]] = set()
        cancelled: asyncio.CancelledError | None = None
        while self.state.next_batch < len(self.state.bounds) or tasks:
            can_start = (
                cancelled is None
                and not self.state.paused
                and self.state.next_batch < len(self.state.bounds)
                and self._in_flight < self.inp.parallelism
                and started_here < self.inp.max_batches_per_run
            )
            if can_start:
                index = self.state.next_batch
                self.state.next_batch += 1
                started_here += 1
                self._in_flight += 1
                tasks.add(asyncio.create_task(self._run_batch(index)))
                continue
            if not tasks:
                if cancelled is not None:
                    break
                if started_here >= self.inp.max_batches_per_run:
                    return True
                try:
                    await workflow.wait_condition(lambda: not self.state.paused)
                except asyncio.CancelledError as err:
                    cancelled = err
                continue
            try:
                done, pending = await workflow.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError as err:
                # the batch tasks are not cancelled with this wait: let them finish, start no other
                cancelled = err
                continue
            tasks = set(pending)
            for t in done:
                t.result()
        if cancelled is None:
            # Failed batches wait for an operator's retry: the cycle never moves on with families unbilled.
            try:
                await workflow.wait_condition(lambda: not self.state.failed_batches and self._in_flight == 0)
                return False
            except asyncio.CancelledError as err:
                cancelled = err
        # a batch retried by an update may still be running: it finishes before the cycle ends
        await workflow.wait_condition(lambda: self._in_flight == 0)
        workflow.logger.info("billing cycle cancelled between batches", extra={"done": self.state.done_batches})
        raise cancelled

    async def _run_batch(self, index: int) -> None:
        lo = self.state.bounds[index - 1] if index else 0
        req = BatchRequest(
            self.inp.period_key, lo, self.state.bounds[index], self.state.issue_date, self.state.due_date
        )
        try:
            if self.inp.dry_run:
                totals = await self._batch_activity(BillingActivity.PREVIEW_BATCH, req)
            else:
                totals = await self._batch_activity(BillingActivity.ISSUE_BATCH, req)
                await self._batch_activity(BillingActivity.ARCHIVE_BATCH, req)
                delivered = await self._batch_activity(BillingActivity.DELIVER_BATCH, req)
                totals.emails, totals.letters = delivered.emails, delivered.letters
            self._add(totals)
            self.state.done_batches += 1
            if index in self.state.failed_batches:
                self.state.failed_batches.remove(index)
        except ActivityError:
            workflow.logger.warning("billing batch failed", extra={"batch": index})
            if index not in self.state.failed_batches:
                self.state.failed_batches.append(index)
        finally:
            self._in_flight -= 1
            self._publish()

    async def _batch_activity(self, name: str, req: BatchRequest) -> BatchTotalsView:
        return await workflow.execute_activity(
            name,
            req,
            result_type=BatchTotalsView,
            start_to_close_timeout=BATCH_TIMEOUT,
            heartbeat_timeout=BATCH_HEARTBEAT,
            retry_policy=BATCH_RETRY,
        )

    def _add(self, t: BatchTotalsView) -> None:
        tot = self.state.totals
        tot.invoices += t.invoices
        tot.lines_total_cents += t.lines_total_cents
        tot.amount_due_cents += t.amount_due_cents
        tot.already_issued += t.already_issued
        tot.emails += t.emails
        tot.letters += t.letters
        for tranche, cents in t.by_tranche.items():
            tot.by_tranche[int(tranche)] = tot.by_tranche.get(int(tranche), 0) + cents

    async def _dunning(self) -> None:
        for step in self.state.dunning_plan:
            if step.kind in self.state.dunning_done:
                continue
            await sleep_until_morning(step.on)
            count = await workflow.execute_activity(
                BillingActivity.RUN_DUNNING_STEP,
                DunningRequest(self.inp.period_key, step.kind),
                result_type=int,
                start_to_close_timeout=BATCH_TIMEOUT,
                retry_policy=BATCH_RETRY,
            )
            self.state.dunning_counts[step.kind] = count
            self.state.dunning_done.append(step.kind)
            self._publish()

    def _set_phase(self, phase: CyclePhase) -> None:
        self.state.phase = phase
        self._publish()

    def _publish(self) -> None:
        workflow.upsert_search_attributes(
            [SA_BUSINESS_STATUS.value_set(self.state.phase.value), SA_BILLING_PERIOD.value_set(self.inp.period_key)]
        )

    @workflow.query
    def progress(self) -> CycleProgress:
        """Phase, batches done and totals so far."""
        s = self.state
        return CycleProgress(
            self.inp.period_key,
            s.phase,
            self.inp.dry_run,
            s.paused,
            len(s.bounds),
            s.done_batches,
            list(s.failed_batches),
            s.families,
            s.totals,
            s.due_date,
            list(s.dunning_done),
            self.inp.batch_size,
        )

    @workflow.signal
    def pause(self) -> None:
        """Stop starting new batches (those in flight finish)."""
        self.state.paused = True

    @workflow.signal
    def resume(self) -> None:
        """Start batches again."""
        self.state.paused = False

    @workflow.update
    async def retry_failed_batches(self) -> int:
        """Run the failed batches again; returns how many were retried."""
        failed = list(self.state.failed_batches)
        for index in failed:
            self._in_flight += 1
            await self._run_batch(index)
        return len(failed)
