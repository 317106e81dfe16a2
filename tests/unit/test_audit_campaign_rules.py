"""Campaign calendar rules: due dates, reminders, review deadline, re-audit window (Paris time)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.audit.campaign import (
    PARIS,
    inspection_due_date,
    is_late,
    paris_date,
    paris_day_end,
    paris_time,
    reaudit_window,
    reminder_times,
    review_deadline,
)


def test_paris_instants_follow_summer_time() -> None:
    assert paris_time(date(2027, 1, 15), 9).astimezone(UTC).hour == 8  # UTC+1 in winter
    assert paris_time(date(2027, 7, 15), 9).astimezone(UTC).hour == 7  # UTC+2 in summer
    assert paris_day_end(date(2027, 3, 31)) == datetime(2027, 4, 1, tzinfo=PARIS)
    # 23:30 UTC on 31 March is already 1 April in Paris
    assert paris_date(datetime(2027, 3, 31, 23, 30, tzinfo=UTC)) == date(2027, 4, 1)
    with pytest.raises(ValueError):
        paris_date(datetime(2027, 3, 31))


def test_due_date_keeps_business_days_for_review() -> None:
    # window ends Friday 26 March 2027: three business days earlier is Tuesday 23 March
    assert inspection_due_date(date(2027, 3, 1), date(2027, 3, 26)) == date(2027, 3, 23)
    # Easter Monday 29 March 2027 is skipped: Thursday 1 April minus 3 business days -> Friday 26 March
    assert inspection_due_date(date(2027, 3, 1), date(2027, 4, 1)) == date(2027, 3, 26)
    # a window shorter than the review margin gives its whole length to the inspector
    assert inspection_due_date(date(2027, 3, 25), date(2027, 3, 26)) == date(2027, 3, 25)
    with pytest.raises(ValueError, match="fenêtre de campagne est invalide"):
        inspection_due_date(date(2027, 3, 26), date(2027, 3, 1))


def test_review_deadline_counts_business_days() -> None:
    assert review_deadline(date(2027, 3, 26), 10) == date(2027, 4, 12)  # skips Easter Monday
    assert review_deadline(date(2027, 3, 26), 0) == date(2027, 3, 26)


def test_reminders_are_at_nine_and_only_those_still_to_come() -> None:
    due = date(2027, 3, 23)
    all_reminders = reminder_times(due, datetime(2027, 3, 1, tzinfo=UTC))
    assert all_reminders == [paris_time(date(2027, 3, 20), 9), paris_time(date(2027, 3, 22), 9)]
    later = reminder_times(due, paris_time(date(2027, 3, 20), 9))
    assert later == [paris_time(date(2027, 3, 22), 9)]
    assert reminder_times(due, paris_time(due, 10)) == []
    with pytest.raises(ValueError):
        reminder_times(due, datetime(2027, 3, 1))


def test_late_once_the_due_day_is_over_without_submission() -> None:
    due = date(2027, 3, 23)
    assert not is_late(due, False, paris_time(due, 23))
    assert is_late(due, False, paris_day_end(due))
    assert not is_late(due, True, paris_day_end(due) + timedelta(days=3))


def test_reaudit_opens_after_the_actions_are_due_for_the_same_length() -> None:
    window = reaudit_window(date(2027, 5, 7), date(2027, 3, 1), date(2027, 3, 31))
    # Saturday 8 May is also Victoire 1945: the first business day after 7 May is Monday 10 May
    assert window.start == date(2027, 5, 10)
    assert window.end - window.start == timedelta(days=30)
