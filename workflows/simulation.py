"""Tariff impact simulation: re-price closed periods with a proposed grid, in batches, without touching invoices."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from contracts.simulation import (
        SimulationActivity,
        SimulationBatchRequest,
        SimulationFinaliseRequest,
        SimulationPhase,
        SimulationPlan,
        SimulationPlanRequest,
        SimulationProgress,
        SimulationReport,
        SimulationState,
        TariffSimulationInput,
        TariffSimulationResult,
    )
    from domain.simulation import ImpactTotals
    from ville.temporal import SA_BILLING_PERIOD, SA_BUSINESS_STATUS

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_attempts=5,
    non_retryable_error_types=["PeriodNotClosed", "InvalidGrid"],
)
TIMEOUT = timedelta(minutes=15)
HEARTBEAT = timedelta(seconds=20)


@workflow.defn
class TariffSimulationWorkflow:
    """Plans batches of families, sums their anonymous aggregates, then writes the CSV and PDF report."""

    @workflow.init
    def __init__(self, inp: TariffSimulationInput) -> None:
        self.inp = inp
        self.state = inp.state or SimulationState()

    @workflow.run
    async def run(self, inp: TariffSimulationInput) -> TariffSimulationResult:
        """Run (or resume after continue-as-new) the simulation to its report."""
        self._publish()
        if self.state.phase is SimulationPhase.PLANNING:
            plan = await workflow.execute_activity(
                SimulationActivity.PREPARE,
                SimulationPlanRequest(
                    inp.simulation_ref, inp.period_keys, inp.batch_size, grid=inp.grid, grid_id=inp.grid_id
                ),
                result_type=SimulationPlan,
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
            )
            self.state.bounds, self.state.families = plan.bounds, plan.families
            self.state.grid_key, self.state.grid_id = plan.grid_key, plan.grid_id
            self._set_phase(SimulationPhase.SIMULATING)
        if self.state.phase is SimulationPhase.SIMULATING:
            if await self._batches():
                # the grid itself stays in S3: the next run carries the aggregates, not the grid
                workflow.continue_as_new(replace(self.inp, grid=None, state=self.state))
            self._set_phase(SimulationPhase.FINALISING)
        report = await workflow.execute_activity(
            SimulationActivity.FINALISE,
            SimulationFinaliseRequest(
                inp.simulation_ref, inp.period_keys, self.state.grid_id, self.state.bounds, self.state.totals
            ),
            result_type=SimulationReport,
            start_to_close_timeout=TIMEOUT,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RETRY,
        )
        self._set_phase(SimulationPhase.DONE)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return TariffSimulationResult(
            inp.simulation_ref,
            list(inp.period_keys),
            self.state.grid_id,
            self.state.totals,
            report.medians,
            report.csv_key,
            report.pdf_key,
            report.svg_key,
            report.summary_key,
        )

    async def _batches(self) -> bool:
        """Run the pending batches, a few at a time; True when this run has done its share (continue-as-new)."""
        started_here = 0
        tasks: set[asyncio.Task[None]] = set()
        while self.state.next_batch < len(self.state.bounds) or tasks:
            if (
                self.state.next_batch < len(self.state.bounds)
                and len(tasks) < self.inp.parallelism
                and started_here < self.inp.max_batches_per_run
            ):
                tasks.add(asyncio.create_task(self._run_batch(self.state.next_batch)))
                self.state.next_batch += 1
                started_here += 1
                continue
            if not tasks:
                return True
            done, pending = await workflow.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            tasks = set(pending)
            for t in done:
                t.result()  # a batch that failed all its attempts fails the simulation: it writes nothing
        return False

    async def _run_batch(self, index: int) -> None:
        lo = self.state.bounds[index - 1] if index else 0
        totals = await workflow.execute_activity(
            SimulationActivity.SIMULATE_BATCH,
            SimulationBatchRequest(
                self.inp.simulation_ref, self.inp.period_keys, self.state.grid_key, lo, self.state.bounds[index]
            ),
            result_type=ImpactTotals,
            start_to_close_timeout=TIMEOUT,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RETRY,
        )
        self.state.totals.merge(totals)
        self.state.done_batches += 1

    def _set_phase(self, phase: SimulationPhase) -> None:
        self.state.phase = phase
        self._publish()

    def _publish(self) -> None:
        updates = [SA_BUSINESS_STATUS.value_set(self.state.phase.value)]
        if self.inp.period_keys:  # the latest simulated period: a business key, never personal data
            updates.append(SA_BILLING_PERIOD.value_set(max(self.inp.period_keys)))
        workflow.upsert_search_attributes(updates)

    @workflow.query
    def progress(self) -> SimulationProgress:
        """Phase, batches done and the aggregates so far."""
        s = self.state
        return SimulationProgress(
            self.inp.simulation_ref,
            s.phase,
            list(self.inp.period_keys),
            s.grid_id,
            len(s.bounds),
            s.done_batches,
            s.families,
            s.totals,
        )
