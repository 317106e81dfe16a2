"""Which messages may wait for a person's rhythm, and how stored rhythm settings read as a `Rhythm`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time
from functools import lru_cache

from domain.rhythm import Rhythm, Window, next_allowed

# Messages a person is waiting for right now: they go at once, whatever the hour.
URGENT_TEMPLATES = frozenset(
    {
        "magic_link",  # a link they just asked for
        "payment_receipt",  # the answer to a payment they just made
        "payment_declined",  # a declined payment the family is waiting for
        "referral_family_link",  # a link the family just asked the RIF agent for
        "referral_partner_link",  # a fresh link a partner just asked for
    }
)
CHANNELS = ("email", "sms")
MAX_PREFERRED_WINDOWS = 4


def is_urgent(template: str, flagged: bool = False) -> bool:
    """True if the message must go at once (flagged by its sender, or a template people wait for)."""
    return flagged or template in URGENT_TEMPLATES


def parse_hhmm(text: str) -> time:
    """`"08:30"` → 08:30; raises ValueError on anything else."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit():
        raise ValueError(f"heure invalide : {text!r} (format HH:MM attendu)")
    return time(int(hours), int(minutes))


def parse_windows(text: str) -> tuple[Window, ...]:
    """`"12:00-14:00,19:00-20:30"` → windows; an empty text means no preference."""
    windows = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        start, sep, end = part.partition("-")
        if not sep:
            raise ValueError(f"créneau invalide : {part!r} (format HH:MM-HH:MM attendu)")
        window = Window(parse_hhmm(start), parse_hhmm(end))
        if window.start == window.end:
            raise ValueError(f"créneau vide : {part!r}")
        windows.append(window)
    if len(windows) > MAX_PREFERRED_WINDOWS:
        raise ValueError(f"au plus {MAX_PREFERRED_WINDOWS} créneaux préférés")
    return tuple(windows)


def format_windows(windows: Iterable[Window]) -> str:
    """The stored form of windows, inverse of `parse_windows`."""
    return ",".join(f"{w.start:%H:%M}-{w.end:%H:%M}" for w in windows)


@lru_cache(maxsize=4096)
def due_at(now: datetime, rhythm: Rhythm, channel: str, urgent: bool) -> datetime:
    """`next_allowed`, cached: a batch of thousands of families mostly shares a few rhythms and one `now`."""
    return next_allowed(now, rhythm, channel, urgent)


def group_by_instant(items: Iterable[tuple[str, datetime]]) -> dict[datetime, list[str]]:
    """Keys grouped by the instant they may go: one durable timer per distinct instant, not per message."""
    groups: dict[datetime, list[str]] = defaultdict(list)
    for key, at in items:
        groups[at].append(key)
    return dict(sorted(groups.items()))
