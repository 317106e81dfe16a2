"""Facil'familles for billing operators: cycles, counter payments, credit notes, refunds, search."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.exc import NoResultFound
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.payment_store import InvoiceNotPayable, PaymentStore
from api.audit_log import OperatorReason, audit
from api.deps import DbId, SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses, field_error, temporal_refusal
from api.routes.billing_family import InvoiceDetail, InvoiceSummary, _summary, invoice_detail
from api.security import BillingOperator, Principal, not_found
from api.temporal_query import QUERY_TIMEOUT, bounded
from domain.dunning import InvoiceStatus
from domain.payments import PaymentMethod, PaymentRefused
from domain.periods import period_from_key
from ville.ids import billing_cycle_id
from ville.models.billing import FamilyAccount, Invoice, Payment
from ville.models.people import OperatorAuditLog
from workflows.billing import BillingCycleWorkflow
from workflows.billing_types import BillingCycleInput, CycleProgress

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/facturation", tags=["facturation"])
PeriodKey = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="Période AAAA-MM")]
CYCLE_NOT_RUNNING = "Ce cycle de facturation n'est pas en cours."
COUNTER_METHODS = {PaymentMethod.CESU, PaymentMethod.CHEQUE, PaymentMethod.CASH_COUNTER}


class CycleStart(BaseModel):
    """Start (or preview) the cycle of a period."""

    period_key: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-09"])
    dry_run: bool = False
    batch_size: int = Field(500, ge=10, le=5_000)


class ActionReason(BaseModel):
    """Why an operator acts (kept in the audit log)."""

    reason: str = Field("", max_length=500)


class CounterPaymentIn(BaseModel):
    """A CESU, cheque or cash payment received at the counter."""

    key: str = Field(min_length=8, max_length=80, description="idempotency key chosen by the counter")
    method: PaymentMethod
    amount_cents: int = Field(gt=0, le=10_000_000)
    reference: str = Field("", max_length=80, description="cheque or CESU number")


class CreditNoteIn(BaseModel):
    """An avoir: amounts given back per activity."""

    key: str = Field(min_length=8, max_length=80)
    amounts_by_activity: dict[str, int]
    reason: str = Field(min_length=3, max_length=500)


class RefundIn(BaseModel):
    """Give money back on a payment (card refunds go through Stripe)."""

    key: str = Field(min_length=8, max_length=80)
    amount_cents: int = Field(gt=0, le=10_000_000)
    reason: str = Field(min_length=3, max_length=500)


def _cycle(temporal: TemporalDep, period_key: str) -> WorkflowHandle[BillingCycleWorkflow, object]:
    return temporal.get_workflow_handle_for(BillingCycleWorkflow.run, billing_cycle_id(period_key))


@router.post("/cycles", status_code=status.HTTP_202_ACCEPTED)
async def start_cycle(
    body: CycleStart, principal: BillingOperator, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> dict[str, str]:
    """Start a period's cycle; starting it twice is harmless (the running one is kept)."""
    try:
        period_from_key(body.period_key, settings.billing_period_months)
    except ValueError as err:
        raise field_error("body.period_key", str(err)) from None
    wf_id = billing_cycle_id(body.period_key) + ("-apercu" if body.dry_run else "")
    handle = await temporal.start_workflow(
        BillingCycleWorkflow.run,
        BillingCycleInput(
            body.period_key,
            dry_run=body.dry_run,
            batch_size=body.batch_size,
            parallelism=2 if settings.database_url.startswith("sqlite") else 4,
        ),
        id=wf_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    audit(session, principal, "cycle.start" + (".preview" if body.dry_run else ""), wf_id)
    return {"workflow_id": handle.id, "run_id": handle.result_run_id or ""}


@router.get("/cycles/{period_key}", responses=error_responses(503))
async def cycle_progress(
    period_key: str, principal: BillingOperator, temporal: TemporalDep, apercu: bool = False
) -> CycleProgress:
    """Phase, batches and totals of a cycle (or of its preview)."""
    wf_id = billing_cycle_id(period_key) + ("-apercu" if apercu else "")
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


@router.post("/cycles/{period_key}/pause", responses=error_responses(409, 503))
async def pause_cycle(
    period_key: PeriodKey, body: ActionReason, principal: BillingOperator, session: SessionDep, temporal: TemporalDep
) -> dict[str, str]:
    """Stop starting new batches."""
    await _signal_cycle(temporal, session, principal, period_key, BillingCycleWorkflow.pause, "cycle.pause", body)
    return {"status": "paused"}


@router.post("/cycles/{period_key}/reprise", responses=error_responses(409, 503))
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


@router.post("/cycles/{period_key}/relance-lots", responses=error_responses(409, 503))
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


@router.post(
    "/cycles/{period_key}/annulation", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(409, 422, 503)
)
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


@router.get("/factures")
def search_invoices(
    principal: BillingOperator,
    session: SessionDep,
    period_key: str | None = None,
    status_filter: InvoiceStatus | None = None,
    account_ref: str | None = None,
    limit: int = Query(50, ge=1),  # PostgreSQL refuses a negative LIMIT/OFFSET (SQLite read it as "no limit")
    offset: int = Query(0, ge=0),
) -> list[InvoiceSummary]:
    """Search invoices by period, status and account."""
    q = select(Invoice)
    if period_key:
        q = q.where(Invoice.period_key == period_key)
    if status_filter:
        q = q.where(Invoice.status == status_filter)
    if account_ref:
        q = q.join(FamilyAccount, col(FamilyAccount.id) == Invoice.account_id).where(FamilyAccount.ref == account_ref)
    rows = session.exec(q.order_by(col(Invoice.number)).limit(min(limit, 500)).offset(offset)).all()
    return [_summary(i) for i in rows]


@router.get("/factures/{number}")
def operator_invoice(number: str, principal: BillingOperator, session: SessionDep) -> InvoiceDetail:
    """One invoice, as the operator sees it."""
    invoice = session.exec(select(Invoice).where(Invoice.number == number)).first()
    if invoice is None:
        raise not_found()
    return invoice_detail(session, invoice)


def _store(request: Request) -> PaymentStore:
    store: PaymentStore = request.app.state.payment_activities.store
    return store


@router.post("/factures/{number}/paiements-guichet", status_code=201)
async def counter_payment(
    number: str, body: CounterPaymentIn, principal: BillingOperator, session: SessionDep, request: Request
) -> InvoiceDetail:
    """Record a CESU, cheque or cash payment; the same key twice records it once."""
    if body.method not in COUNTER_METHODS:
        raise field_error("body.method", "Moyen de paiement non accepté au guichet (CESU, chèque, espèces).")
    store = _store(request)
    try:
        await asyncio.to_thread(
            store.new_payment, f"counter:{body.key}", number, body.method, body.amount_cents, body.reference or None
        )
    except (PaymentRefused, InvoiceNotPayable) as err:
        raise field_error("body.amount_cents", err.message_fr) from None
    except (LookupError, NoResultFound):
        raise not_found() from None
    await asyncio.to_thread(store.settle, f"counter:{body.key}")
    audit(session, principal, f"payment.counter.{body.method.value}", number, body.reference)
    return operator_invoice(number, principal, session)


@router.post("/factures/{number}/avoirs", status_code=201)
async def credit_note(
    number: str, body: CreditNoteIn, principal: BillingOperator, session: SessionDep, request: Request
) -> InvoiceDetail:
    """Issue a credit note (avoir) on an invoice."""
    if not body.amounts_by_activity or any(v <= 0 for v in body.amounts_by_activity.values()):
        raise field_error("body.amounts_by_activity", "Montants positifs attendus par activité.")
    try:
        await asyncio.to_thread(
            _store(request).credit_note, f"credit-note:{body.key}", number, body.amounts_by_activity
        )
    except (PaymentRefused, InvoiceNotPayable) as err:
        raise field_error("body.amounts_by_activity", err.message_fr) from None
    except (LookupError, NoResultFound):
        raise not_found() from None
    audit(session, principal, "invoice.credit_note", number, body.reason)
    return operator_invoice(number, principal, session)


@router.post("/paiements/{payment_id}/remboursement", status_code=201)
async def refund(
    payment_id: DbId, body: RefundIn, principal: BillingOperator, session: SessionDep, request: Request
) -> dict[str, int]:
    """Refund a payment (through Stripe for card and SEPA payments); the same key twice refunds once."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise not_found()
    try:
        refunded = await asyncio.to_thread(
            request.app.state.payment_activities.refund, payment_id, body.amount_cents, f"refund:{body.key}"
        )
    except PaymentRefused as err:
        raise field_error("body.amount_cents", err.message_fr) from None
    audit(session, principal, "payment.refund", str(payment_id), body.reason)
    return {"refunded_cents": refunded}


@router.get("/journal")
def audit_log(principal: BillingOperator, session: SessionDep, limit: int = Query(100, ge=1)) -> list[dict[str, str]]:
    """The operators' audit log, newest first."""
    rows = session.exec(select(OperatorAuditLog).order_by(col(OperatorAuditLog.id).desc()).limit(min(limit, 500)))
    return [
        {
            "at": r.at.astimezone(UTC).isoformat(),
            "actor": str(r.actor_user_id),
            "action": r.action,
            "target": r.target,
            "reason": r.reason,
        }
        for r in rows
    ]
