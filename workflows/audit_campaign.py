"""QualiParis `AuditCampaignWorkflow`, one per campaign: plan, start inspections in waves, follow, close, report.

Scale: a campaign of 2,000 sites has up to 6,000 tasks, all open for weeks, far beyond the ~2,000
pending children a Temporal workflow may hold. So the campaign starts its inspections in waves
through one activity per wave (idempotent starts by workflow id `inspection-<task id>`): it holds no
pending children at all and a wave costs a few history events. Inspections report each change by
signal to the campaign's workflow id (whatever its current run); the campaign continues as new when
its history grows, carrying only task ids and statuses. Each inspection closes itself at the window
end, so closing costs no fan-out of signals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from contracts.audit_campaign import (
        AuditCampaignInput,
        AuditCampaignResult,
        CampaignCarry,
        CampaignInspectorUnavailable,
        CampaignProgress,
        CampaignSiteAdd,
        CampaignSiteWithdrawal,
        CampaignStatusChange,
        ChangeAck,
        InspectorUnavailable,
        PlanResult,
        ReauditPlan,
        ReportKeys,
        ResultsRequest,
        ResultsSummary,
        SiteChange,
        SiteWithdrawal,
        SiteWithdrawalResult,
        StartCampaign,
        StartInspections,
        TaskProgress,
    )
    from contracts.audit_inspection import ReleaseTask, WithdrawTask
    from contracts.audit_names import (
        AUDIT_CAMPAIGN_WORKFLOW,
        NOT_STARTED,
        TASK_PROGRESS_SIGNAL,
        AuditActivity,
        AuditError,
        CampaignPhase,
    )
    from domain.audit import messages as msg
    from domain.audit.campaign import paris_date, paris_day_end, paris_time
    from domain.audit.inspection import modes_valid, results_due_at
    from domain.audit.task_states import TaskState
    from ville.ids import inspection_id
    from ville.temporal import SA_BUSINESS_STATUS
    from workflows.audit_calls import BATCH_TIMEOUT, business_failure, call, run, sa_enabled, wait_until
    from workflows.inspection import InspectionWorkflow


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
        self.phase = inp.carry.phase if inp.carry else CampaignPhase.PLANNING

    @workflow.run
    async def run(self, inp: AuditCampaignInput) -> AuditCampaignResult:
        """Run the campaign to its report."""
        if self.carry is None:
            if inp.start_on is not None:
                self._set_phase(CampaignPhase.SCHEDULED)
                opening = paris_time(inp.start_on)
                if opening > workflow.now():
                    await workflow.sleep(opening - workflow.now())
            self._set_phase(CampaignPhase.PLANNING)
            plan = await call(AuditActivity.PLAN_CAMPAIGN, inp.campaign_id, PlanResult, BATCH_TIMEOUT)
            self.carry = CampaignCarry(
                window_start=plan.window_start,
                window_end=plan.window_end,
                review_deadline=plan.review_deadline,
                to_start=list(plan.task_ids),
                statuses=dict.fromkeys((str(t) for t in plan.task_ids), NOT_STARTED),
            )
        carry = self.carry
        self._set_phase(carry.phase)
        window_close = paris_day_end(carry.window_end)
        while carry.phase == CampaignPhase.RUNNING:
            await self._start_wave()
            if self._should_continue_as_new():
                await self._continue_as_new()
            if workflow.now() >= window_close:
                carry.phase = CampaignPhase.CLOSING
            elif not carry.to_start:
                await wait_until(lambda: bool(carry.to_start) or self._should_continue_as_new(), window_close)
        if self.phase != CampaignPhase.CLOSING:
            self._set_phase(CampaignPhase.CLOSING)
            await run(AuditActivity.SET_CAMPAIGN_STATUS, CampaignStatusChange(inp.campaign_id, CampaignPhase.CLOSING))
        # inspections close themselves at the window end; submitted ones wait for review until the deadline
        final = results_due_at(carry.review_deadline)
        while not self._all_finished() and workflow.now() < final:
            await self._start_wave()
            if self._should_continue_as_new():
                await self._continue_as_new()
            await wait_until(
                lambda: self._all_finished() or bool(carry.to_start) or self._should_continue_as_new(), final
            )
        return await self._conclude()

    async def _conclude(self) -> AuditCampaignResult:
        inp, carry = self.inp, self._carry()
        self._set_phase(CampaignPhase.RESULTS)
        today = paris_date(workflow.now())
        summary = await call(
            AuditActivity.COMPUTE_RESULTS, ResultsRequest(inp.campaign_id, today), ResultsSummary, BATCH_TIMEOUT
        )
        reaudit = await call(AuditActivity.SCHEDULE_REAUDIT, ResultsRequest(inp.campaign_id, today), ReauditPlan)
        if reaudit.campaign_id is not None:
            await self._schedule_reaudit(reaudit)
        report = await call(AuditActivity.BUILD_REPORT, inp.campaign_id, ReportKeys, BATCH_TIMEOUT)
        await call(AuditActivity.NOTIFY_SITE_MANAGERS, inp.campaign_id, int, BATCH_TIMEOUT)
        await run(AuditActivity.SET_CAMPAIGN_STATUS, CampaignStatusChange(inp.campaign_id, CampaignPhase.REPORTED))
        self._set_phase(CampaignPhase.REPORTED)
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
        await run(AuditActivity.START_CAMPAIGN, StartCampaign(follow_up, sa_enabled()))

    # --- helpers -----------------------------------------------------------------------------------

    def _carry(self) -> CampaignCarry:
        assert self.carry is not None
        return self.carry

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        if self.carry is not None and phase in (CampaignPhase.RUNNING, CampaignPhase.CLOSING):
            self.carry.phase = phase
        if sa_enabled():
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
        await run(AuditActivity.START_INSPECTIONS, StartInspections(self.inp.campaign_id, batch, sa_enabled()),
                  BATCH_TIMEOUT)  # fmt: skip
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

    @workflow.signal(name=TASK_PROGRESS_SIGNAL)
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
        if self.carry is None or self.phase != CampaignPhase.RUNNING:
            raise ApplicationError(msg.CAMPAIGN_NOT_RUNNING, type=AuditError.CAMPAIGN_CLOSED)

    @workflow.update
    async def add_site(self, change: SiteChange) -> ChangeAck:
        """Add a site late: its tasks are planned (domain assignment) and started with the next wave."""
        self._validate_add_site(change)
        try:
            ids = await call(
                AuditActivity.ADD_SITE, CampaignSiteAdd(self.inp.campaign_id, change.site_id, change.modes), list[int]
            )
        except ActivityError as err:
            raise business_failure(err) from None
        carry = self._carry()
        new = [t for t in ids if str(t) not in carry.statuses]
        for t in new:
            carry.statuses[str(t)] = NOT_STARTED
        carry.to_start.extend(new)
        return ChangeAck(new, msg.tasks_planned(len(new)))

    @add_site.validator
    def _validate_add_site(self, change: SiteChange) -> None:
        self._check_running()
        if not modes_valid(change.modes):
            details = [{"field": "modes", "message": msg.INVALID_MODES_FIELD}]
            raise ApplicationError(msg.INVALID_MODES, details, type=AuditError.INVALID_CHANGE)

    @workflow.update
    async def withdraw_site(self, change: SiteWithdrawal) -> ChangeAck:
        """Withdraw a site: its unfinished tasks are withdrawn."""
        self._validate_withdraw_site(change)
        try:
            result = await call(
                AuditActivity.WITHDRAW_SITE,
                CampaignSiteWithdrawal(self.inp.campaign_id, change.site_id, change.reason),
                SiteWithdrawalResult,
            )
        except ActivityError as err:
            raise business_failure(err) from None
        carry = self._carry()
        closed = set(result.closed_task_ids)
        carry.to_start = [t for t in carry.to_start if t not in closed]
        for t in closed:
            carry.statuses[str(t)] = TaskState.WITHDRAWN.value
            self.finished.add(t)
        carry.withdrawn_sites.append(change.site_id)
        notice = WithdrawTask(change.reason)
        await self._tell(result.open_task_ids, lambda t: _inspection(t).signal(InspectionWorkflow.withdraw, notice))
        return ChangeAck(sorted(closed | set(result.open_task_ids)), msg.SITE_WITHDRAWN)

    @withdraw_site.validator
    def _validate_withdraw_site(self, change: SiteWithdrawal) -> None:
        self._check_running()

    @workflow.update
    async def inspector_unavailable(self, change: InspectorUnavailable) -> ChangeAck:
        """An inspector becomes unavailable: his tasks in progress are handed to other inspectors."""
        self._validate_inspector_unavailable(change)
        try:
            ids = await call(
                AuditActivity.INSPECTOR_UNAVAILABLE,
                CampaignInspectorUnavailable(self.inp.campaign_id, change.inspector_id, change.reason),
                list[int],
            )
        except ActivityError as err:
            raise business_failure(err) from None
        carry = self._carry()
        if change.inspector_id not in carry.unavailable:
            carry.unavailable.append(change.inspector_id)
        waiting = set(carry.to_start)  # not started yet: they see the unavailability when they load
        started = [t for t in ids if t not in waiting]
        notice = ReleaseTask(change.reason)
        await self._tell(started, lambda t: _inspection(t).signal(InspectionWorkflow.release, notice))
        return ChangeAck(ids, msg.tasks_to_reassign(len(ids)))

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
