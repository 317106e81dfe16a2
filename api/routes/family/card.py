"""Paying an invoice by card: Stripe.js saves the card, the invoice's payment workflow charges it."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, status
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import FailureError
from temporalio.service import RPCError

from api.deps import PaymentsDep, SessionDep, SettingsDep, TemporalDep
from api.errors import temporal_refusal
from api.routes.family.invoices import own_invoice
from api.schemas.billing import CardPaymentIn, SetupIntentOut
from api.security import FamilyUser
from contracts.billing import CardPaymentRequest, PaymentAttemptResult
from services.payments import InvoiceNotPayable, ensure_payable
from ville.models.billing import Invoice
from workflows.clients import pay_invoice_by_card

router = APIRouter(prefix="/api/family", tags=["family"])


def _check_payable(invoice: Invoice) -> None:
    """409 with the page's French message for a transferred, cancelled or settled invoice."""
    try:
        ensure_payable(invoice)
    except InvoiceNotPayable as err:
        raise HTTPException(status.HTTP_409_CONFLICT, err.message_fr) from None


@router.post("/invoices/{number}/card/setup")
async def card_setup(
    number: str, principal: FamilyUser, session: SessionDep, payments: PaymentsDep, settings: SettingsDep
) -> SetupIntentOut:
    """Prepare Stripe.js to save a card for this payment."""
    invoice = own_invoice(session, principal, number)
    _check_payable(invoice)
    secret = await asyncio.to_thread(payments.setup_intent_secret, invoice.account_id, "card")
    return SetupIntentOut(client_secret=secret, publishable_key=settings.stripe_publishable_key)


@router.post("/invoices/{number}/card")
async def pay_by_card(
    number: str,
    body: CardPaymentIn,
    principal: FamilyUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> PaymentAttemptResult:
    """Charge the saved card through the invoice's payment workflow and answer with the outcome."""
    invoice = own_invoice(session, principal, number)
    _check_payable(invoice)
    try:
        return await pay_invoice_by_card(
            temporal, settings.task_queue, number, CardPaymentRequest(body.payment_method_id, body.amount_cents)
        )
    except RPCError as err:
        raise temporal_refusal(err, "Paiement impossible pour le moment, réessayez.") from err
    except WorkflowUpdateFailedError as err:
        message = err.cause.message if isinstance(err.cause, FailureError) else "Paiement impossible."
        raise HTTPException(status.HTTP_409_CONFLICT, message) from None
