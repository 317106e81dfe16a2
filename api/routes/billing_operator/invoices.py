"""Invoices for billing operators: search, one invoice, counter payments (CESU, cheque, cash), credit notes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.exc import NoResultFound

from api.audit_log import audit
from api.deps import Limit, Offset, PaymentStoreDep, SessionDep
from api.errors import error_responses, field_error
from api.routes.family.invoices import invoice_detail, invoice_summary
from api.schemas.billing import CounterPaymentIn, CreditNoteIn, InvoiceDetail, InvoiceSummary
from api.security import BillingOperator, not_found
from domain.dunning import InvoiceStatus
from domain.money_guard import CreditNoteRefused, IdempotencyConflict
from domain.payments import PaymentMethod, PaymentRefused
from services import invoices
from services.payments import InvoiceNotPayable

router = APIRouter(prefix="/api/billing", tags=["billing"])
COUNTER_METHODS = {PaymentMethod.CESU, PaymentMethod.CHEQUE, PaymentMethod.CASH_COUNTER}


@router.get("/invoices")
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
    rows = invoices.search(session, period_key, status_filter, account_ref, limit, offset)
    return [invoice_summary(i) for i in rows]


@router.get("/invoices/{number}")
def operator_invoice(number: str, principal: BillingOperator, session: SessionDep) -> InvoiceDetail:
    """One invoice, as the operator sees it."""
    invoice = invoices.by_number(session, number)
    if invoice is None:
        raise not_found()
    return invoice_detail(session, invoice)


@router.post("/invoices/{number}/counter-payments", status_code=201, responses=error_responses(404, 409, 422))
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


@router.post("/invoices/{number}/credit-notes", status_code=201, responses=error_responses(404, 409, 422))
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
