"""Quiet hours, preferred windows, Sundays and holidays for SMS, urgent messages."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from domain.rhythm import PARIS, Rhythm, Window, next_allowed


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def test_a_reminder_due_at_22_30_goes_at_8_the_next_morning() -> None:
    assert next_allowed(paris(2026, 11, 24, 22, 30), Rhythm(), "email") == paris(2026, 11, 25, 8, 0)


def test_an_sms_due_on_sunday_waits_for_monday_8() -> None:
    assert next_allowed(paris(2026, 11, 29, 10, 0), Rhythm(), "sms") == paris(2026, 11, 30, 8, 0)
    # an e-mail on Sunday morning is fine
    assert next_allowed(paris(2026, 11, 29, 10, 0), Rhythm(), "email") == paris(2026, 11, 29, 10, 0)


def test_a_public_holiday_is_a_rest_day_for_sms_unless_opted_in() -> None:
    christmas = paris(2026, 12, 25, 11, 0)
    assert next_allowed(christmas, Rhythm(), "sms") == paris(2026, 12, 26, 8, 0)
    assert next_allowed(christmas, Rhythm(sms_on_rest_days=True), "sms") == christmas


def test_urgent_messages_go_at_once() -> None:
    night = paris(2026, 11, 24, 23, 50)
    assert next_allowed(night, Rhythm(), "sms", urgent=True) == night


def test_a_persons_own_window_is_respected() -> None:
    night_shift = Rhythm(quiet=Window(time(8, 0), time(16, 0)), preferred=(Window(time(17, 0), time(19, 0)),))
    assert next_allowed(paris(2026, 11, 24, 12, 0), night_shift, "email") == paris(2026, 11, 24, 17, 0)
    assert next_allowed(paris(2026, 11, 24, 19, 30), night_shift, "email") == paris(2026, 11, 25, 17, 0)


def test_the_answer_keeps_the_callers_timezone_and_needs_one() -> None:
    at = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)  # 22:30 in Paris
    assert next_allowed(at, Rhythm(), "email") == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        next_allowed(datetime(2026, 11, 24, 12, 0), Rhythm(), "email")
