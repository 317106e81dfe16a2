"""French public holidays and business days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import (
    add_business_days,
    add_months,
    business_days_between,
    easter_sunday,
    format_date_fr,
    french_public_holidays,
    holiday_name,
    is_business_day,
    month_end,
    next_business_day_on_or_after,
)

dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


@pytest.mark.parametrize(
    "easter",
    [
        date(2024, 3, 31),
        date(2025, 4, 20),
        date(2026, 4, 5),
        date(2027, 3, 28),
        date(2038, 4, 25),
        date(2285, 3, 22),
        date(2008, 3, 23),
    ],
)
def test_easter_sunday_known_dates(easter: date) -> None:
    assert easter_sunday(easter.year) == easter


def test_movable_and_fixed_holidays() -> None:
    assert holiday_name(date(2027, 5, 6)) == "Ascension"
    assert holiday_name(date(2026, 4, 6)) == "Lundi de Pâques"
    assert holiday_name(date(2026, 5, 25)) == "Lundi de Pentecôte"
    assert holiday_name(date(2026, 7, 14)) == "Fête nationale"
    assert holiday_name(date(2026, 7, 15)) is None
    assert len(french_public_holidays(2026)) == 11


def test_ascension_on_may_first_collapses() -> None:
    holidays = french_public_holidays(2008)
    assert holidays[date(2008, 5, 1)] == "Ascension"
    assert len(holidays) == 10


def test_public_holidays_are_a_copy() -> None:
    french_public_holidays(2026).clear()
    assert not is_business_day(date(2026, 7, 14))


def test_is_business_day() -> None:
    assert is_business_day(date(2026, 7, 13))  # Monday
    assert not is_business_day(date(2026, 7, 14))  # Tuesday, Fête nationale
    assert not is_business_day(date(2026, 7, 18))  # Saturday
    assert not is_business_day(date(2026, 7, 19))  # Sunday


def test_add_business_days_across_holidays_and_weekends() -> None:
    # Easter Monday 2026-04-06 after the weekend: Friday + 1 is Tuesday.
    assert add_business_days(date(2026, 4, 3), 1) == date(2026, 4, 7)
    # Ascension Thursday 2027-05-06: Wednesday + 2 is Monday.
    assert add_business_days(date(2027, 5, 5), 1) == date(2027, 5, 7)
    assert add_business_days(date(2027, 5, 5), 2) == date(2027, 5, 10)
    # Christmas 2026 is a Friday.
    assert add_business_days(date(2026, 12, 24), 1) == date(2026, 12, 28)
    assert add_business_days(date(2026, 7, 18), 1) == date(2026, 7, 20)
    assert add_business_days(date(2026, 7, 18), 0) == date(2026, 7, 18)
    assert add_business_days(date(2026, 4, 7), -1) == date(2026, 4, 3)


def test_next_business_day_on_or_after() -> None:
    assert next_business_day_on_or_after(date(2026, 4, 4)) == date(2026, 4, 7)
    assert next_business_day_on_or_after(date(2026, 4, 7)) == date(2026, 4, 7)


def test_business_days_between_examples() -> None:
    assert business_days_between(date(2026, 4, 3), date(2026, 4, 10)) == 4  # 7, 8, 9, 10
    assert business_days_between(date(2026, 4, 10), date(2026, 4, 3)) == -4
    assert business_days_between(date(2026, 4, 3), date(2026, 4, 3)) == 0
    assert business_days_between(date(2026, 12, 31), date(2027, 1, 4)) == 1  # 1 Jan holiday, weekend


@given(dates, st.integers(min_value=0, max_value=400))
def test_business_days_between_inverts_add(start: date, n: int) -> None:
    assert business_days_between(start, add_business_days(start, n)) == n


@given(dates, st.integers(min_value=0, max_value=120))
def test_going_back_from_a_business_day_inverts(start: date, n: int) -> None:
    start = next_business_day_on_or_after(start)
    assert business_days_between(start, add_business_days(start, -n)) == -n


@given(dates, st.integers(min_value=0, max_value=800))
def test_business_days_between_matches_day_by_day_count(a: date, span: int) -> None:
    b = a + timedelta(days=span)
    expected = sum(is_business_day(a + timedelta(days=i)) for i in range(1, span + 1))
    assert business_days_between(a, b) == expected
    assert business_days_between(b, a) == -expected


@given(dates)
def test_added_business_day_is_a_business_day(d: date) -> None:
    assert is_business_day(add_business_days(d, 1))
    assert is_business_day(next_business_day_on_or_after(d))


def test_month_helpers_and_french_date() -> None:
    assert month_end(date(2028, 2, 3)) == date(2028, 2, 29)
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2027, 1, 15), -13) == date(2025, 12, 15)
    assert format_date_fr(date(2027, 1, 25)) == "25/01/2027"
