"""Money: French formatting, strict parsing, exact allocation."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.money import NBSP, allocate, format_eur, parse_eur, percent_of


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (0, "0,00 €"),
        (5, "0,05 €"),
        (1250, "12,50 €"),
        (123456, "1 234,56 €"),
        (100_000_000, "1 000 000,00 €"),
        (-1250, "-12,50 €"),
    ],
)
def test_format_eur_french(cents: int, text: str) -> None:
    assert format_eur(cents) == text.replace(" ", NBSP)


def test_format_eur_refuses_floats() -> None:
    with pytest.raises(TypeError):
        format_eur(12.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("12,50", 1250),
        ("12,5", 1250),
        ("12", 1200),
        ("0,07", 7),
        ("12.50", 1250),
        ("1 234,56 €", 123456),
        ("1\u202f234,56\u00a0€", 123456),
        ("1234,56€", 123456),
        ("  7,00 ", 700),
        ("-3,00", -300),
        ("1 000 000", 100_000_000),
    ],
)
def test_parse_eur_accepts(text: str, cents: int) -> None:
    assert parse_eur(text) == cents


@pytest.mark.parametrize(
    "text",
    [
        "",
        "€",
        "12,505",
        "0,001",
        "12,",
        ",50",
        "1 23,00",
        "12 34",
        "1 2345",
        "abc",
        "12,50 $",
        "+12",
        "1e3",
        "١٢",
        "12,50€€",
        "- 12",
        "12,-5",
        "1,234,56",
    ],
)
def test_parse_eur_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_eur(text)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_parse_inverts_format(cents: int) -> None:
    assert parse_eur(format_eur(cents)) == cents


def test_allocate_examples() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(10, [0, 1]) == [0, 10]
    assert allocate(-100, [1, 1, 1]) == [-34, -33, -33]
    assert allocate(7, [3, 2, 2]) == [3, 2, 2]
    assert allocate(0, [5, 5]) == [0, 0]


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1]])
def test_allocate_rejects_bad_weights(weights: list[int]) -> None:
    with pytest.raises(ValueError):
        allocate(100, weights)


@given(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30).filter(any),
)
def test_allocate_sums_exactly_and_stays_fair(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    for part, w in zip(parts, weights, strict=True):
        exact = Fraction(total * w, sum(weights))
        assert abs(part - exact) < 1
        if w == 0:
            assert part == 0


def test_percent_of_rounds_half_up() -> None:
    assert percent_of(700, 20) == 140
    assert percent_of(13, 20) == 3  # 2.6
    assert percent_of(25, 10) == 3  # 2.5
    assert percent_of(24, 10) == 2  # 2.4
    with pytest.raises(ValueError):
        percent_of(-1, 10)
