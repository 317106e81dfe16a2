"""Campaign calendar rules: due dates, reminders, review deadline, re-audit window (Paris time)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.audit.campaign import (
    PARIS,
    VisitWindow,
    inspection_due_date,
    is_late,
    paris_date,
    paris_day_end,
    paris_time,
    reaudit_window,
    reminder_times,
    review_deadline,
    visit_window,
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


# window 14/12/2026 - 29/01/2027, deadline 26/01/2027
W_START, W_END, DUE = date(2026, 12, 14), date(2027, 1, 29), date(2027, 1, 26)


def test_a_mission_accepted_before_its_campaign_opens_is_visited_from_the_campaign_start() -> None:
    # the reported case: accepted on 07/12/2026, campaign from 14/12/2026 ("Entre le 14/12/2026 et aujourd'hui")
    window = visit_window(W_START, W_END, DUE, taken_on=date(2026, 12, 7))
    assert window == VisitWindow(W_START, DUE)
    assert window.hint_fr() == "Entre le 14/12/2026 et le 26/01/2027."


def test_a_mission_taken_during_the_campaign_starts_that_day() -> None:
    assert visit_window(W_START, W_END, DUE, taken_on=date(2027, 1, 5)) == VisitWindow(date(2027, 1, 5), DUE)
    assert visit_window(W_START, W_END, DUE) == VisitWindow(W_START, DUE)  # nothing recorded: the campaign start


def test_the_visit_window_is_always_a_valid_interval_inside_the_campaign() -> None:
    # taken after its deadline (reassigned late): it can still be done, until the campaign ends
    assert visit_window(W_START, W_END, DUE, taken_on=date(2027, 1, 27)) == VisitWindow(date(2027, 1, 27), W_END)
    # taken after the campaign: its last day, never a start after the end
    assert visit_window(W_START, W_END, DUE, taken_on=date(2027, 2, 10)) == VisitWindow(W_END, W_END)
    for day in range(60):
        taken = W_START - timedelta(days=10) + timedelta(days=day)
        w = visit_window(W_START, W_END, DUE, taken)
        assert W_START <= w.start <= w.end <= W_END, taken
    with pytest.raises(ValueError, match="fenêtre de campagne est invalide"):
        visit_window(W_END, W_START, DUE)
