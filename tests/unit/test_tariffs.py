"""Quotient familial, tranches and tariff grids."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.tariffs import (
    DEFAULT_QF_BOUNDS_CENTS,
    GridError,
    NoGridInForce,
    PriceKind,
    compute_qf,
    default_grids,
    grid_for,
    load_grids,
    tranche_for_period,
    tranche_for_qf,
)


def test_compute_qf_caf_method() -> None:
    assert compute_qf(250_000, 30_000, Decimal("2.5")) == 112_000
    assert compute_qf(250_000, 30_000, Fraction(5, 2)) == 112_000
    assert compute_qf(100_001, 0, 3) == 33_333  # rounded down
    assert compute_qf(0, 0, Decimal("1")) == 0


def test_compute_qf_rejects_floats_and_bad_parts() -> None:
    with pytest.raises(TypeError):
        compute_qf(100_000, 0, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        compute_qf(100_000, 0, Decimal("0"))
    with pytest.raises(ValueError):
        compute_qf(-1, 0, 1)


@pytest.mark.parametrize(
    ("qf", "tranche"),
    [
        (None, 10),
        (0, 1),
        (23_400, 1),
        (23_401, 2),
        (38_400, 2),
        (54_801, 4),
        (137_000, 5),
        (333_300, 8),
        (500_000, 9),
        (500_001, 10),
        (10**9, 10),
    ],
)
def test_tranche_for_qf_default_bounds(qf: int | None, tranche: int) -> None:
    assert tranche_for_qf(qf) == tranche


def test_tranche_bounds_are_validated() -> None:
    with pytest.raises(ValueError):
        tranche_for_qf(1000, DEFAULT_QF_BOUNDS_CENTS[:-1])
    with pytest.raises(ValueError):
        tranche_for_qf(1000, (1, 1, 2, 3, 4, 5, 6, 7, 8))
    with pytest.raises(ValueError):
        tranche_for_qf(-1)


@given(st.integers(min_value=0, max_value=10**7), st.integers(min_value=0, max_value=10**7))
def test_tranche_is_monotonic(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert 1 <= tranche_for_qf(low) <= tranche_for_qf(high) <= 10


def test_default_grid_is_the_example_grid() -> None:
    [grid] = default_grids()
    assert "grille d'exemple" in grid.label
    assert grid.effective_from == date(2025, 9, 1)
    assert grid.effective_to is None
    assert set(grid.prices) == {
        "cantine",
        "centre_loisirs",
        "etude",
        "atelier_bleu",
        "gouter",
        "creche",
        "conservatoire",
    }
    cantine = grid.prices["cantine"]
    assert cantine.per_tranche == (13, 85, 162, 228, 362, 459, 520, 562, 600, 700)
    assert cantine.kind is PriceKind.UNIT
    assert cantine.price(10) == 700
    assert grid.prices["creche"].kind is PriceKind.MONTHLY_FLAT
    assert grid.prices["conservatoire"].kind is PriceKind.MONTHLY_FLAT


def test_surcharge_forms() -> None:
    [grid] = default_grids()
    assert grid.prices["cantine"].surcharge(1) == 3  # 20 % of 0,13 € rounded half up
    assert grid.prices["cantine"].surcharge(10) == 140
    assert grid.prices["creche"].surcharge(5) == 0


def _grid(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "g1",
        "label": "grille d'exemple",
        "effective_from": "2025-09-01",
        "effective_to": None,
        "prices": {
            "cantine": {
                "kind": "unit",
                "label": "Restauration scolaire",
                "unit_label": "repas",
                "per_tranche": list(range(10)),
                "unregistered_surcharge_pct": 20,
            },
        },
    }
    raw.update(overrides)
    return raw


def _with_price(**fields: Any) -> dict[str, Any]:
    raw = _grid()
    raw["prices"]["cantine"].update(fields)
    return raw


@pytest.mark.parametrize(
    "raw",
    [
        _with_price(per_tranche=list(range(9))),
        _with_price(per_tranche=[*range(9), -1]),
        _with_price(per_tranche=[*range(9), 1.5]),
        _with_price(per_tranche=[*range(9), True]),
        _with_price(per_tranche="0123456789"),
        _with_price(kind="weekly"),
        _with_price(unregistered_surcharge_cents=100),
        _with_price(kind="monthly_flat"),
        _with_price(label=""),
        _with_price(colour="blue"),
        _grid(effective_from="2025-9-1"),
        _grid(effective_from="2025-02-30"),
        _grid(effective_to="2025-08-31"),
        _grid(prices={}),
        _grid(id=""),
        _grid(extra=1),
    ],
)
def test_load_grids_rejects_invalid(raw: dict[str, Any]) -> None:
    with pytest.raises(GridError):
        load_grids([raw])


def test_load_grids_rejects_overlaps_and_duplicate_ids() -> None:
    with pytest.raises(GridError, match="overlap"):
        load_grids([_grid(), _grid(id="g2", effective_from="2026-09-01")])
    with pytest.raises(GridError, match="duplicate"):
        load_grids([_grid(effective_to="2026-08-31"), _grid(effective_from="2026-09-01")])
    with pytest.raises(GridError):
        load_grids("not a list")  # type: ignore[arg-type]


def test_grid_for_picks_the_version_in_force() -> None:
    grids = load_grids(
        [
            _grid(id="g2", effective_from="2026-09-01"),
            _grid(id="g1", effective_to="2026-08-31"),
        ]
    )
    assert [g.id for g in grids] == ["g1", "g2"]
    assert grid_for(grids, date(2026, 8, 31)).id == "g1"
    assert grid_for(grids, date(2026, 9, 1)).id == "g2"
    assert grid_for(grids, date(2099, 1, 1)).id == "g2"
    with pytest.raises(NoGridInForce):
        grid_for(grids, date(2025, 8, 31))


def test_grid_for_refuses_overlapping_grids() -> None:
    [g1] = load_grids([_grid()])
    g2 = dataclasses.replace(g1, id="g2")
    with pytest.raises(GridError):
        grid_for([g1, g2], date(2026, 1, 1))


def test_missing_unit_label_gets_a_default() -> None:
    raw = _grid()
    del raw["prices"]["cantine"]["unit_label"]
    [grid] = load_grids([raw])
    assert grid.prices["cantine"].unit_label == "unité"


def test_an_expired_or_missing_qf_file_bills_tranche_10() -> None:
    start = date(2027, 3, 1)
    low_qf = 10_000  # tranche 1 while the file is valid
    assert tranche_for_period(low_qf, date(2027, 3, 1), start) == tranche_for_qf(low_qf) == 1
    assert tranche_for_period(low_qf, date(2027, 2, 28), start) == 10  # expired the day before the period
    assert tranche_for_period(low_qf, None, start) == 10  # no validity date: no valid file
    assert tranche_for_period(None, date(2027, 12, 31), start) == 10  # no QF at all
