"""Refunds of payments, for billing operators."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, status

from api.audit_log import audit
from api.deps import DbId, PaymentsDep, SessionDep
from api.errors import error_responses, field_error
from api.schemas.billing import RefundIn
from api.security import BillingOperator, not_found
from domain.money_guard import IdempotencyConflict
from domain.payments import PaymentRefused
from services import invoices

router = APIRouter(prefix="/api/billing", tags=["billing"])


@router.post("/payments/{payment_id}/refund", status_code=201, responses=error_responses(404, 409, 422))
async def refund(
    payment_id: DbId, body: RefundIn, principal: BillingOperator, session: SessionDep, payments: PaymentsDep
) -> dict[str, int]:
    """Refund a payment (through Stripe for card and SEPA payments); the same key twice refunds once."""
    if invoices.payment(session, payment_id) is None:
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
