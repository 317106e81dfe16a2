"""When a message may reach a person: quiet hours, preferred windows, Sundays and holidays for SMS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.calendar import PARIS, holiday_name


@dataclass(frozen=True)
class Window:
    """A daily window in Paris time; `end` before `start` means it spans midnight (21:00–08:00)."""

    start: time
    end: time

    def contains(self, t: time) -> bool:
        """True if `t` falls inside the window (start included, end excluded)."""
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


@dataclass(frozen=True)
class Rhythm:
    """A person's rhythm: quiet hours, optional preferred windows, and opt-in to SMS on rest days."""

    quiet: Window = Window(time(21, 0), time(8, 0))
    preferred: tuple[Window, ...] = field(default_factory=tuple)
    sms_on_rest_days: bool = False
    timezone: str = "Europe/Paris"  # an IANA zone; windows are read in it, holidays stay French


def _allowed(local: datetime, rhythm: Rhythm, channel: str) -> bool:
    t = local.time()
    if rhythm.quiet.contains(t):
        return False
    if rhythm.preferred and not any(w.contains(t) for w in rhythm.preferred):
        return False
    rest_day = local.weekday() == 6 or holiday_name(local.date()) is not None
    return not (channel == "sms" and rest_day and not rhythm.sms_on_rest_days)


def next_allowed(at: datetime, rhythm: Rhythm, channel: str, urgent: bool = False) -> datetime:
    """The first moment at or after `at` when a message may go (urgent messages go at once)."""
    if at.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    if urgent:
        return at
    local = at.astimezone(PARIS if rhythm.timezone == "Europe/Paris" else ZoneInfo(rhythm.timezone))
    # Minute steps over at most 8 days: windows are expressed in minutes, and a week always has a slot.
    probe = local.replace(second=0, microsecond=0)
    if probe < local:
        probe += timedelta(minutes=1)
    for _ in range(8 * 24 * 60):
        if _allowed(probe, rhythm, channel):
            return probe.astimezone(at.tzinfo)
        probe += timedelta(minutes=1)
    raise ValueError("no allowed moment within 8 days: the preferred windows are empty")
