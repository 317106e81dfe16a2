"""Due dates: the 25th of the month after issue by default, moved to a business day."""

from __future__ import annotations

from datetime import date, timedelta

from domain.calendar import add_months, month_end, next_business_day_on_or_after

DEFAULT_DUE_DAY = 25
DEFAULT_SECOND_DEADLINE_DAYS = 30


def due_date(issue_date: date, day: int = DEFAULT_DUE_DAY, months_after: int = 1) -> date:
    """Return ``day`` (clamped) of the month ``months_after`` the issue month, moved to a business day."""
    if not 1 <= day <= 31 or months_after < 0:
        raise ValueError("day must be 1..31 and months_after non-negative")
    target_month = add_months(issue_date.replace(day=1), months_after)
    due = next_business_day_on_or_after(target_month.replace(day=min(day, month_end(target_month).day)))
    if due <= issue_date:
        raise ValueError(f"due date {due} would not be after issue date {issue_date}")
    return due


def second_deadline(due: date, days: int = DEFAULT_SECOND_DEADLINE_DAYS) -> date:
    """Return the second deadline, ``days`` calendar days after ``due``, on a business day."""
    if days <= 0:
        raise ValueError("days must be positive")
    return next_business_day_on_or_after(due + timedelta(days=days))
