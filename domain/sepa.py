"""SEPA direct debit rules: mandate state after debit results, debit date, result window."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from domain.calendar import add_business_days, next_business_day_on_or_after

MAX_CONSECUTIVE_REJECTIONS = 2
RESULT_WINDOW_BUSINESS_DAYS = 14


class MandateStatus(StrEnum):
    """Whether invoices are collected by direct debit or the family pays by other means."""

    ACTIVE = "active"
    SUSPENDED = "suspended"  # fallback: card, CESU, cheque or counter


@dataclass(frozen=True, slots=True)
class SepaState:
    """State of a family's SEPA mandate."""

    mandate_ref: str
    status: MandateStatus = MandateStatus.ACTIVE
    consecutive_rejections: int = 0

    @property
    def is_active(self) -> bool:
        """True if the next invoice may be debited."""
        return self.status is MandateStatus.ACTIVE


def after_debit_result(state: SepaState, success: bool, max_rejections: int = MAX_CONSECUTIVE_REJECTIONS) -> SepaState:
    """New state after a debit result: success resets the count; the 2nd rejection in a row suspends."""
    if not state.is_active:
        raise ValueError(f"mandate {state.mandate_ref} is suspended: no debit result expected")
    if success:
        return replace(state, consecutive_rejections=0)
    rejections = state.consecutive_rejections + 1
    status = MandateStatus.SUSPENDED if rejections >= max_rejections else MandateStatus.ACTIVE
    return replace(state, status=status, consecutive_rejections=rejections)


def debit_date(due: date) -> date:
    """The debit is presented on the due date, or the next business day."""
    return next_business_day_on_or_after(due)


def result_deadline(debit_day: date, business_days: int = RESULT_WINDOW_BUSINESS_DAYS) -> date:
    """Last day a debit result may arrive: 14 business days after the debit."""
    return add_business_days(debit_day, business_days)
