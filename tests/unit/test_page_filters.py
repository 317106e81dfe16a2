"""Filters of the page templates: French dates in Paris time."""

from __future__ import annotations

from datetime import UTC, date, datetime

from api.rendering import templates


def test_timestamps_are_shown_in_paris_time() -> None:
    date_fr = templates.env.filters["date_fr"]
    # naive timestamps from the database are UTC: 23:30 UTC on 31 December is 00:30 on New Year's Day in Paris
    assert date_fr(datetime(2025, 12, 31, 23, 30)) == "01/01/2026 à 00:30"
    assert date_fr(datetime(2026, 7, 14, 6, 5, tzinfo=UTC)) == "14/07/2026 à 08:05"  # summer time
    assert date_fr(date(2026, 3, 1)) == "01/03/2026"
    assert date_fr(None) == "—"
