"""Tariff impact simulation: compare what families paid with what a proposed grid would charge (pure rules).

A simulation re-prices the items billed on the invoices of closed periods, at each invoice's tranche,
once with the voted grids (which reproduces the issued invoices to the cent) and once with the proposed
grid applied to every item (effective dates aside: "what if this grid had been in force"). Families are
compared on their total over the chosen periods, in their latest tranche. Aggregates are mergeable, so
batches of families can be computed apart and summed; nothing here identifies a family.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from fractions import Fraction
from itertools import pairwise
from typing import Any

from domain.periods import BillingPeriod
from domain.tariffs import NUM_TRANCHES, GridError, NoGridInForce, TariffGrid, grid_for, load_grids

THRESHOLDS_PCT: tuple[int, ...] = (5, 10, 20)
TOP_N = 10
_GRID_PREFIX = "grids[0]"


class ProposedGridError(ValueError):
    """A proposed grid is invalid; ``field`` names the offending part (``prices.cantine.per_tranche[3]``)."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}" if field_path else message)
        self.field = field_path
        self.message = message


def validate_proposed_grid(raw: Any, current: TariffGrid | None = None) -> TariffGrid:
    """Validate a proposed grid (same format as the versioned grids); it must price every current activity.

    Prices must not decrease from tranche 1 to tranche 10 (the quotient familial orders what families pay).
    """
    if not isinstance(raw, Mapping):
        raise ProposedGridError("", "la grille doit être un objet JSON")
    try:
        grid = load_grids([raw])[0]
    except GridError as err:
        text = str(err)
        where, _, message = text.partition(": ")
        if not message:
            raise ProposedGridError("", text) from None
        path = where.removeprefix(_GRID_PREFIX).lstrip(".")
        raise ProposedGridError(path, message) from None
    for code, price in grid.prices.items():
        for i, (lower, higher) in enumerate(pairwise(price.per_tranche)):
            if higher < lower:
                raise ProposedGridError(
                    f"prices.{code}.per_tranche[{i + 1}]",
                    f"le prix de la tranche {i + 2} ({higher}) est inférieur à celui de la tranche {i + 1} ({lower})",
                )
    if current is not None:
        missing = sorted(set(current.prices) - set(grid.prices))
        if missing:
            raise ProposedGridError("prices", f"activités de la grille en vigueur absentes : {', '.join(missing)}")
    return grid


def applied_everywhere(grid: TariffGrid) -> list[TariffGrid]:
    """The proposed grid as the only grid, in force on every day (the simulation's "what if")."""
    return [replace(grid, effective_from=date.min, effective_to=None)]


def simulation_ref(grid_json: Mapping[str, Any], period_keys: Sequence[str]) -> str:
    """An opaque, content-derived reference: the same grid on the same periods is the same simulation."""
    canonical = json.dumps({"grid": grid_json, "periods": sorted(set(period_keys))}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class PeriodAmounts:
    """One family's items of one period, priced twice: its invoice's tranche, then cents per activity."""

    tranche: int
    old_by_activity: Mapping[str, int]
    new_by_activity: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class FamilyChange:
    """A family's total over the simulated periods, old and new, in its latest tranche (anonymous)."""

    tranche: int
    old_cents: int
    new_cents: int

    @property
    def change_cents(self) -> int:
        """New minus old."""
        return self.new_cents - self.old_cents


def family_change(periods: Sequence[PeriodAmounts]) -> FamilyChange:
    """Sum a family's periods (given oldest first); its tranche is that of the latest period."""
    if not periods:
        raise ValueError("a family needs at least one period")
    old = sum(sum(p.old_by_activity.values()) for p in periods)
    new = sum(sum(p.new_by_activity.values()) for p in periods)
    return FamilyChange(periods[-1].tranche, old, new)


def percent_change_bp(old_cents: int, new_cents: int) -> int | None:
    """Change in basis points (1 % = 100), rounded half to even; None when nothing was billed before."""
    if old_cents == 0:
        return None
    return round(Fraction(10_000 * (new_cents - old_cents), old_cents))


def rises_more_than(change: FamilyChange, pct: int) -> bool:
    """The bill rises by strictly more than ``pct`` % (any rise from zero counts)."""
    return change.change_cents * 100 > pct * change.old_cents


def falls_more_than(change: FamilyChange, pct: int) -> bool:
    """The bill falls by strictly more than ``pct`` %."""
    return -change.change_cents * 100 > pct * change.old_cents


@dataclass
class TopChange:
    """One of the largest changes, anonymised: an opaque rank, the tranche and the amounts."""

    rank: int
    tranche: int
    old_cents: int
    new_cents: int

    @property
    def change_cents(self) -> int:
        """New minus old."""
        return self.new_cents - self.old_cents


def _top_order(t: TopChange | FamilyChange) -> tuple[int, int, int, int]:
    return (-abs(t.new_cents - t.old_cents), -t.new_cents, t.tranche, t.old_cents)


def largest_changes(candidates: Iterable[TopChange | FamilyChange], n: int = TOP_N) -> list[TopChange]:
    """The ``n`` largest absolute changes (ties ordered by amounts), ranked 1..n; families without change excluded."""
    ordered = sorted((c for c in candidates if c.new_cents != c.old_cents), key=_top_order)[:n]
    return [TopChange(i + 1, c.tranche, c.old_cents, c.new_cents) for i, c in enumerate(ordered)]


def _zeros() -> list[int]:
    return [0] * NUM_TRANCHES


def _zero_thresholds() -> list[int]:
    return [0] * len(THRESHOLDS_PCT)


@dataclass
class ImpactTotals:
    """Mergeable aggregates of a set of families (lists are indexed by tranche - 1 or by threshold)."""

    families: int = 0
    changed: int = 0
    old_by_tranche: list[int] = field(default_factory=_zeros)
    new_by_tranche: list[int] = field(default_factory=_zeros)
    families_by_tranche: list[int] = field(default_factory=_zeros)
    old_by_activity: dict[str, int] = field(default_factory=dict)
    new_by_activity: dict[str, int] = field(default_factory=dict)
    rises_over: list[int] = field(default_factory=_zero_thresholds)  # aligned with THRESHOLDS_PCT
    falls_over: list[int] = field(default_factory=_zero_thresholds)
    top: list[TopChange] = field(default_factory=list)

    @property
    def old_total_cents(self) -> int:
        """Everything billed with the voted grids."""
        return sum(self.old_by_tranche)

    @property
    def new_total_cents(self) -> int:
        """Everything the proposed grid would bill."""
        return sum(self.new_by_tranche)

    def add_family(self, periods: Sequence[PeriodAmounts]) -> FamilyChange:
        """Count one family (its periods oldest first) and return its anonymous change."""
        for p in periods:
            self.old_by_tranche[p.tranche - 1] += sum(p.old_by_activity.values())
            self.new_by_tranche[p.tranche - 1] += sum(p.new_by_activity.values())
            for code, cents in p.old_by_activity.items():
                self.old_by_activity[code] = self.old_by_activity.get(code, 0) + cents
            for code, cents in p.new_by_activity.items():
                self.new_by_activity[code] = self.new_by_activity.get(code, 0) + cents
        change = family_change(periods)
        self.families += 1
        self.families_by_tranche[change.tranche - 1] += 1
        if change.change_cents:
            self.changed += 1
        for i, pct in enumerate(THRESHOLDS_PCT):
            self.rises_over[i] += rises_more_than(change, pct)
            self.falls_over[i] += falls_more_than(change, pct)
        self.top = largest_changes([*self.top, change])
        return change

    def merge(self, other: ImpactTotals) -> None:
        """Add another set of families (disjoint from this one)."""
        self.families += other.families
        self.changed += other.changed
        for mine, theirs in (
            (self.old_by_tranche, other.old_by_tranche),
            (self.new_by_tranche, other.new_by_tranche),
            (self.families_by_tranche, other.families_by_tranche),
            (self.rises_over, other.rises_over),
            (self.falls_over, other.falls_over),
        ):
            for i, v in enumerate(theirs):
                mine[i] += v
        for mine_d, theirs_d in (
            (self.old_by_activity, other.old_by_activity),
            (self.new_by_activity, other.new_by_activity),
        ):
            for code, cents in theirs_d.items():
                mine_d[code] = mine_d.get(code, 0) + cents
        self.top = largest_changes([*self.top, *other.top])


@dataclass
class TrancheMedian:
    """Median change of the families of one tranche (lower median: always an amount that occurred)."""

    tranche: int
    families: int
    median_change_cents: int
    median_change_bp: int | None  # None when no family of the tranche was billed before


def _lower_median(values: list[Any]) -> Any:
    values.sort()
    return values[(len(values) - 1) // 2]


def median_changes(changes: Iterable[FamilyChange]) -> list[TrancheMedian]:
    """Median change per tranche (in cents, and in basis points among families billed before)."""
    by_tranche: dict[int, list[FamilyChange]] = {}
    for c in changes:
        by_tranche.setdefault(c.tranche, []).append(c)
    out = []
    for tranche in sorted(by_tranche):
        group = by_tranche[tranche]
        cents = _lower_median([c.change_cents for c in group])
        ratios = [Fraction(10_000 * c.change_cents, c.old_cents) for c in group if c.old_cents]
        bp = round(_lower_median(ratios)) if ratios else None
        out.append(TrancheMedian(tranche, len(group), cents, bp))
    return out


def format_bp_fr(bp: int | None) -> str:
    """``431`` -> ``"+4,31 %"`` (French decimal comma); None -> ``"—"``."""
    if bp is None:
        return "—"
    sign = "+" if bp > 0 else "-" if bp < 0 else ""
    whole, rest = divmod(abs(bp), 100)
    return f"{sign}{whole},{rest:02d}\u00a0%"


def current_grid(grids: Sequence[TariffGrid], periods: Sequence[BillingPeriod]) -> TariffGrid | None:
    """The voted grid in force at the end of the latest period (the one a proposal replaces)."""
    if not grids:
        return None
    try:
        return grid_for(grids, max(p.end for p in periods))
    except NoGridInForce:
        return max(grids, key=lambda g: g.effective_from)
