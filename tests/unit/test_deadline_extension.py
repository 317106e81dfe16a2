"""The deadline extension rule: later than the current due date, not after the campaign window."""

from __future__ import annotations

from datetime import date

import pytest

from domain.audit.campaign import check_deadline_extension

START, END, DUE = date(2027, 3, 1), date(2027, 3, 31), date(2027, 3, 20)


@pytest.mark.parametrize("new_due", [date(2027, 3, 21), END])
def test_a_later_date_within_the_window_is_accepted(new_due: date) -> None:
    check_deadline_extension(DUE, new_due, START, END)


@pytest.mark.parametrize(
    ("new_due", "message"),
    [
        (DUE, "doit être postérieure à l'échéance actuelle (20/03/2027)"),
        (date(2027, 3, 10), "doit être postérieure"),
        (date(2027, 4, 1), "dans la fenêtre de la campagne (fin le 31/03/2027)"),
    ],
)
def test_an_earlier_or_out_of_window_date_is_refused_in_french(new_due: date, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_deadline_extension(DUE, new_due, START, END)


def test_an_invalid_window_is_refused() -> None:
    with pytest.raises(ValueError, match="fenêtre de campagne est invalide"):
        check_deadline_extension(DUE, date(2027, 3, 25), END, START)
