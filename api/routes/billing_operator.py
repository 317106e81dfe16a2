"""Facil'familles for billing operators: cycles, counter payments, credit notes, refunds, search."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, BeforeValidator, Field, StringConstraints
from sqlalchemy.exc import NoResultFound
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.audit_log import OperatorReason, audit
from api.cycle_start import ended_period, preview, start_period_cycle
from api.deps import (
    BillingStoreDep,
    DbId,
    Limit,
    Offset,
    PaymentsDep,
    PaymentStoreDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.errors import error_responses, field_error, temporal_refusal
from api.routes.billing_family import InvoiceDetail, InvoiceSummary, _summary, invoice_detail
from api.security import BillingOperator, Principal, not_found
from api.temporal_query import QUERY_TIMEOUT, bounded
from contracts.billing import CycleProgress
from domain.dunning import InvoiceStatus
from domain.money_guard import MAX_MONEY_BODY_CENTS, CreditNoteRefused, IdempotencyConflict
from domain.payments import PaymentMethod, PaymentRefused
from services.billing_preview import PeriodPreview
from services.payments import InvoiceNotPayable
from ville.ids import billing_cycle_id
from ville.models.billing import FamilyAccount, Invoice, Payment
from ville.models.people import OperatorAuditLog
from workflows.billing import BillingCycleWorkflow

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/facturation", tags=["facturation"])
PeriodKey = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="Période AAAA-MM")]
CYCLE_NOT_RUNNING = "Ce cycle de facturation n'est pas en cours."
COUNTER_METHODS = {PaymentMethod.CESU, PaymentMethod.CHEQUE, PaymentMethod.CASH_COUNTER}


class CycleStart(BaseModel):
    """Start the cycle of a period that has ended, saying why (the reason goes to the journal)."""

    period_key: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-09"])
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)] = Field(
        examples=["Facturation de septembre–octobre 2026"]
    )
    batch_size: int = Field(500, ge=10, le=5_000)
    dry_run: bool = Field(False, description="obsolète : l'aperçu est POST /api/facturation/cycles/apercu")


class CyclePreviewIn(BaseModel):
    """The period to preview."""

    period_key: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-09"])


class ActionReason(BaseModel):
    """Why an operator acts (kept in the audit log)."""

    reason: str = Field("", max_length=500)


def _json_number(value: object) -> object:
    # a string or a boolean is never taken for an amount ("100" is refused, not coerced); an integral JSON
    # number such as 100.0 is an integer for JSON Schema and is accepted, 100.5 is refused by the int type
    if isinstance(value, str | bool):
        raise ValueError("un montant en centimes est un nombre entier JSON, pas une chaîne")
    return value


# money in bodies: positive integers of cents, bounded, never a string
MoneyCents = Annotated[int, Field(gt=0, le=MAX_MONEY_BODY_CENTS), BeforeValidator(_json_number)]


class CounterPaymentIn(BaseModel):
    """A CESU, cheque or cash payment received at the counter."""

    key: str = Field(min_length=8, max_length=80, description="idempotency key chosen by the counter")
    method: PaymentMethod
    amount_cents: MoneyCents
    reference: str = Field("", max_length=80, description="cheque or CESU number")


class CreditNoteIn(BaseModel):
    """An avoir: amounts given back per activity of the invoice."""

    key: str = Field(min_length=8, max_length=80)
    amounts_by_activity: dict[Annotated[str, Field(max_length=40)], MoneyCents] = Field(min_length=1, max_length=20)
    reason: str = Field(min_length=3, max_length=500)


class RefundIn(BaseModel):
    """Give money back on a payment (card refunds go through Stripe)."""

    key: str = Field(min_length=8, max_length=80)
    amount_cents: MoneyCents
    reason: str = Field(min_length=3, max_length=500)


def _cycle(temporal: TemporalDep, period_key: str) -> WorkflowHandle[BillingCycleWorkflow, object]:
    return temporal.get_workflow_handle_for(BillingCycleWorkflow.run, billing_cycle_id(period_key))


@router.post("/cycles", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(409, 422, 503))
async def start_cycle(
    body: CycleStart, principal: BillingOperator, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> dict[str, str]:
    """Start the cycle of a period that has ended; 409 if it runs, is paused or is done (nothing journalled)."""
    if body.dry_run:
        raise field_error("body.dry_run", "L'aperçu d'une période se demande par POST /api/facturation/cycles/apercu.")
    period = ended_period(body.period_key, settings)
    handle = await start_period_cycle(temporal, settings, period, body.batch_size)
    audit(session, principal, "cycle.start", handle.id, body.reason)
    return {"workflow_id": handle.id, "run_id": handle.result_run_id or ""}


@router.post("/cycles/apercu", responses=error_responses(422))
async def cycle_preview(
    body: CyclePreviewIn, principal: BillingOperator, settings: SettingsDep, store: BillingStoreDep
) -> PeriodPreview:
    """What the period's cycle would issue now: families and totals per QF tranche (nothing is written)."""
    period = ended_period(body.period_key, settings)
    return await preview(store, period)


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
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[InvoiceSummary]:
    """Search invoices by period, status and account."""
    q = select(Invoice)
    if period_key:
        q = q.where(Invoice.period_key == period_key)
    if status_filter:
        q = q.where(Invoice.status == status_filter)
    if account_ref:
        q = q.join(FamilyAccount, col(FamilyAccount.id) == Invoice.account_id).where(FamilyAccount.ref == account_ref)
    rows = session.exec(q.order_by(col(Invoice.number)).limit(limit).offset(offset)).all()
    return [_summary(i) for i in rows]


@router.get("/factures/{number}")
def operator_invoice(number: str, principal: BillingOperator, session: SessionDep) -> InvoiceDetail:
    """One invoice, as the operator sees it."""
    invoice = session.exec(select(Invoice).where(Invoice.number == number)).first()
    if invoice is None:
        raise not_found()
    return invoice_detail(session, invoice)


@router.post("/factures/{number}/paiements-guichet", status_code=201, responses=error_responses(404, 409, 422))
async def counter_payment(
    number: str, body: CounterPaymentIn, principal: BillingOperator, session: SessionDep, store: PaymentStoreDep
) -> InvoiceDetail:
    """Record a CESU, cheque or cash payment; the same key twice records it once, with other content 409."""
    if body.method not in COUNTER_METHODS:
        raise field_error("body.method", "Moyen de paiement non accepté au guichet (CESU, chèque, espèces).")
    try:
        out = await asyncio.to_thread(
            store.record_counter_payment,
            f"counter:{body.key}",
            number,
            body.method,
            body.amount_cents,
            body.reference or None,
        )
    except IdempotencyConflict as err:
        raise HTTPException(status.HTTP_409_CONFLICT, err.message_fr) from None
    except (PaymentRefused, InvoiceNotPayable) as err:
        raise field_error("body.amount_cents", err.message_fr) from None
    except (LookupError, NoResultFound):
        raise not_found() from None
    if out.newly_recorded:  # a replay changed nothing: nothing more to journal
        audit(session, principal, f"payment.counter.{body.method.value}", number, body.reference)
    return operator_invoice(number, principal, session)


@router.post("/factures/{number}/avoirs", status_code=201, responses=error_responses(404, 409, 422))
async def credit_note(
    number: str, body: CreditNoteIn, principal: BillingOperator, session: SessionDep, store: PaymentStoreDep
) -> InvoiceDetail:
    """Issue a credit note (avoir) on the invoice's own activities, within what each line still allows."""
    try:
        out = await asyncio.to_thread(store.credit_note, f"credit-note:{body.key}", number, body.amounts_by_activity)
    except IdempotencyConflict as err:
        raise HTTPException(status.HTTP_409_CONFLICT, err.message_fr) from None
    except CreditNoteRefused as err:
        raise field_error(err.field, err.message_fr) from None
    except (PaymentRefused, InvoiceNotPayable) as err:
        raise field_error("body.amounts_by_activity", err.message_fr) from None
    except (LookupError, NoResultFound):
        raise not_found() from None
    if out.newly_recorded:
        audit(session, principal, "invoice.credit_note", number, body.reason)
    return operator_invoice(number, principal, session)


@router.post("/paiements/{payment_id}/remboursement", status_code=201, responses=error_responses(404, 409, 422))
async def refund(
    payment_id: DbId, body: RefundIn, principal: BillingOperator, session: SessionDep, payments: PaymentsDep
) -> dict[str, int]:
    """Refund a payment (through Stripe for card and SEPA payments); the same key twice refunds once."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise not_found()
    try:
        out = await asyncio.to_thread(payments.refund, payment_id, body.amount_cents, f"refund:{body.key}")
    except IdempotencyConflict as err:
        raise HTTPException(status.HTTP_409_CONFLICT, err.message_fr) from None
    except PaymentRefused as err:
        raise field_error("body.amount_cents", err.message_fr) from None
    if out.newly_recorded:
        audit(session, principal, "payment.refund", str(payment_id), body.reason)
    return {"refunded_cents": out.refunded_cents}


@router.get("/journal")
def audit_log(principal: BillingOperator, session: SessionDep, limit: Limit = 100) -> list[dict[str, str]]:
    """The operators' audit log, newest first."""
    rows = session.exec(select(OperatorAuditLog).order_by(col(OperatorAuditLog.id).desc()).limit(limit))
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
