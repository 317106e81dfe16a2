"""Money as integer euro cents: French formatting, strict parsing, exact allocation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeAlias

Cents: TypeAlias = int

# U+00A0 rather than the typographic U+202F: the narrow space is missing from WinAnsi, so the
# standard PDF fonts (reportlab Helvetica) and many mail clients would print a box instead.
NBSP = "\u00a0"

_SPACES = " \u00a0\u202f"
_EUR_RE = re.compile(
    rf"(?P<sign>-)?"
    rf"(?P<int>[0-9]{{1,3}}(?:[{_SPACES}][0-9]{{3}})+|[0-9]+)"
    rf"(?:[,.](?P<dec>[0-9]+))?"
    rf"(?:[{_SPACES}]?€)?"
)


def format_eur(cents: Cents) -> str:
    """Format cents the French way: ``123456`` -> ``"1 234,56 €"`` (no-break spaces)."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"cents must be an int, got {type(cents).__name__}")
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    grouped = f"{euros:,}".replace(",", NBSP)
    return f"{sign}{grouped},{rest:02d}{NBSP}€"


def parse_eur(text: str) -> Cents:
    """Parse ``"12,50"``, ``"1 234,5 €"`` or ``"12.50"`` into cents; ValueError if malformed/> 2 decimals."""
    match = _EUR_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"montant invalide : {text!r}")
    decimals = match["dec"]
    if decimals is not None and len(decimals) > 2:
        raise ValueError(f"montant invalide (plus de 2 décimales) : {text!r}")
    euros = int(re.sub(f"[{_SPACES}]", "", match["int"]))
    cents = euros * 100 + int((decimals or "0").ljust(2, "0"))
    return -cents if match["sign"] else cents


def allocate(total: Cents, weights: Sequence[int]) -> list[Cents]:
    """Split ``total`` proportionally to ``weights`` (largest remainder, ties to the first); sums exactly."""
    if not weights:
        raise ValueError("weights must not be empty")
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in weights):
        raise ValueError("weights must be non-negative integers")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("at least one weight must be positive")
    if total < 0:
        return [-part for part in allocate(-total, weights)]
    shares = [divmod(total * w, weight_sum) for w in weights]
    parts = [q for q, _ in shares]
    left = total - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts


def percent_of(cents: Cents, pct: int) -> Cents:
    """Return ``pct`` % of a non-negative amount, rounded half up to the cent."""
    if cents < 0 or pct < 0:
        raise ValueError("amount and percentage must be non-negative")
    return (cents * pct + 50) // 100
