"""The partner directory as agents search it, and the reference lists (needs, refusal reasons)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ReferralsDep
from api.referral_access import DirectoryUser
from api.referral_views import service_out
from api.schemas.referrals import LabelOut, ServiceOut
from domain.referral_cases import NeedCategory
from domain.referrals import RefusalReason

router = APIRouter(prefix="/api/rif", tags=["rif"])


@router.get("/needs")
def needs() -> list[LabelOut]:
    """Categories of need (public list)."""
    return [LabelOut(code=n.value, label=n.label) for n in NeedCategory]


@router.get("/refusal-reasons")
def refusal_reasons() -> list[LabelOut]:
    """Reasons a partner may give for a refusal (public list)."""
    return [LabelOut(code=r.value, label=r.label) for r in RefusalReason]


@router.get("/directory/services")
def directory_search(
    principal: DirectoryUser,
    referrals: ReferralsDep,
    need: NeedCategory | None = None,
    arrondissement: Annotated[int | None, Query(ge=1, le=20)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    include_unavailable: bool = False,
) -> list[ServiceOut]:
    """Services by need and arrondissement (active ones unless asked); local places first."""
    hits = referrals.search_services(need, arrondissement, q, include_unavailable)
    return [service_out(h) for h in hits]
