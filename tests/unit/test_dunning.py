"""Due dates, invoice statuses and the dunning ladder."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import is_business_day
from domain.due_dates import due_date, second_deadline
from domain.dunning import (
    PAYABLE_STATUSES,
    DunningKind,
    DunningStep,
    InvoiceStatus,
    default_ladder,
    next_step_date,
    status_after_payment,
    steps_due,
    validate_ladder,
)

EMAIL, SMS, LETTER, TRANSFER = (
    DunningKind.REMINDER_EMAIL,
    DunningKind.REMINDER_SMS,
    DunningKind.REMINDER_LETTER,
    DunningKind.TRANSFER_TRESOR,
)


@pytest.mark.parametrize(
    ("issue", "due"),
    [
        (date(2026, 1, 10), date(2026, 2, 25)),  # Wednesday
        (date(2026, 9, 10), date(2026, 10, 26)),  # 25/10 is a Sunday
        (date(2026, 11, 3), date(2026, 12, 28)),  # 25/12 Noël (Friday), then the weekend
    ],
)
def test_due_date_is_the_25th_of_next_month_on_a_business_day(issue: date, due: date) -> None:
    assert due_date(issue) == due


def test_due_date_options() -> None:
    assert due_date(date(2027, 1, 5), day=31) == date(2027, 3, 1)  # 28/02/2027 is a Sunday
    assert due_date(date(2026, 9, 1), day=15, months_after=0) == date(2026, 9, 15)
    with pytest.raises(ValueError):
        due_date(date(2026, 9, 26), months_after=0)
    with pytest.raises(ValueError):
        due_date(date(2026, 9, 1), day=0)


def test_second_deadline() -> None:
    assert second_deadline(date(2026, 12, 28)) == date(2027, 1, 27)
    assert second_deadline(date(2026, 10, 12)) == date(2026, 11, 12)  # 11/11 Armistice
    assert second_deadline(date(2026, 10, 12), days=5) == date(2026, 10, 19)
    with pytest.raises(ValueError):
        second_deadline(date(2026, 10, 12), days=0)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_due_dates_are_business_days_after_issue(issue: date) -> None:
    due = due_date(issue)
    assert is_business_day(due) and due > issue
    assert (due - date(due.year, due.month, 25)).days <= 4
    assert is_business_day(second_deadline(due))


def test_status_after_payment() -> None:
    assert status_after_payment(10_000, 0) is InvoiceStatus.ISSUED
    assert status_after_payment(10_000, 1) is InvoiceStatus.PARTIALLY_PAID
    assert status_after_payment(10_000, 10_000) is InvoiceStatus.PAID
    assert status_after_payment(0, 0) is InvoiceStatus.PAID
    assert InvoiceStatus.TRANSFERRED not in PAYABLE_STATUSES
    with pytest.raises(ValueError):
        status_after_payment(-1, 0)


DUE = date(2026, 10, 26)  # Monday


def test_default_ladder() -> None:
    ladder = default_ladder()
    assert [(s.offset_days, s.kind) for s in ladder] == [(10, EMAIL), (25, LETTER), (45, TRANSFER)]
    assert default_ladder(transfer_after_days=60)[-1].offset_days == 60
    with pytest.raises(ValueError):
        default_ladder(transfer_after_days=25)


def test_steps_due_over_time() -> None:
    ladder = default_ladder()
    assert steps_due(ladder, DUE, DUE + timedelta(days=9), set()) == []
    assert steps_due(ladder, DUE, date(2026, 11, 5), set()) == [ladder[0]]  # due + 10, a Thursday
    assert steps_due(ladder, DUE, date(2026, 11, 5), {EMAIL}) == []
    # due + 25 = Friday 20/11; due + 45 = Thursday 10/12.
    assert steps_due(ladder, DUE, date(2026, 11, 20), {EMAIL}) == [ladder[1]]
    assert steps_due(ladder, DUE, date(2026, 12, 9), {EMAIL, LETTER}) == []
    assert steps_due(ladder, DUE, date(2026, 12, 10), {EMAIL, LETTER}) == [ladder[2]]
    assert steps_due(ladder, DUE, date(2027, 1, 1), {EMAIL, LETTER, TRANSFER}) == []


def test_transfer_waits_for_pending_reminders() -> None:
    ladder = default_ladder()
    late = date(2027, 3, 1)
    assert steps_due(ladder, DUE, late, set()) == [ladder[0], ladder[1]]
    assert steps_due(ladder, DUE, late, {EMAIL}) == [ladder[1]]
    assert steps_due(ladder, DUE, late, {EMAIL, LETTER}) == [ladder[2]]


def test_step_dates_move_to_business_days() -> None:
    step = DunningStep(5, EMAIL)
    assert step.on(date(2026, 7, 9)) == date(2026, 7, 15)  # 14/07 is a holiday
    assert next_step_date(default_ladder(), DUE, set()) == date(2026, 11, 5)
    assert next_step_date(default_ladder(), DUE, {EMAIL}) == date(2026, 11, 20)
    assert next_step_date(default_ladder(), DUE, {EMAIL, LETTER, TRANSFER}) is None


@pytest.mark.parametrize(
    "ladder",
    [
        [DunningStep(10, EMAIL), DunningStep(20, EMAIL)],
        [DunningStep(20, EMAIL), DunningStep(10, SMS)],
        [DunningStep(0, EMAIL)],
        [DunningStep(45, TRANSFER), DunningStep(50, EMAIL)],
        [DunningStep(10, EMAIL), DunningStep(10, TRANSFER)],
    ],
)
def test_invalid_ladders(ladder: list[DunningStep]) -> None:
    with pytest.raises(ValueError):
        validate_ladder(ladder)


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=0, max_value=200),
    st.sets(st.sampled_from([EMAIL, LETTER, TRANSFER])),
)
def test_never_transferred_before_every_reminder(due: date, days_late: int, done: set[DunningKind]) -> None:
    ladder = default_ladder()
    today = due + timedelta(days=days_late)
    ready = steps_due(ladder, due, today, done)
    assert all(s.kind not in done and s.on(due) <= today for s in ready)
    if any(s.kind is TRANSFER for s in ready):
        assert {EMAIL, LETTER} <= done
