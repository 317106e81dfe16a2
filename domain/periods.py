"""Billing periods: whole-month blocks (bimonthly by default) aligned on an anchor month."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from domain.calendar import add_months, month_end

MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
ALLOWED_PERIOD_MONTHS = (1, 2, 3, 4, 6, 12)
_KEY_RE = re.compile(r"([0-9]{4})-([0-9]{2})")


def month_label_fr(d: date) -> str:
    """Return ``"septembre 2026"`` for any day of September 2026."""
    return f"{MONTHS_FR[d.month - 1]} {d.year}"


@dataclass(frozen=True, slots=True)
class BillingPeriod:
    """A block of whole months, ``end`` inclusive; ``key`` is the start's year-month (``"2026-09"``)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start.day != 1 or self.end != month_end(self.end) or self.end < self.start:
            raise ValueError(f"period must span whole months: {self.start} .. {self.end}")

    @property
    def key(self) -> str:
        """Year-month of the first day, e.g. ``"2026-09"``."""
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @property
    def months(self) -> int:
        """Number of months covered."""
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    @property
    def label_fr(self) -> str:
        """French label: ``"septembre–octobre 2026"``, ``"décembre 2026–janvier 2027"``."""
        first, last = self.start, self.end
        if self.months == 1:
            return month_label_fr(first)
        if first.year == last.year:
            return f"{MONTHS_FR[first.month - 1]}–{month_label_fr(last)}"
        return f"{month_label_fr(first)}–{month_label_fr(last)}"

    def contains(self, d: date) -> bool:
        """True if ``d`` falls within the period."""
        return self.start <= d <= self.end

    def month_starts(self) -> tuple[date, ...]:
        """First day of every month of the period, in order."""
        return tuple(add_months(self.start, i) for i in range(self.months))


def _check_shape(months: int, anchor_month: int) -> None:
    if months not in ALLOWED_PERIOD_MONTHS:
        raise ValueError(f"months must divide the year {ALLOWED_PERIOD_MONTHS}, got {months}")
    if not 1 <= anchor_month <= 12:
        raise ValueError(f"anchor_month must be 1..12, got {anchor_month}")


def _spanning(start: date, months: int) -> BillingPeriod:
    return BillingPeriod(start, month_end(add_months(start, months - 1)))


def period_for(d: date, months: int = 2, anchor_month: int = 1) -> BillingPeriod:
    """Return the ``months``-month period containing ``d``; a period starts in ``anchor_month`` each year."""
    _check_shape(months, anchor_month)
    offset = (d.month - anchor_month) % months
    return _spanning(add_months(d.replace(day=1), -offset), months)


def next_period(period: BillingPeriod) -> BillingPeriod:
    """Return the period of the same length that follows ``period``."""
    return _spanning(period.end + timedelta(days=1), period.months)


def previous_period(period: BillingPeriod) -> BillingPeriod:
    """Return the period of the same length that precedes ``period``."""
    return _spanning(add_months(period.start, -period.months), period.months)


def period_from_key(key: str, months: int = 2, anchor_month: int = 1) -> BillingPeriod:
    """Parse ``"2026-09"`` into its period; ValueError if malformed or not aligned on a period start."""
    _check_shape(months, anchor_month)
    match = _KEY_RE.fullmatch(key)
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise ValueError(f"invalid period key {key!r} (expected YYYY-MM)")
    start = date(int(match[1]), int(match[2]), 1)
    period = period_for(start, months, anchor_month)
    if period.start != start:
        raise ValueError(f"{key!r} does not start a {months}-month period (nearest start: {period.key})")
    return period


def period_has_ended(period: BillingPeriod, today: date) -> bool:
    """A period can be billed from the day after its last day (``today``: the City's date, Paris)."""
    return today > period.end


def period_not_ended_fr(period: BillingPeriod) -> str:
    """Why a period cannot be billed yet, in French."""
    after = period.end + timedelta(days=1)
    return (
        f"La période {period.label_fr} n'est pas terminée (dernier jour : {period.end:%d/%m/%Y}) : "
        f"elle ne peut être facturée qu'à partir du {after:%d/%m/%Y}."
    )
