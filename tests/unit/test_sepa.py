"""SEPA direct debit rules."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import business_days_between
from domain.sepa import MandateStatus, SepaState, after_debit_result, debit_date, result_deadline


def test_two_consecutive_rejections_suspend_the_mandate() -> None:
    state = SepaState("MD-1")
    state = after_debit_result(state, success=False)
    assert state.is_active and state.consecutive_rejections == 1
    state = after_debit_result(state, success=False)
    assert state.status is MandateStatus.suspended and not state.is_active
    with pytest.raises(ValueError):
        after_debit_result(state, success=True)


def test_a_success_resets_the_count() -> None:
    state = after_debit_result(SepaState("MD-1"), success=False)
    state = after_debit_result(state, success=True)
    state = after_debit_result(state, success=False)
    assert state == SepaState("MD-1", MandateStatus.active, 1)


@given(st.lists(st.booleans(), max_size=30))
def test_suspended_exactly_after_two_rejections_in_a_row(results: list[bool]) -> None:
    state = SepaState("MD-1")
    for i, ok in enumerate(results):
        if not state.is_active:
            assert results[i - 2 : i] == [False, False]
            return
        state = after_debit_result(state, ok)
    two_in_a_row = any(not a and not b for a, b in pairwise(results))
    assert state.is_active is not two_in_a_row


def test_debit_date_and_result_window() -> None:
    assert debit_date(date(2026, 4, 6)) == date(2026, 4, 7)  # Easter Monday
    assert debit_date(date(2026, 4, 8)) == date(2026, 4, 8)
    assert result_deadline(date(2026, 4, 3)) == date(2026, 4, 24)


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31)))
def test_result_deadline_is_14_business_days_after_the_debit(due: date) -> None:
    debit = debit_date(due)
    assert business_days_between(debit, result_deadline(debit)) == 14
