"""Start or preview a period's billing cycle: the one service behind the JSON API and the console.

A start is decided by Temporal, not by a check-then-start: the workflow id is the period's
(`billing-cycle-AAAA-MM`), a running one makes the start fail (`WorkflowIDConflictPolicy.FAIL`) and a
completed one cannot be reused (`ALLOW_DUPLICATE_FAILED_ONLY`). Two simultaneous starts therefore give one
cycle and one refusal. A cancelled, failed or terminated cycle may be started again: the new run skips the
invoices already issued (see `BillingCycleWorkflow._issue_batches`).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import structlog
from fastapi import HTTPException, status
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.errors import field_error, temporal_refusal
from api.temporal_query import QUERY_TIMEOUT, bounded
from contracts.billing import BillingCycleInput
from domain.billing_cycle import ExistingCycle, start_refusal
from domain.calendar import PARIS
from domain.periods import BillingPeriod, period_from_key, period_has_ended, period_not_ended_fr
from services.billing import BillingStore
from services.billing_preview import PeriodPreview, preview_period
from ville.ids import billing_cycle_id
from ville.settings import Settings
from ville.temporal import SA_BUSINESS_STATUS
from workflows.billing import BillingCycleWorkflow

log = structlog.get_logger(__name__)
CYCLE_UNAVAILABLE = "Ce cycle de facturation ne peut pas être lancé pour le moment."


def paris_today() -> date:
    """The City's date."""
    return datetime.now(PARIS).date()


def ended_period(period_key: str, settings: Settings, field: str = "body.period_key") -> BillingPeriod:
    """The period of `period_key` if it has ended (Paris date); else a 422 naming `field`, in French."""
    months = settings.billing_period_months
    try:
        period = period_from_key(period_key, months)
    except ValueError:
        raise field_error(field, f"Période invalide : AAAA-MM, premier mois d'une période de {months} mois.") from None
    if not period_has_ended(period, paris_today()):
        raise field_error(field, period_not_ended_fr(period))
    return period


async def start_period_cycle(
    temporal: Client, settings: Settings, period: BillingPeriod, batch_size: int
) -> WorkflowHandle[BillingCycleWorkflow, object]:
    """Start the period's cycle, or raise a 409 saying what is true (running, paused, other batch size, done)."""
    wf_id = billing_cycle_id(period.key)
    try:
        return await temporal.start_workflow(
            BillingCycleWorkflow.run,
            BillingCycleInput(
                period.key,
                period_months=settings.billing_period_months,
                batch_size=batch_size,
                parallelism=2 if settings.database_url.startswith("sqlite") else 4,
            ),
            id=wf_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        existing = await _existing(temporal, wf_id)
    except RPCError as err:
        raise temporal_refusal(err, CYCLE_UNAVAILABLE) from None
    refusal = start_refusal(period.label_fr, existing, batch_size)
    log.info("billing.cycle_start_refused", workflow_id=wf_id, code=refusal.code.value)
    raise HTTPException(
        status.HTTP_409_CONFLICT, {"code": refusal.code.value, "message": refusal.message_fr, "fields": []}
    )


async def _existing(temporal: Client, wf_id: str) -> ExistingCycle:
    """The colliding cycle's state: its status and phase from Temporal, pause and batch size from its query."""
    handle = temporal.get_workflow_handle_for(BillingCycleWorkflow.run, wf_id)
    try:
        described = await handle.describe()
    except RPCError as err:
        raise temporal_refusal(err, CYCLE_UNAVAILABLE) from None
    if described.status is WorkflowExecutionStatus.COMPLETED:
        return ExistingCycle(running=False)
    phase = described.typed_search_attributes.get(SA_BUSINESS_STATUS) or "planning"
    try:
        progress = await bounded(handle.query(BillingCycleWorkflow.progress, rpc_timeout=QUERY_TIMEOUT))
    except (RPCError, WorkflowQueryFailedError) as err:  # just started, or no worker answering: what is known
        log.info("billing.cycle_query_failed", workflow_id=wf_id, error=type(err).__name__)
        return ExistingCycle(running=True, phase=phase)
    return ExistingCycle(
        running=True, phase=progress.phase.value, paused=progress.paused, batch_size=progress.batch_size or None
    )


async def preview(store: BillingStore, period: BillingPeriod) -> PeriodPreview:
    """What the period's cycle would issue now, by tranche (off the event loop; nothing written)."""
    return await asyncio.to_thread(preview_period, store, period)
