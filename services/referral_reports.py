"""Counts and lists of open referrals for the operator console (the referral tables' reads beyond one case)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from domain.referrals import ReferralState
from ville.models.referrals import Referral, ReferralCase, RifRelay


@dataclass(frozen=True)
class RelayLoad:
    """A relay's open referrals, and how many of them were escalated (SLA breached)."""

    relay_id: int
    code: str
    open: int
    breaching: int


@dataclass(frozen=True)
class AwaitingReferral:
    """An open referral not yet escalated: still within its acknowledgement deadline, or about to pass it."""

    referral_ref: str
    case_ref: str
    sent_at: datetime | None
    sla_deadline: datetime | None


@dataclass
class ReferralReports:
    """Reports over the open referrals, over one session."""

    s: Session

    def open_by_relay(self) -> list[RelayLoad]:
        """Open referrals per relay (relays with none left out), by relay code."""
        breach = col(Referral.escalated_at).is_not(None)
        rows = self.s.exec(
            select(RifRelay.id, RifRelay.code, func.count(), func.coalesce(func.sum(case((breach, 1), else_=0)), 0))
            .select_from(Referral)
            .join(ReferralCase, col(ReferralCase.id) == col(Referral.case_id))
            .join(RifRelay, col(RifRelay.id) == col(ReferralCase.relay_id))
            .where(Referral.status == ReferralState.OPEN.value)
            .group_by(col(RifRelay.id), col(RifRelay.code))
            .order_by(col(RifRelay.code))
        ).all()
        return [RelayLoad(int(rid), code, int(n), int(b)) for rid, code, n, b in rows]

    def awaiting_acknowledgement(self, limit: int = 100) -> list[AwaitingReferral]:
        """Open referrals not escalated yet, nearest acknowledgement deadline first."""
        rows: Sequence[tuple[str, str, datetime | None, datetime | None]] = self.s.exec(
            select(Referral.ref, ReferralCase.ref, Referral.sent_at, Referral.sla_deadline)
            .join(ReferralCase, col(ReferralCase.id) == col(Referral.case_id))
            .where(Referral.status == ReferralState.OPEN.value, col(Referral.escalated_at).is_(None))
            .order_by(col(Referral.sla_deadline))
            .limit(limit)
        ).all()
        return [AwaitingReferral(*row) for row in rows]
