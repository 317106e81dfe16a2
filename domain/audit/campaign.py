"""Campaign calendar rules: task due dates, reminders, review deadline, re-audit window (Paris time)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from domain.calendar import PARIS, add_business_days, next_business_day_on_or_after

REVIEW_BUSINESS_DAYS = 3
"""Business days kept at the end of the window for the quality team's review."""
REVIEW_GRACE_BUSINESS_DAYS = 10
"""Business days after the window during which submitted results can still be reviewed."""
REMINDER_DAYS_BEFORE: tuple[int, ...] = (3, 1)
"""Reminders to the inspector, in calendar days before the due date."""
REMINDER_HOUR = 9
"""Reminders leave at 09:00, Paris time."""


def paris_time(d: date, hour: int = 0) -> datetime:
    """The instant `d` at `hour`:00 in Paris (timezone-aware)."""
    return datetime.combine(d, time(hour), tzinfo=PARIS)


def paris_day_end(d: date) -> datetime:
    """The first instant after day `d` in Paris (midnight of the next day)."""
    return paris_time(d + timedelta(days=1))


def paris_date(ts: datetime) -> date:
    """Paris calendar day of an aware instant."""
    if ts.tzinfo is None:
        raise ValueError("ts must be timezone-aware")
    return ts.astimezone(PARIS).date()


def check_window(window_start: date, window_end: date) -> None:
    """Raise ValueError (French message) unless the window is a valid date range."""
    if window_start > window_end:
        raise ValueError(
            f"La fenêtre de campagne est invalide : le début ({window_start:%d/%m/%Y}) "
            f"est postérieur à la fin ({window_end:%d/%m/%Y})."
        )


def inspection_due_date(window_start: date, window_end: date, review_days: int = REVIEW_BUSINESS_DAYS) -> date:
    """Date by which an inspector should submit: `review_days` business days before the window end.

    Never before the window start, so a short window still gives its whole length to inspectors.
    """
    check_window(window_start, window_end)
    if review_days < 0:
        raise ValueError("review_days must be >= 0")
    return max(window_start, add_business_days(window_end, -review_days))


def review_deadline(window_end: date, grace_days: int = REVIEW_GRACE_BUSINESS_DAYS) -> date:
    """Last day on which submitted results can be reviewed before the campaign computes its results."""
    if grace_days < 0:
        raise ValueError("grace_days must be >= 0")
    return add_business_days(window_end, grace_days)


def reminder_times(due_on: date, after: datetime, days_before: Iterable[int] = REMINDER_DAYS_BEFORE) -> list[datetime]:
    """Reminder instants (09:00 Paris, `days_before` the due date) still to come after `after`, sorted."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    times = {paris_time(due_on - timedelta(days=d), REMINDER_HOUR) for d in days_before if d >= 0}
    return sorted(t for t in times if t > after)


@dataclass(frozen=True)
class ReauditWindow:
    """When the follow-up audit of failing sites takes place."""

    start: date
    end: date


def reaudit_window(actions_due_on: date, original_start: date, original_end: date) -> ReauditWindow:
    """The re-audit opens on the first business day after the corrective actions are due.

    It lasts as long as the original window (in calendar days), so inspectors get the same time.
    """
    check_window(original_start, original_end)
    start = next_business_day_on_or_after(actions_due_on + timedelta(days=1))
    return ReauditWindow(start=start, end=start + (original_end - original_start))


def is_late(due_on: date, submitted: bool, now: datetime) -> bool:
    """True once the due date has passed (Paris time) without a submission."""
    return not submitted and now >= paris_day_end(due_on)


def check_deadline_extension(current_due: date, new_due: date, window_start: date, window_end: date) -> None:
    """Raise ValueError (French message) unless `new_due` moves the due date later, inside the campaign window."""
    check_window(window_start, window_end)
    if new_due <= current_due:
        raise ValueError(
            f"La nouvelle échéance ({new_due:%d/%m/%Y}) doit être postérieure à l'échéance actuelle "
            f"({current_due:%d/%m/%Y})."
        )
    if new_due > window_end:
        raise ValueError(
            f"La nouvelle échéance ({new_due:%d/%m/%Y}) doit rester dans la fenêtre de la campagne "
            f"(fin le {window_end:%d/%m/%Y})."
        )


@dataclass(frozen=True)
class VisitWindow:
    """The days on which an inspector visits the site for a mission; always a valid interval (start <= end)."""

    start: date
    end: date

    def hint_fr(self) -> str:
        """How the mission page states it."""
        return f"Entre le {self.start:%d/%m/%Y} et le {self.end:%d/%m/%Y}."


def visit_window(window_start: date, window_end: date, due_on: date, taken_on: date | None = None) -> VisitWindow:
    """From the later of the day the inspector took the mission and the campaign start, to the task's deadline.

    A mission accepted before its campaign opens starts with the campaign (never "from the 14th to today" on
    the 7th). A mission taken after its deadline runs to the campaign end: it can still be done, late. Both
    ends stay inside the campaign window.
    """
    check_window(window_start, window_end)
    start = min(max(window_start, taken_on or window_start), window_end)
    end = due_on if start <= due_on <= window_end else window_end
    return VisitWindow(start, end)
