"""Yearly statement of sums paid per child (attestation annuelle, for the childcare tax credit): pure rules."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from domain.money import Cents

CHILDCARE_MAX_AGE = 6
"""Childcare tax credit (art. 200 quater B CGI): children under 6 on 1 January of the income year."""
_REF = re.compile(r"^AF-(\d{4})-([A-Z0-9][A-Z0-9-]{0,19})$")


@dataclass(frozen=True, slots=True)
class PaidLine:
    """One invoice line a payment settled part of: whose child, which activity, its amount."""

    child_ref: str
    activity_code: str
    amount_cents: Cents


@dataclass(frozen=True, slots=True)
class Settlement:
    """The part of one payment that settled one invoice, net of refunds, with that invoice's lines."""

    amount_cents: Cents
    lines: Sequence[PaidLine]


@dataclass(frozen=True, slots=True)
class ChildTotals:
    """What was paid in the year for one child, and the childcare share of it."""

    child_ref: str
    paid_cents: Cents
    childcare_cents: Cents


def statement_ref(year: int, account_ref: str) -> str:
    """`AF-2026-FA-000123`: the statement of one account for one year."""
    ref = f"AF-{year:04d}-{account_ref}"
    if not _REF.match(ref):
        raise ValueError(f"bad statement reference: {ref}")
    return ref


def parse_statement_ref(ref: str) -> tuple[int, str] | None:
    """(year, account ref) of a statement reference, or None if it is not one."""
    match = _REF.match(ref)
    return (int(match.group(1)), match.group(2)) if match else None


def split_proportionally(amount_cents: Cents, weights: Sequence[Cents]) -> list[Cents]:
    """Share `amount_cents` over `weights` (largest remainder, earlier lines first on ties); sums exactly."""
    total = sum(weights)
    if amount_cents < 0 or any(w < 0 for w in weights):
        raise ValueError("amounts must be non-negative")
    if total == 0:
        return [0] * len(weights)
    shares = [amount_cents * w // total for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount_cents * weights[i] % total), i))
    for i in remainders[: amount_cents - sum(shares)]:
        shares[i] += 1
    return shares


def net_of_refund(allocated_cents: Cents, payment_cents: Cents, refunded_cents: Cents) -> Cents:
    """The part of an allocation still paid after a (partial) refund of its payment, pro rata."""
    if payment_cents <= 0:
        return 0
    kept = max(0, payment_cents - refunded_cents)
    return allocated_cents * kept // payment_cents


def totals_per_child(settlements: Iterable[Settlement], childcare_codes: Collection[str]) -> dict[str, ChildTotals]:
    """Sums paid per child: each settlement is shared over its invoice's lines in proportion to their amounts."""
    paid: dict[str, int] = {}
    childcare: dict[str, int] = {}
    for settlement in settlements:
        shares = split_proportionally(settlement.amount_cents, [ln.amount_cents for ln in settlement.lines])
        for line, share in zip(settlement.lines, shares, strict=True):
            paid[line.child_ref] = paid.get(line.child_ref, 0) + share
            if line.activity_code in childcare_codes:
                childcare[line.child_ref] = childcare.get(line.child_ref, 0) + share
    return {ref: ChildTotals(ref, cents, childcare.get(ref, 0)) for ref, cents in paid.items()}


def eligible_for_childcare_credit(birth_date: date, year: int) -> bool:
    """True if the child was under 6 on 1 January of `year`."""
    return birth_date >= date(year - CHILDCARE_MAX_AGE, 1, 1)
