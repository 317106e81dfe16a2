"""Invoice numbering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.numbering import (
    InvoiceNumber,
    assign_numbers,
    check_gapless,
    format_invoice_number,
    parse_invoice_number,
)


def test_format_and_parse() -> None:
    assert format_invoice_number(2026, 123) == "FF-2026-000123"
    assert parse_invoice_number("FF-2026-000123") == InvoiceNumber("FF", 2026, 123)
    assert str(InvoiceNumber("FF", 2026, 7)) == "FF-2026-000007"


@pytest.mark.parametrize(("year", "seq"), [(2026, 0), (2026, 1_000_000), (999, 1), (10_000, 1)])
def test_format_rejects_out_of_range(year: int, seq: int) -> None:
    with pytest.raises(ValueError):
        format_invoice_number(year, seq)


@pytest.mark.parametrize(
    "text", ["FF-2026-123", "FF-2026-0001234", "ff-2026-000123", "FF-2026-000000", "FF2026000123", ""]
)
def test_parse_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        parse_invoice_number(text)


@given(st.integers(min_value=1000, max_value=9999), st.integers(min_value=1, max_value=999_999))
def test_parse_inverts_format(year: int, seq: int) -> None:
    assert parse_invoice_number(format_invoice_number(year, seq)) == InvoiceNumber("FF", year, seq)


def test_assign_numbers_is_consecutive() -> None:
    assert assign_numbers(2026, 41, 3) == ["FF-2026-000041", "FF-2026-000042", "FF-2026-000043"]
    assert assign_numbers(2026, 41, 0) == []
    with pytest.raises(ValueError):
        assign_numbers(2026, 999_999, 2)
    with pytest.raises(ValueError):
        assign_numbers(2026, 1, -1)


def test_check_gapless() -> None:
    numbers = ["FF-2026-000003", "FF-2026-000001", "FF-2026-000005", "FF-2027-000002"]
    assert check_gapless(numbers) == ["FF-2026-000002", "FF-2026-000004", "FF-2027-000001"]
    assert check_gapless(numbers, from_first=False) == ["FF-2026-000002", "FF-2026-000004"]
    assert check_gapless([]) == []
    with pytest.raises(ValueError):
        check_gapless(["FF-2026-1"])


@given(
    st.integers(min_value=1, max_value=5000),
    st.integers(min_value=0, max_value=300),
    st.sets(st.integers(min_value=0, max_value=299)),
)
def test_assigned_numbers_are_gapless_and_removals_are_found(start: int, count: int, removed: set[int]) -> None:
    numbers = assign_numbers(2026, start, count)
    assert check_gapless(numbers, from_first=False) == []
    kept = [i for i in range(count) if i not in removed]
    # Only removals between the lowest and highest kept numbers are gaps of an extract.
    expected = [numbers[i] for i in sorted(removed) if kept and kept[0] < i < kept[-1]]
    assert check_gapless([numbers[i] for i in kept], from_first=False) == expected
