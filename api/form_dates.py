"""Dates typed in page forms: jj/mm/aaaa as people write them in France, whatever the browser's locale.

Native `<input type="date">` shows the browser's own order (mm/dd/yyyy in an en-US browser), so the pages
use a text field and this one parser; ISO (aaaa-mm-jj) is accepted too, for old bookmarks and scripts.
"""

from __future__ import annotations

import re
from datetime import date

# the fields' `pattern`: jj/mm/aaaa, the 8 digits alone (a phone's numeric keypad may have no « / »), or ISO
DATE_PATTERN = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{8}|[0-9]{4}-[0-9]{2}-[0-9]{2}"
DATE_PLACEHOLDER = "jj/mm/aaaa"
BAD_DATE = "« {text} » n'est pas une date valide : écrivez-la jj/mm/aaaa, par exemple 07/12/2026."

_FRENCH = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})|(\d{2})(\d{2})(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class FormDateError(ValueError):
    """A date field left empty or not a date; its message is French, for the page."""


def parse_form_date(text: str, missing: str = "Indiquez une date (jj/mm/aaaa).") -> date:
    """The date typed as jj/mm/aaaa (or ISO); FormDateError with `missing` or a French hint otherwise."""
    raw = text.strip()
    if not raw:
        raise FormDateError(missing)
    if m := _FRENCH.fullmatch(raw):
        day, month, year = (int(g) for g in m.groups() if g is not None)
    elif m := _ISO.fullmatch(raw):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise FormDateError(BAD_DATE.format(text=raw[:20]))
    try:
        return date(year, month, day)
    except ValueError:  # 31/02/2026, 00/13/2026...
        raise FormDateError(BAD_DATE.format(text=raw[:20])) from None


def format_form_date(value: date | str | None) -> str:
    """A date as the field shows it (jj/mm/aaaa); text the user typed is given back unchanged."""
    if value is None:
        return ""
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    if m := _ISO.fullmatch(value.strip()):  # a stored date handed over as text
        return f"{m[3]}/{m[2]}/{m[1]}"
    return value
