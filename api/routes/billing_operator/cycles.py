"""Billing cycles for billing operators: preview, start, follow, pause, resume, retry failed batches, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from sqlmodel import Session
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.audit_log import OperatorReason, audit
from api.cycle_start import ended_period, start_period_cycle
from api.cycle_start import preview as period_preview
from api.deps import BillingStoreDep, SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses, field_error, temporal_refusal
from api.schemas.billing import ActionReason, CyclePreviewIn, CycleStart
from api.security import BillingOperator, Principal, not_found
from api.temporal_query import QUERY_TIMEOUT, bounded
from contracts.billing import CycleProgress
from services.billing_preview import PeriodPreview
from ville.ids import billing_cycle_id
from workflows.billing import BillingCycleWorkflow

router = APIRouter(prefix="/api/billing/cycles", tags=["billing"])
PeriodKey = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="Période AAAA-MM")]
CYCLE_NOT_RUNNING = "Ce cycle de facturation n'est pas en cours."
# the workflow id of a period's preview run (a workflow id, not a URL: it stays as recorded)
PREVIEW_SUFFIX = "-apercu"


def _cycle(temporal: Client, period_key: str) -> WorkflowHandle[BillingCycleWorkflow, object]:
    return temporal.get_workflow_handle_for(BillingCycleWorkflow.run, billing_cycle_id(period_key))


@router.post("", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(409, 422, 503))
async def start_cycle(
    body: CycleStart, principal: BillingOperator, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> dict[str, str]:
    """Start the cycle of a period that has ended; 409 if it runs, is paused or is done (nothing journalled)."""
    if body.dry_run:
        raise field_error("body.dry_run", "L'aperçu d'une période se demande par POST /api/billing/cycles/preview.")
    period = ended_period(body.period_key, settings)
    handle = await start_period_cycle(temporal, settings, period, body.batch_size)
    audit(session, principal, "cycle.start", handle.id, body.reason)
    return {"workflow_id": handle.id, "run_id": handle.result_run_id or ""}


@router.post("/preview", responses=error_responses(422))
async def cycle_preview(
    body: CyclePreviewIn, principal: BillingOperator, settings: SettingsDep, store: BillingStoreDep
) -> PeriodPreview:
    """What the period's cycle would issue now: families and totals per QF tranche (nothing is written)."""
    period = ended_period(body.period_key, settings)
    return await period_preview(store, period)


@router.get("/{period_key}", responses=error_responses(503))
async def cycle_progress(
    period_key: str, principal: BillingOperator, temporal: TemporalDep, preview: bool = False
) -> CycleProgress:
    """Phase, batches and totals of a cycle (or of its preview)."""
    wf_id = billing_cycle_id(period_key) + (PREVIEW_SUFFIX if preview else "")
    try:
        return await bounded(
            temporal.get_workflow_handle_for(BillingCycleWorkflow.run, wf_id).query(
                BillingCycleWorkflow.progress, rpc_timeout=QUERY_TIMEOUT
            )
        )
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise not_found() from None
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Service momentanément indisponible") from None


@router.post("/{period_key}/pause", responses=error_responses(409, 503))
async def pause_cycle(
    period_key: PeriodKey, body: ActionReason, principal: BillingOperator, session: SessionDep, temporal: TemporalDep
) -> dict[str, str]:
    """Stop starting new batches."""
    await _signal_cycle(temporal, session, principal, period_key, BillingCycleWorkflow.pause, "cycle.pause", body)
    return {"status": "paused"}


@router.post("/{period_key}/resume", responses=error_responses(409, 503))
async def resume_cycle(
    period_key: PeriodKey, body: ActionReason, principal: BillingOperator, session: SessionDep, temporal: TemporalDep
) -> dict[str, str]:
    """Start batches again."""
    await _signal_cycle(temporal, session, principal, period_key, BillingCycleWorkflow.resume, "cycle.resume", body)
    return {"status": "running"}


async def _signal_cycle(
    temporal: Client, session: Session, principal: Principal, period_key: str, signal: Any, action: str,
    body: ActionReason,
) -> None:  # fmt: skip
    """Signal the period's cycle, then journal the operator's action (409 when no cycle runs)."""
    try:
        await _cycle(temporal, period_key).signal(signal)
    except RPCError as err:
        raise temporal_refusal(err, CYCLE_NOT_RUNNING) from None
    audit(session, principal, action, billing_cycle_id(period_key), body.reason)


@router.post("/{period_key}/retry-batches", responses=error_responses(409, 503))
async def retry_batches(
    period_key: PeriodKey, body: ActionReason, principal: BillingOperator, session: SessionDep, temporal: TemporalDep
) -> dict[str, int]:
    """Run the failed batches again."""
    try:
        count = await _cycle(temporal, period_key).execute_update(BillingCycleWorkflow.retry_failed_batches)
    except RPCError as err:
        raise temporal_refusal(err, CYCLE_NOT_RUNNING) from None
    except WorkflowUpdateFailedError:
        raise HTTPException(status.HTTP_409_CONFLICT, CYCLE_NOT_RUNNING) from None
    audit(session, principal, "cycle.retry_batches", billing_cycle_id(period_key), body.reason)
    return {"retried": count}


@router.post("/{period_key}/cancel", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(409, 422, 503))
async def cancel_cycle(
    period_key: PeriodKey, body: OperatorReason, principal: BillingOperator, session: SessionDep, temporal: TemporalDep
) -> dict[str, str]:
    """Cancel the cycle: batches in flight finish, no other starts; invoices already issued stay issued."""
    handle = _cycle(temporal, period_key)
    try:
        described = await handle.describe()
        if described.status is not WorkflowExecutionStatus.RUNNING:
            raise HTTPException(status.HTTP_409_CONFLICT, CYCLE_NOT_RUNNING)
        await handle.cancel()
    except RPCError as err:
        raise temporal_refusal(err, CYCLE_NOT_RUNNING) from None
    audit(session, principal, "cycle.cancel", billing_cycle_id(period_key), body.reason)
    return {"status": "cancelling"}
