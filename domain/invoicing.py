"""Invoice computation for one family account and one billing period (pure, batch-friendly)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.calendar import add_months
from domain.money import Cents
from domain.periods import BillingPeriod, month_label_fr
from domain.tariffs import NUM_TRANCHES, ActivityPrice, NoGridInForce, PriceKind, TariffGrid, grid_for

CATCH_UP_MONTHS = 24


@dataclass(frozen=True, slots=True)
class AttendanceItem:
    """One not-yet-billed attendance or registration day of a child in an activity."""

    child_ref: str
    child_first_name: str
    activity_code: str
    day: date
    registered: bool


@dataclass(frozen=True, slots=True)
class RegistrationSpan:
    """A child's registration for an activity, ``end`` inclusive (None: still open)."""

    activity_code: str
    start: date
    end: date | None = None


def is_registered(registrations: Iterable[RegistrationSpan], activity_code: str, day: date) -> bool:
    """True if one of the child's registrations covers ``activity_code`` on ``day``.

    An attendance outside every registration is surcharged; the attendance feed's own flag is not trusted.
    """
    # a plain loop, not any(<generator>): called once per attendance of a batch, the generator's frame cost 6x
    for r in registrations:
        if r.activity_code == activity_code and r.start <= day and (r.end is None or day <= r.end):
            return True
    return False


@dataclass(frozen=True, slots=True)
class FamilySnapshot:
    """What the invoice needs to know about the family account when the period is billed."""

    account_ref: str
    tranche: int
    previous_unpaid_cents: Cents = 0
    credit_cents: Cents = 0

    def __post_init__(self) -> None:
        if not 1 <= self.tranche <= NUM_TRANCHES:
            raise ValueError(f"tranche must be 1..{NUM_TRANCHES}, got {self.tranche}")
        if self.previous_unpaid_cents < 0 or self.credit_cents < 0:
            raise ValueError("previous unpaid amount and credit must be non-negative")


class LineKind(StrEnum):
    """What an invoice line charges."""

    UNIT = "unit"
    MONTHLY_FLAT = "monthly_flat"
    SURCHARGE = "surcharge"


class RejectionReason(StrEnum):
    """Why an item was left out of the invoice."""

    TOO_OLD = "too_old"
    AFTER_PERIOD = "after_period"
    NO_GRID = "no_grid"
    UNKNOWN_ACTIVITY = "unknown_activity"

    @property
    def message_fr(self) -> str:
        """Explanation for operators, in French."""
        return _REJECTION_MESSAGES[self]


_REJECTION_MESSAGES = {
    RejectionReason.TOO_OLD: "prestation de plus de 2 ans avant le début de la période : non facturable",
    RejectionReason.AFTER_PERIOD: "prestation postérieure à la période : à facturer plus tard",
    RejectionReason.NO_GRID: "aucune grille tarifaire en vigueur à cette date",
    RejectionReason.UNKNOWN_ACTIVITY: "activité absente de la grille tarifaire en vigueur",
}


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """An item not billed, with the reason."""

    item: AttendanceItem
    reason: RejectionReason


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One line: a child's activity at one price (unit or month), or its surcharge."""

    child_ref: str
    child_first_name: str
    activity_code: str
    kind: LineKind
    label: str
    unit_label: str
    quantity: int
    unit_price_cents: Cents
    amount_cents: Cents
    grid_id: str
    month: date | None = None  # first day of the month charged, monthly flats only
    catch_up: bool = False  # items dated before the period, not billed earlier


@dataclass(frozen=True, slots=True)
class InvoiceDraft:
    """The computed invoice; ``amount_due = lines_total + previous_unpaid - credit_applied`` (never < 0)."""

    period: BillingPeriod
    account_ref: str
    tranche: int
    lines: tuple[InvoiceLine, ...]
    rejected_items: tuple[RejectedItem, ...]
    lines_total_cents: Cents
    previous_unpaid_cents: Cents
    credit_applied_cents: Cents
    credit_remaining_cents: Cents
    amount_due_cents: Cents

    @property
    def is_empty(self) -> bool:
        """True if there is nothing to bill nor to recall."""
        return not self.lines and self.previous_unpaid_cents == 0

    def lines_by_activity(self) -> dict[str, Cents]:
        """Total per activity code (surcharges included), sorted by code, for the revenue ledger."""
        totals: dict[str, Cents] = {}
        for line in self.lines:
            totals[line.activity_code] = totals.get(line.activity_code, 0) + line.amount_cents
        return dict(sorted(totals.items()))


# Group keys: (child_ref, activity_code, grid_id, catch_up) for unit and surcharge lines,
# (child_ref, activity_code, month) for monthly flats.
_UnitKey = tuple[str, str, str, bool]
_FlatKey = tuple[str, str, date]
# (first name, child_ref, activity, is surcharge, month, not catch-up, grid start, grid id)
_SortKey = tuple[str, str, str, bool, date, bool, date, str]


def _collation_key(name: str) -> str:
    # Accent- and case-insensitive, so that "Élise" comes before "Zoé" on the invoice.
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


def _rejection_order(r: RejectedItem) -> tuple[str, str, date, str, str, bool]:
    it = r.item
    return (it.child_ref, it.activity_code, it.day, r.reason, it.child_first_name, it.registered)


def compute_invoice(
    period: BillingPeriod,
    family: FamilySnapshot,
    items: Iterable[AttendanceItem],
    grids: Sequence[TariffGrid],
) -> InvoiceDraft:
    """Price a family's unbilled items for ``period`` (grid in force on each item's day) and settle credit.

    Items up to 2 years before the period start are billed as catch-up; older ones and items after the
    period end are returned in ``rejected_items``. A monthly flat is charged once per month with items,
    at the grid in force on the month's first item. ``previous_unpaid_cents`` must exclude debts already
    transferred to the Trésor Public.
    """
    cutoff = add_months(period.start, -CATCH_UP_MONTHS)
    tranche = family.tranche
    grid_by_day: dict[date, TariffGrid | None] = {}
    grid_by_id: dict[str, TariffGrid] = {}
    units: dict[_UnitKey, int] = {}
    surcharges: dict[_UnitKey, int] = {}
    flats: dict[_FlatKey, tuple[date, str]] = {}
    names: dict[str, tuple[date, str]] = {}
    rejected: list[RejectedItem] = []

    for item in items:
        day = item.day
        if day > period.end:
            rejected.append(RejectedItem(item, RejectionReason.AFTER_PERIOD))
            continue
        if day < cutoff:
            rejected.append(RejectedItem(item, RejectionReason.TOO_OLD))
            continue
        if day in grid_by_day:
            grid = grid_by_day[day]
        else:
            try:
                grid = grid_for(grids, day)
            except NoGridInForce:
                grid = None
            grid_by_day[day] = grid
        if grid is None:
            rejected.append(RejectedItem(item, RejectionReason.NO_GRID))
            continue
        price = grid.prices.get(item.activity_code)
        if price is None:
            rejected.append(RejectedItem(item, RejectionReason.UNKNOWN_ACTIVITY))
            continue
        grid_by_id[grid.id] = grid
        child, code = item.child_ref, item.activity_code
        seen = names.get(child)
        if seen is None or (day, item.child_first_name) > seen:
            names[child] = (day, item.child_first_name)
        key = (child, code, grid.id, day < period.start)
        if price.kind is PriceKind.UNIT:
            units[key] = units.get(key, 0) + 1
        else:
            flat_key = (child, code, day.replace(day=1))
            first = flats.get(flat_key)
            if first is None or day < first[0]:
                flats[flat_key] = (day, grid.id)
        if not item.registered:
            surcharges[key] = surcharges.get(key, 0) + 1

    def line(
        child: str, code: str, grid_id: str, kind: LineKind, qty: int, month: date | None, catch_up: bool
    ) -> tuple[_SortKey, InvoiceLine]:
        grid = grid_by_id[grid_id]
        price: ActivityPrice = grid.prices[code]
        if kind is LineKind.SURCHARGE:
            unit_price, unit_label = price.surcharge(tranche), "présence"
            label = f"Majoration présence sans inscription – {price.label}"
        else:
            unit_price, unit_label = price.price(tranche), price.unit_label
            label = price.label
        if month is not None:
            label = f"{label} – {month_label_fr(month)}"
        elif catch_up:
            label = f"{label} – prestations antérieures non facturées"
        name = names[child][1]
        sort_key: _SortKey = (
            _collation_key(name),
            child,
            code,
            kind is LineKind.SURCHARGE,
            month or date.min,
            not catch_up,
            grid.effective_from,
            grid_id,
        )
        return sort_key, InvoiceLine(
            child_ref=child,
            child_first_name=name,
            activity_code=code,
            kind=kind,
            label=label,
            unit_label=unit_label,
            quantity=qty,
            unit_price_cents=unit_price,
            amount_cents=unit_price * qty,
            grid_id=grid_id,
            month=month,
            catch_up=catch_up,
        )

    keyed = [line(c, a, g, LineKind.UNIT, q, None, cu) for (c, a, g, cu), q in units.items()]
    keyed += [line(c, a, g, LineKind.MONTHLY_FLAT, 1, m, m < period.start) for (c, a, m), (_, g) in flats.items()]
    for (c, a, g, cu), q in surcharges.items():
        sort_key, surcharge = line(c, a, g, LineKind.SURCHARGE, q, None, cu)
        if surcharge.unit_price_cents:
            keyed.append((sort_key, surcharge))
    keyed.sort(key=lambda pair: pair[0])
    lines = tuple(ln for _, ln in keyed)

    lines_total = sum(ln.amount_cents for ln in lines)
    gross = lines_total + family.previous_unpaid_cents
    credit_applied = min(family.credit_cents, gross)
    return InvoiceDraft(
        period=period,
        account_ref=family.account_ref,
        tranche=tranche,
        lines=lines,
        rejected_items=tuple(sorted(rejected, key=_rejection_order)),
        lines_total_cents=lines_total,
        previous_unpaid_cents=family.previous_unpaid_cents,
        credit_applied_cents=credit_applied,
        credit_remaining_cents=family.credit_cents - credit_applied,
        amount_due_cents=gross - credit_applied,
    )
