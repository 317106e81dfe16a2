"""Urgency, stored windows and grouping by instant for rhythm-aware delivery."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from domain.delivery import due_at, format_windows, group_by_instant, is_urgent, parse_hhmm, parse_windows
from domain.rhythm import PARIS, Rhythm, Window, next_allowed


def test_messages_people_wait_for_are_urgent() -> None:
    assert is_urgent("payment_receipt") and is_urgent("magic_link") and is_urgent("referral_family_link")
    assert not is_urgent("invoice_reminder") and not is_urgent("invoice_issued")
    assert is_urgent("invoice_reminder", flagged=True)


def test_windows_round_trip_and_bad_input_is_refused() -> None:
    windows = parse_windows(" 12:00-14:00, 18:30-20:00 ")
    assert windows == (Window(time(12, 0), time(14, 0)), Window(time(18, 30), time(20, 0)))
    assert format_windows(windows) == "12:00-14:00,18:30-20:00"
    assert parse_windows("") == ()
    for bad in ("12h-14h", "12:00", "12:00-12:00", "25:00-26:00", ",".join(["08:00-09:00"] * 5)):
        with pytest.raises(ValueError):
            parse_windows(bad)
    assert parse_hhmm("07:05") == time(7, 5)


def test_due_at_is_next_allowed_and_a_persons_timezone_counts() -> None:
    late = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)  # 22:30 in Paris
    assert due_at(late, Rhythm(), "email", False) == next_allowed(late, Rhythm(), "email")
    assert due_at(late, Rhythm(), "email", True) == late
    # 22:30 in Paris is 16:30 in Montreal: fine there
    assert next_allowed(late, Rhythm(timezone="America/Montreal"), "email") == late
    assert next_allowed(late, Rhythm(), "email").astimezone(PARIS).time() == time(8, 0)


def test_keys_are_grouped_by_instant_soonest_first() -> None:
    a, b = datetime(2026, 11, 25, 7, tzinfo=UTC), datetime(2026, 11, 25, 11, 15, tzinfo=UTC)
    assert group_by_instant([("k1", b), ("k2", a), ("k3", a)]) == {a: ["k2", "k3"], b: ["k1"]}
    assert list(group_by_instant([("k1", b), ("k2", a)])) == [a, b]
