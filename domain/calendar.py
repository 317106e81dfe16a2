"""French public holidays, business days and month arithmetic (metropolitan France, pure)."""

from __future__ import annotations

import calendar as _stdlib_calendar
from datetime import date, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")  # the City's clock: due dates, quiet hours and displayed times
_ONE_DAY = timedelta(days=1)


def easter_sunday(year: int) -> date:
    """Return Easter Sunday of a Gregorian year (anonymous Meeus/Jones/Butcher algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=256)
def _holidays(year: int) -> dict[date, str]:
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1): "Jour de l'an",
        easter + timedelta(days=1): "Lundi de Pâques",
        date(year, 5, 1): "Fête du Travail",
        date(year, 5, 8): "Victoire 1945",
        easter + timedelta(days=39): "Ascension",
        easter + timedelta(days=50): "Lundi de Pentecôte",
        date(year, 7, 14): "Fête nationale",
        date(year, 8, 15): "Assomption",
        date(year, 11, 1): "Toussaint",
        date(year, 11, 11): "Armistice 1918",
        date(year, 12, 25): "Noël",
    }
    return dict(sorted(days.items()))


def french_public_holidays(year: int) -> dict[date, str]:
    """Return French public holidays of ``year`` as {date: French name}, in date order.

    Usually 11 days; fewer when Ascension falls on 1 or 8 May (2008: one day, named "Ascension").
    """
    return dict(_holidays(year))


def holiday_name(d: date) -> str | None:
    """Return the French name of the public holiday falling on ``d``, or None."""
    return _holidays(d.year).get(d)


def is_business_day(d: date) -> bool:
    """True for Monday to Friday outside French public holidays (jour ouvré)."""
    return d.weekday() < 5 and d not in _holidays(d.year)


def next_business_day_on_or_after(d: date) -> date:
    """Return ``d`` if it is a business day, else the first business day after it."""
    while not is_business_day(d):
        d += _ONE_DAY
    return d


def add_business_days(d: date, n: int) -> date:
    """Return the n-th business day strictly after ``d`` (before it if n < 0); ``d`` itself if n == 0."""
    step = _ONE_DAY if n >= 0 else -_ONE_DAY
    remaining = abs(n)
    while remaining:
        d += step
        if is_business_day(d):
            remaining -= 1
    return d


def business_days_between(a: date, b: date) -> int:
    """Count business days in (a, b] (negated count of (b, a] when b < a).

    For n >= 0, ``business_days_between(a, add_business_days(a, n)) == n``.
    """
    if b < a:
        return -business_days_between(b, a)
    span = (b - a).days
    full_weeks, extra = divmod(span, 7)
    weekdays = full_weeks * 5
    wd = a.weekday()
    for offset in range(1, extra + 1):
        if (wd + offset) % 7 < 5:
            weekdays += 1
    holidays = sum(1 for year in range(a.year, b.year + 1) for h in _holidays(year) if a < h <= b and h.weekday() < 5)
    return weekdays - holidays


def month_end(d: date) -> date:
    """Return the last day of ``d``'s month."""
    return d.replace(day=_stdlib_calendar.monthrange(d.year, d.month)[1])


def add_months(d: date, n: int) -> date:
    """Shift ``d`` by ``n`` months, clamping the day to the target month's length (31/01 + 1 -> 28/02)."""
    index = d.year * 12 + d.month - 1 + n
    year, month0 = divmod(index, 12)
    last = _stdlib_calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def format_date_fr(d: date) -> str:
    """Format a date the French way: ``25/01/2027``."""
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"
