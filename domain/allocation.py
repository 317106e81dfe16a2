"""How a family's payment is spread over its open invoices: oldest first, the excess becomes credit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.money import Cents


@dataclass(frozen=True, slots=True)
class Allocation:
    """Amount applied to each open invoice (same order as given) and what is left over."""

    applied: tuple[Cents, ...]
    leftover_cents: Cents


def allocate_fifo(remaining: Sequence[Cents], amount_cents: Cents) -> Allocation:
    """Settle the oldest remaining amounts first; `sum(applied) + leftover == amount`."""
    if amount_cents < 0 or any(r < 0 for r in remaining):
        raise ValueError("amounts must be non-negative")
    left = amount_cents
    applied = []
    for r in remaining:
        take = min(r, left)
        applied.append(take)
        left -= take
    return Allocation(tuple(applied), left)
