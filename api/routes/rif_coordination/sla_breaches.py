"""Coordinators' watch list: referrals of their relay that missed the acknowledgement SLA."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ReferralsDep
from api.referral_access import Coordinator, relay_scope
from api.referral_views import breach_out
from api.schemas.referrals import BreachOut

router = APIRouter(prefix="/api/rif", tags=["rif"])


@router.get("/coordination/sla-breaches")
def sla_breaches(principal: Coordinator, referrals: ReferralsDep, open_only: bool = True) -> list[BreachOut]:
    """Referrals of the coordinator's relay that missed the acknowledgement SLA."""
    rows = referrals.sla_breaches(relay_scope(principal), open_only)
    return [breach_out(referrals, r, case_ref) for r, case_ref in rows]
