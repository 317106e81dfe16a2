"""Dates typed in page forms: jj/mm/aaaa (or the 8 digits, or ISO), French messages otherwise."""

from __future__ import annotations

from datetime import date

import pytest

from api.form_dates import FormDateError, format_form_date, parse_form_date


@pytest.mark.parametrize(
    "typed", ["07/12/2026", "7/12/2026", " 07/12/2026 ", "07.12.2026", "07-12-2026", "07122026", "2026-12-07"]
)
def test_a_french_date_is_read_day_first(typed: str) -> None:
    """Day, then month, then year; ISO is accepted too (old bookmarks, scripts)."""
    assert parse_form_date(typed) == date(2026, 12, 7)


def test_the_day_comes_first_even_when_both_could_be_a_month() -> None:
    """03/04 is the 3rd of April, never the 4th of March (an en-US browser's order)."""
    assert parse_form_date("03/04/2027") == date(2027, 4, 3)


@pytest.mark.parametrize("typed", ["31/02/2026", "12/31/2026", "2026/12/07", "demain", "7/12/26", "00/01/2026"])
def test_a_wrong_date_says_how_to_write_it(typed: str) -> None:
    """The message quotes what was typed and gives the expected form with an example."""
    with pytest.raises(FormDateError, match=r"n'est pas une date valide : écrivez-la jj/mm/aaaa"):
        parse_form_date(typed)


def test_an_empty_field_gets_the_field_s_own_message() -> None:
    """Each form says which date is missing."""
    with pytest.raises(FormDateError, match="Indiquez la date de la visite"):
        parse_form_date("  ", "Indiquez la date de la visite (jj/mm/aaaa).")


def test_a_field_shows_its_date_as_typed_or_day_first() -> None:
    """Stored dates show jj/mm/aaaa; what the user typed comes back unchanged with its error."""
    assert format_form_date(date(2026, 1, 5)) == "05/01/2026"
    assert format_form_date("2026-01-05") == "05/01/2026"
    assert format_form_date("32/01/2026") == "32/01/2026"
    assert format_form_date(None) == ""
