"""Invoice numbers ``FF-2026-000123``: one gapless sequence per prefix and year."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

INVOICE_PREFIX = "FF"
MAX_SEQ = 999_999
_NUMBER_RE = re.compile(r"([A-Z]{2,5})-([0-9]{4})-([0-9]{6})")


@dataclass(frozen=True, slots=True, order=True)
class InvoiceNumber:
    """A parsed invoice number."""

    prefix: str
    year: int
    seq: int

    def __str__(self) -> str:
        return format_invoice_number(self.year, self.seq, self.prefix)


def format_invoice_number(year: int, seq: int, prefix: str = INVOICE_PREFIX) -> str:
    """Return ``FF-2026-000123`` for (2026, 123); ValueError outside 1000..9999 or 1..999999."""
    if not 1000 <= year <= 9999:
        raise ValueError(f"year out of range: {year}")
    if not 1 <= seq <= MAX_SEQ:
        raise ValueError(f"sequence out of range 1..{MAX_SEQ}: {seq}")
    if not re.fullmatch(r"[A-Z]{2,5}", prefix):
        raise ValueError(f"invalid prefix: {prefix!r}")
    return f"{prefix}-{year:04d}-{seq:06d}"


def parse_invoice_number(text: str) -> InvoiceNumber:
    """Parse ``FF-2026-000123``; ValueError if malformed."""
    match = _NUMBER_RE.fullmatch(text)
    if match is None or int(match[3]) == 0 or int(match[2]) < 1000:
        raise ValueError(f"numéro de facture invalide : {text!r}")
    return InvoiceNumber(match[1], int(match[2]), int(match[3]))


def assign_numbers(year: int, start_seq: int, count: int, prefix: str = INVOICE_PREFIX) -> list[str]:
    """Return ``count`` consecutive numbers from ``start_seq`` (the DB counter holds the next seq)."""
    if count < 0:
        raise ValueError("count must be non-negative")
    if count and start_seq + count - 1 > MAX_SEQ:
        raise ValueError(f"sequence {year} exhausted: {start_seq} + {count} exceeds {MAX_SEQ}")
    return [format_invoice_number(year, seq, prefix) for seq in range(start_seq, start_seq + count)]


def check_gapless(numbers: Iterable[str], *, from_first: bool = True) -> list[str]:
    """Return the numbers missing from each (prefix, year) series, sorted.

    A series is checked from seq 1 when ``from_first`` (a full year), else from its lowest number
    (an extract). Duplicates are not reported here: the database's unique constraint prevents them.
    """
    series: dict[tuple[str, int], set[int]] = {}
    for text in numbers:
        parsed = parse_invoice_number(text)
        series.setdefault((parsed.prefix, parsed.year), set()).add(parsed.seq)
    missing: list[str] = []
    for (prefix, year), seqs in sorted(series.items()):
        low = 1 if from_first else min(seqs)
        missing += [format_invoice_number(year, s, prefix) for s in range(low, max(seqs)) if s not in seqs]
    return missing
