"""FIFO allocation of payments over open invoices."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.allocation import allocate_fifo


def test_oldest_invoice_is_settled_first() -> None:
    a = allocate_fifo([1_000, 2_500], 1_800)
    assert a.applied == (1_000, 800)
    assert a.leftover_cents == 0


def test_excess_is_left_over() -> None:
    assert allocate_fifo([500], 800).leftover_cents == 300


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        allocate_fifo([100], -1)


@given(st.lists(st.integers(0, 10**7), max_size=8), st.integers(0, 10**8))
def test_money_is_conserved(remaining: list[int], amount: int) -> None:
    a = allocate_fifo(remaining, amount)
    assert sum(a.applied) + a.leftover_cents == amount
    assert all(0 <= x <= r for x, r in zip(a.applied, remaining, strict=True))
    # nothing is left over while some invoice still has something to pay
    assert a.leftover_cents == 0 or sum(a.applied) == sum(remaining)
