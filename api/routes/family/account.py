"""The family account: preferences, mandate status, credit and balance."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session

from api.deps import SessionDep
from api.schemas.billing import AccountOut
from api.security import FamilyUser, Principal, not_found
from services import accounts
from services.billing import credit_balances
from ville.models.billing import FamilyAccount

router = APIRouter(prefix="/api/family", tags=["family"])


def own_account(session: Session, principal: Principal) -> FamilyAccount:
    """The caller's family account; 404 when it has none."""
    account = accounts.account(session, principal.family_account_id)
    if account is None:
        raise not_found()
    return account


@router.get("/account")
def my_account(principal: FamilyUser, session: SessionDep) -> AccountOut:
    """Preferences, mandate, credit and balance of the family account."""
    account = own_account(session, principal)
    return AccountOut(
        ref=account.ref,
        delivery_channel=account.delivery_channel,
        sms_opt_in=account.sms_opt_in,
        mandate_status=account.mandate_status,
        credit_cents=credit_balances(session, [account.ref]).get(account.ref, 0),
        balance_cents=accounts.balance_cents(session, account.ref),
    )
