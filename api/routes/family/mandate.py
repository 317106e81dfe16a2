"""The family's SEPA mandate: collect it with Stripe.js, confirm it, read it, revoke it."""

from __future__ import annotations

import asyncio
from typing import Any

import stripe
from fastapi import APIRouter, HTTPException, status
from sqlmodel import Session

from api.deps import PaymentsDep, SessionDep, SettingsDep
from api.errors import field_error
from api.routes.family.account import my_account, own_account
from api.schemas.billing import AccountOut, MandateConfirmIn, MandateOut, SetupIntentOut
from api.security import FamilyUser
from domain.sepa import NOT_A_SEPA_MANDATE, is_sepa_mandate_method, mandate_reference, mask_iban
from services import accounts
from ville.models.billing import FamilyAccount, MandateStatus

router = APIRouter(prefix="/api/family", tags=["family"])
NOT_CONFIRMED = "Mandat non confirmé par la banque."


@router.post("/mandate/setup")
async def mandate_setup(principal: FamilyUser, payments: PaymentsDep, settings: SettingsDep) -> SetupIntentOut:
    """Prepare Stripe.js to collect the IBAN and the SEPA mandate."""
    assert principal.family_account_id is not None
    secret = await asyncio.to_thread(payments.setup_intent_secret, principal.family_account_id, "sepa_debit")
    return SetupIntentOut(client_secret=secret, publishable_key=settings.stripe_publishable_key)


def _iban_last4(method: Any) -> str | None:
    """The last four characters of the debited IBAN (to show it masked), never the IBAN."""
    sepa = getattr(method, "sepa_debit", None)
    last4 = getattr(sepa, "last4", None) if sepa is not None else None
    return str(last4)[-4:] if last4 else None


@router.post("/mandate")
async def mandate_confirm(
    body: MandateConfirmIn, principal: FamilyUser, session: SessionDep, payments: PaymentsDep
) -> AccountOut:
    """Record the mandate once Stripe confirmed the SetupIntent (checked server-side)."""
    account = own_account(session, principal)
    try:
        intent = await asyncio.to_thread(payments.setup_intent, body.setup_intent_id)
    except stripe.InvalidRequestError:
        # an unknown or foreign SetupIntent id: the same answer as an unconfirmed one
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, NOT_CONFIRMED) from None
    if intent.customer != account.stripe_customer_id or intent.status != "succeeded":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, NOT_CONFIRMED)
    method = await asyncio.to_thread(payments.payment_method, str(intent.payment_method))
    if not is_sepa_mandate_method(method.type):  # a card saved by a SetupIntent is no debit mandate
        raise field_error("body.setup_intent_id", NOT_A_SEPA_MANDATE)
    accounts.record_mandate(session, account, str(intent.payment_method), _iban_last4(method))
    return my_account(principal, session)


@router.delete("/mandate")
def mandate_revoke(principal: FamilyUser, session: SessionDep) -> AccountOut:
    """Revoke the SEPA mandate: later invoices are paid by other means."""
    accounts.revoke_mandate(session, own_account(session, principal))
    return my_account(principal, session)


def mandate_summary(session: Session, account: FamilyAccount) -> MandateOut:
    """What the mandate page shows once a mandate exists."""
    payer = accounts.payer(session, account.id)
    has_method = account.mandate_status is not MandateStatus.none and account.stripe_payment_method_id
    return MandateOut(
        status=account.mandate_status,
        reference=mandate_reference(account.ref, account.stripe_payment_method_id or "") if has_method else None,
        iban_masked=mask_iban(payer.iban_last4) if payer is not None and payer.iban_last4 else None,
    )


@router.get("/mandate")
def my_mandate(principal: FamilyUser, session: SessionDep) -> MandateOut:
    """The SEPA mandate of the family account (reference and masked IBAN)."""
    return mandate_summary(session, own_account(session, principal))
