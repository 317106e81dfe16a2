"""Quotient familial, tranches and versioned tariff grids (grids are data, validated on load)."""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

from domain.money import Cents, percent_of

NUM_TRANCHES = 10
NO_QF_TRANCHE = 10
# Illustrative Paris-style upper bounds (inclusive, in cents) of tranches 1..9; tranche 10 is above.
DEFAULT_QF_BOUNDS_CENTS: tuple[int, ...] = (
    23_400,
    38_400,
    54_800,
    95_900,
    137_000,
    190_000,
    250_000,
    333_300,
    500_000,
)
DEFAULT_GRIDS_RESOURCE = "tariff_grids.json"
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class GridError(ValueError):
    """A tariff grid file or set of grids is invalid."""


class NoGridInForce(LookupError):
    """No tariff grid is in force on the requested day."""


def compute_qf(
    monthly_income_cents: Cents, monthly_benefits_cents: Cents, tax_parts: Decimal | Fraction | int
) -> Cents:
    """Quotient familial, CAF method: (income + benefits) / tax parts, in cents rounded down."""
    if isinstance(tax_parts, bool | float) or not isinstance(tax_parts, Decimal | Fraction | int):
        raise TypeError("tax_parts must be a Decimal, Fraction or int (never a float)")
    if monthly_income_cents < 0 or monthly_benefits_cents < 0:
        raise ValueError("income and benefits must be non-negative")
    parts = Fraction(tax_parts)
    if parts <= 0:
        raise ValueError("tax_parts must be positive")
    return math.floor((monthly_income_cents + monthly_benefits_cents) / parts)


def tranche_for_qf(qf_cents: Cents | None, bounds: Sequence[int] = DEFAULT_QF_BOUNDS_CENTS) -> int:
    """Return the tranche 1..10 for a QF (bounds are inclusive upper limits of T1..T9); None -> 10."""
    if len(bounds) != NUM_TRANCHES - 1 or any(b <= a for a, b in pairwise(bounds)):
        raise ValueError(f"bounds must be {NUM_TRANCHES - 1} strictly increasing amounts")
    if qf_cents is None:
        return NO_QF_TRANCHE
    if qf_cents < 0:
        raise ValueError("qf_cents must be non-negative")
    return bisect.bisect_left(bounds, qf_cents) + 1


def tranche_for_period(
    qf_cents: Cents | None,
    qf_valid_until: date | None,
    period_start: date,
    bounds: Sequence[int] = DEFAULT_QF_BOUNDS_CENTS,
) -> int:
    """The tranche billed for a period: a QF file missing, or expired before the period starts, bills tranche 10."""
    valid = qf_valid_until is not None and qf_valid_until >= period_start
    return tranche_for_qf(qf_cents if valid else None, bounds)


class PriceKind(StrEnum):
    """How an activity is charged."""

    UNIT = "unit"
    MONTHLY_FLAT = "monthly_flat"


@dataclass(frozen=True, slots=True)
class ActivityPrice:
    """Prices of one activity by tranche, and the surcharge per attendance without registration.

    The surcharge is ``unregistered_surcharge_pct`` % of the unit price or a fixed
    ``unregistered_surcharge_cents`` (at most one of them; monthly flats only take the fixed form).
    """

    kind: PriceKind
    per_tranche: tuple[int, ...]
    label: str
    unit_label: str
    unregistered_surcharge_pct: int = 0
    unregistered_surcharge_cents: int = 0

    def price(self, tranche: int) -> Cents:
        """Price for a tranche (1..10): per unit, or per month for flats."""
        return self.per_tranche[tranche - 1]

    def surcharge(self, tranche: int) -> Cents:
        """Surcharge for one attendance without registration."""
        if self.unregistered_surcharge_pct:
            return percent_of(self.price(tranche), self.unregistered_surcharge_pct)
        return self.unregistered_surcharge_cents


@dataclass(frozen=True, slots=True)
class TariffGrid:
    """A version of the prices, in force from ``effective_from`` to ``effective_to`` (inclusive, or open)."""

    id: str
    effective_from: date
    effective_to: date | None
    prices: Mapping[str, ActivityPrice]
    label: str = ""

    def in_force_on(self, d: date) -> bool:
        """True if the grid applies on ``d``."""
        return self.effective_from <= d and (self.effective_to is None or d <= self.effective_to)


def grid_for(grids: Sequence[TariffGrid], on: date) -> TariffGrid:
    """Return the single grid in force on ``on``; NoGridInForce if none, GridError if several overlap."""
    found = [g for g in grids if g.in_force_on(on)]
    if not found:
        raise NoGridInForce(f"aucune grille tarifaire en vigueur le {on.isoformat()}")
    if len(found) > 1:
        raise GridError(f"grilles tarifaires en conflit le {on.isoformat()}: {[g.id for g in found]}")
    return found[0]


def _non_negative_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise GridError(f"{where}: expected a non-negative integer, got {value!r}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise GridError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _iso_date(value: Any, where: str) -> date:
    if not isinstance(value, str) or not _ISO_DATE_RE.fullmatch(value):
        raise GridError(f"{where}: expected a YYYY-MM-DD date, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise GridError(f"{where}: {exc}") from None


def _load_price(raw: Any, where: str) -> ActivityPrice:
    if not isinstance(raw, Mapping):
        raise GridError(f"{where}: expected an object")
    known = {
        "kind",
        "per_tranche",
        "label",
        "unit_label",
        "unregistered_surcharge_pct",
        "unregistered_surcharge_cents",
    }
    if unknown := set(raw) - known:
        raise GridError(f"{where}: unknown fields {sorted(unknown)}")
    try:
        kind = PriceKind(str(raw.get("kind")))
    except ValueError:
        raise GridError(f"{where}.kind: expected one of {[k.value for k in PriceKind]}") from None
    tranches = raw.get("per_tranche")
    if not isinstance(tranches, list) or len(tranches) != NUM_TRANCHES:
        raise GridError(f"{where}.per_tranche: expected a list of {NUM_TRANCHES} amounts in cents")
    per_tranche = tuple(_non_negative_int(v, f"{where}.per_tranche[{i}]") for i, v in enumerate(tranches))
    pct = _non_negative_int(raw.get("unregistered_surcharge_pct", 0), f"{where}.unregistered_surcharge_pct")
    fixed = _non_negative_int(raw.get("unregistered_surcharge_cents", 0), f"{where}.unregistered_surcharge_cents")
    if pct and fixed:
        raise GridError(f"{where}: give either a surcharge percentage or a fixed surcharge, not both")
    if pct and kind is PriceKind.MONTHLY_FLAT:
        raise GridError(f"{where}: a monthly flat only takes a fixed surcharge in cents")
    default_unit = "mois" if kind is PriceKind.MONTHLY_FLAT else "unité"
    return ActivityPrice(
        kind=kind,
        per_tranche=per_tranche,
        label=_text(raw.get("label"), f"{where}.label"),
        unit_label=_text(raw.get("unit_label", default_unit), f"{where}.unit_label"),
        unregistered_surcharge_pct=pct,
        unregistered_surcharge_cents=fixed,
    )


def _load_grid(raw: Any, where: str) -> TariffGrid:
    if not isinstance(raw, Mapping):
        raise GridError(f"{where}: expected an object")
    if unknown := set(raw) - {"id", "label", "effective_from", "effective_to", "prices"}:
        raise GridError(f"{where}: unknown fields {sorted(unknown)}")
    start = _iso_date(raw.get("effective_from"), f"{where}.effective_from")
    raw_end = raw.get("effective_to")
    end = None if raw_end is None else _iso_date(raw_end, f"{where}.effective_to")
    if end is not None and end < start:
        raise GridError(f"{where}: effective_to is before effective_from")
    prices = raw.get("prices")
    if not isinstance(prices, Mapping) or not prices:
        raise GridError(f"{where}.prices: expected a non-empty object keyed by activity code")
    return TariffGrid(
        id=_text(raw.get("id"), f"{where}.id"),
        effective_from=start,
        effective_to=end,
        prices={
            _text(code, f"{where}.prices key"): _load_price(p, f"{where}.prices.{code}") for code, p in prices.items()
        },
        label=str(raw.get("label", "")),
    )


def load_grids(json_like: Sequence[Mapping[str, Any]]) -> list[TariffGrid]:
    """Validate and build grids from JSON-like data; sorted by start date, ids unique, no overlap."""
    if not isinstance(json_like, Sequence) or isinstance(json_like, str | bytes):
        raise GridError("expected a list of grids")
    grids = sorted((_load_grid(g, f"grids[{i}]") for i, g in enumerate(json_like)), key=lambda g: g.effective_from)
    ids = [g.id for g in grids]
    if len(set(ids)) != len(ids):
        raise GridError(f"duplicate grid ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    for earlier, later in pairwise(grids):
        if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
            raise GridError(f"grids {earlier.id!r} and {later.id!r} overlap")
    return grids


@cache
def _default_grids() -> tuple[TariffGrid, ...]:
    text = resources.files("domain").joinpath("data", DEFAULT_GRIDS_RESOURCE).read_text(encoding="utf-8")
    return tuple(load_grids(json.loads(text)))


def default_grids() -> list[TariffGrid]:
    """The packaged example grids ("grille d'exemple"), read once; load them in activities, not workflows."""
    return list(_default_grids())
