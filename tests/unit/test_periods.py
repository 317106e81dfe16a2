"""Billing periods."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.periods import (
    ALLOWED_PERIOD_MONTHS,
    BillingPeriod,
    month_label_fr,
    next_period,
    period_for,
    period_from_key,
    previous_period,
)


def test_bimonthly_by_default() -> None:
    p = period_for(date(2026, 9, 15))
    assert (p.start, p.end, p.key, p.months) == (date(2026, 9, 1), date(2026, 10, 31), "2026-09", 2)
    assert period_for(date(2026, 10, 31)) == p
    assert period_for(date(2028, 1, 1)).end == date(2028, 2, 29)
    assert p.label_fr == "septembre–octobre 2026"
    assert p.month_starts() == (date(2026, 9, 1), date(2026, 10, 1))


def test_other_lengths_and_anchors() -> None:
    assert period_for(date(2026, 9, 15), months=1).key == "2026-09"
    assert period_for(date(2026, 8, 15), months=3).key == "2026-07"
    crossing = period_for(date(2027, 1, 10), months=2, anchor_month=2)
    assert (crossing.start, crossing.end) == (date(2026, 12, 1), date(2027, 1, 31))
    assert crossing.label_fr == "décembre 2026–janvier 2027"
    assert period_for(date(2026, 3, 3), months=12, anchor_month=9).key == "2025-09"
    assert period_for(date(2026, 3, 3), months=1).label_fr == "mars 2026"


@pytest.mark.parametrize(("months", "anchor"), [(5, 1), (0, 1), (2, 0), (2, 13)])
def test_invalid_shapes(months: int, anchor: int) -> None:
    with pytest.raises(ValueError):
        period_for(date(2026, 1, 1), months=months, anchor_month=anchor)


def test_next_and_previous() -> None:
    p = period_for(date(2026, 11, 2))
    assert next_period(p).key == "2027-01"
    assert previous_period(p).key == "2026-09"


def test_period_from_key() -> None:
    assert period_from_key("2026-09") == period_for(date(2026, 9, 1))
    assert period_from_key("2026-12", months=2, anchor_month=2).end == date(2027, 1, 31)
    with pytest.raises(ValueError, match="2026-09"):
        period_from_key("2026-10")


@pytest.mark.parametrize("key", ["2026-13", "2026-00", "26-09", "2026-9", "2026-09-01", "0000-01", " 2026-09"])
def test_period_from_key_rejects_malformed(key: str) -> None:
    with pytest.raises(ValueError):
        period_from_key(key, months=1)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 9, 2), date(2026, 10, 31)),
        (date(2026, 9, 1), date(2026, 10, 30)),
        (date(2026, 9, 1), date(2026, 8, 31)),
    ],
)
def test_period_must_span_whole_months(start: date, end: date) -> None:
    with pytest.raises(ValueError):
        BillingPeriod(start, end)


def test_month_label() -> None:
    assert month_label_fr(date(2026, 8, 31)) == "août 2026"


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
    st.sampled_from(ALLOWED_PERIOD_MONTHS),
    st.integers(min_value=1, max_value=12),
)
def test_periods_tile_the_calendar(d: date, months: int, anchor: int) -> None:
    p = period_for(d, months, anchor)
    assert p.contains(d)
    assert p.months == months
    nxt = next_period(p)
    assert nxt.start == p.end + timedelta(days=1)
    assert nxt == period_for(nxt.start, months, anchor)
    assert previous_period(nxt) == p
    assert period_from_key(p.key, months, anchor) == p
    assert (p.start.month - anchor) % months == 0
