"""The family's payments and their outcome."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SessionDep
from api.schemas.billing import PaymentOut
from api.security import FamilyUser
from services import invoices

router = APIRouter(prefix="/api/family", tags=["family"])


@router.get("/payments")
def my_payments(principal: FamilyUser, session: SessionDep) -> list[PaymentOut]:
    """The family's payments and their outcome."""
    return [
        PaymentOut(
            id=p.id,
            invoice_number=n,
            method=p.method.value,
            amount_cents=p.amount_cents,
            status=p.status,
            failure_reason=p.failure_reason,
            created_at=p.created_at.isoformat(),
        )
        for p, n in invoices.payments_of_account(session, principal.family_account_id)
        if p.id is not None
    ]
