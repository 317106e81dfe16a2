"""Dates a referral case sets (domain.referral_dates) and its refusals' texts (domain.referral_messages)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from domain import referral_messages as msg
from domain.referral_dates import (
    APPOINTMENT_HORIZON_DAYS,
    FAMILY_LINK_VALIDITY_DAYS,
    FOLLOW_UP_DAYS,
    appointment_problem,
    family_link_expiry,
    follow_up_at,
)

NOW = datetime(2027, 3, 10, 23, 30, tzinfo=UTC)  # already the 11th in Paris (UTC+1)


def test_family_link_lasts_its_validity() -> None:
    assert family_link_expiry(NOW) == NOW + timedelta(days=FAMILY_LINK_VALIDITY_DAYS)


def test_follow_up_comes_after_the_configured_days() -> None:
    assert follow_up_at(NOW) == NOW + timedelta(days=FOLLOW_UP_DAYS)
    assert follow_up_at(NOW, 7) == datetime(2027, 3, 17, 23, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        follow_up_at(datetime(2027, 3, 10, 12, 0))


def test_an_acceptance_needs_an_appointment_or_a_contact() -> None:
    assert appointment_problem(None, False, NOW) == msg.APPOINTMENT_OR_CONTACT
    assert appointment_problem(None, True, NOW) is None


def test_the_appointment_lies_between_today_in_paris_and_a_year() -> None:
    assert appointment_problem(date(2027, 3, 10), False, NOW) == msg.APPOINTMENT_PAST  # yesterday in Paris
    assert appointment_problem(date(2027, 3, 11), False, NOW) is None
    last = date(2027, 3, 11) + timedelta(days=APPOINTMENT_HORIZON_DAYS)
    assert appointment_problem(last, False, NOW) is None
    assert appointment_problem(last + timedelta(days=1), True, NOW) == msg.APPOINTMENT_TOO_FAR


def test_refusal_texts_name_what_is_wrong() -> None:
    assert msg.unknown_need("cuisine") == "Besoin inconnu : « cuisine »."
    assert msg.too_many_referrals(40) == "Un dossier compte au plus 40 orientations."
    assert msg.only_closed_rerefers("ouverte").endswith("(celle-ci est ouverte).")
    assert (
        msg.already_rereferred("RIF-2027-000001-02") == "Cette orientation a déjà été réorientée (RIF-2027-000001-02)."
    )
    assert msg.link_only_for_open("acceptée").endswith("(celle-ci est acceptée).")
    assert msg.cannot_acknowledge("refusée") == "Impossible de prendre en compte une orientation refusée."
    assert msg.unknown_refusal_reason("x") == "Motif de refus inconnu : « x »."
