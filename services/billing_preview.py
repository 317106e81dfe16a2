"""Dry run of a whole period: what its cycle would issue, by QF tranche, writing nothing.

It prices through `BillingStore.compute_batch`, the function the cycle's `issue_batch` and `preview_batch`
activities use: one pricing code, never a copy. Accounts are read in chunks of account ids (a handful of
set-based queries per chunk, one session for all), so memory stays bounded at 100,000 families.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from domain.periods import BillingPeriod
from services.billing import BillingStore, load_tariff_grids
from ville.models.billing import Invoice

PREVIEW_CHUNK = 5_000  # accounts priced per chunk


@dataclass
class TrancheTotal:
    """Invoices of one QF tranche: how many, and their amounts in cents."""

    tranche: int
    invoices: int = 0
    lines_total_cents: int = 0
    amount_due_cents: int = 0


@dataclass
class PeriodPreview:
    """What the period's cycle would issue now (families already invoiced for the period are skipped)."""

    period_key: str
    period_label: str
    families: int = 0  # families the cycle would invoice
    already_issued: int = 0  # invoices the period already has (a cancelled cycle's, say)
    lines_total_cents: int = 0
    amount_due_cents: int = 0
    tranches: list[TrancheTotal] = field(default_factory=list)


def preview_period(store: BillingStore, period: BillingPeriod, chunk: int = PREVIEW_CHUNK) -> PeriodPreview:
    """Price the period's unbilled families with the cycle's own code; nothing is written."""
    bounds, _ = store.batch_bounds(period, chunk)
    by_tranche: dict[int, TrancheTotal] = {}
    out = PeriodPreview(period.key, period.label_fr)
    with store.sessions() as s:
        grids = load_tariff_grids(s)
        out.already_issued = s.execute(
            select(func.count()).select_from(Invoice).where(Invoice.period_key == period.key)
        ).scalar_one()
        lo = 0
        for hi in bounds:
            drafts, _ = store.compute_batch(s, period, lo, hi, grids)
            for _, d in drafts:
                t = by_tranche.setdefault(d.tranche, TrancheTotal(d.tranche))
                t.invoices += 1
                t.lines_total_cents += d.lines_total_cents
                t.amount_due_cents += d.amount_due_cents
            lo = hi
    out.tranches = [by_tranche[k] for k in sorted(by_tranche)]
    out.families = sum(t.invoices for t in out.tranches)
    out.lines_total_cents = sum(t.lines_total_cents for t in out.tranches)
    out.amount_due_cents = sum(t.amount_due_cents for t in out.tranches)
    return out
