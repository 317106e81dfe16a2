"""Tariff impact simulation activities: plan, re-price batches (dry run), then the CSV/PDF/SVG report in S3.

The report itself is rendered by `documents.simulation_report` (pure).

Batches return aggregates only; the anonymous per-family changes the medians need (tranche, old, new: no
id, no name) go to one small S3 object per batch, rewritten identically when a batch is retried.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from reportlab.lib import colors
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError

from activities.billing import _heartbeating
from activities.definition import defn
from contracts.simulation import (
    SimulationActivity,
    SimulationBatchRequest,
    SimulationFinaliseRequest,
    SimulationPlan,
    SimulationPlanRequest,
    SimulationReport,
)
from documents.pdf_fonts import pdf_fonts
from documents.simulation_report import impact_chart, impact_svg, report_csv, report_pdf
from domain.periods import BillingPeriod, period_from_key
from domain.simulation import (
    FamilyChange,
    ImpactTotals,
    PeriodAmounts,
    ProposedGridError,
    applied_everywhere,
    current_grid,
    median_changes,
    validate_proposed_grid,
)
from domain.tariffs import GridError, TariffGrid
from services.billing import BillingStore, load_tariff_grids
from ville.db import SessionFactory
from ville.models.billing import Invoice, TariffGridVersion
from ville.settings import Settings

log = structlog.get_logger(__name__)
PREFIX = "simulations"
OLD_COLOUR = colors.HexColor("#7f8c9a")
NEW_COLOUR = colors.HexColor("#0b5fa5")


def simulation_prefix(ref: str) -> str:
    """Where a simulation's files live in S3."""
    return f"{PREFIX}/{ref}"


def changes_key(ref: str, lo: int, hi: int) -> str:
    """The anonymous changes of one batch."""
    return f"{simulation_prefix(ref)}/ecarts/{lo:010d}-{hi:010d}.json"


class SimulationActivities:
    """I/O of the simulation; reads the billing tables, writes only S3 objects keyed by the simulation."""

    def __init__(self, sessions: SessionFactory, s3: Any, settings: Settings) -> None:
        self.store = BillingStore(sessions)
        self.sessions = sessions
        self.s3 = s3
        self.settings = settings
        self._grids: dict[str, TariffGrid] = {}
        self._lock = threading.Lock()

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activities to register."""
        return [self.prepare_simulation, self.simulate_batch, self.finalise_simulation]

    def _periods(self, keys: Sequence[str]) -> list[BillingPeriod]:
        try:
            periods = sorted(
                {period_from_key(k, self.settings.billing_period_months) for k in keys}, key=lambda p: p.start
            )
        except ValueError as err:
            raise ApplicationError(str(err), type="PeriodNotClosed", non_retryable=True) from None
        if not periods:
            raise ApplicationError("no period to simulate", type="PeriodNotClosed", non_retryable=True)
        return periods

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.settings.s3_bucket, Key=key, Body=body, ContentType=content_type)

    def _get(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.settings.s3_bucket, Key=key)["Body"].read()
        return body

    @defn(name=SimulationActivity.PREPARE)
    def prepare_simulation(self, req: SimulationPlanRequest) -> SimulationPlan:
        """Check the periods were billed and the grid is valid; store the grid; cut the families into batches."""
        periods = self._periods(req.period_keys)
        keys = [p.key for p in periods]
        with self.sessions() as s:
            billed: dict[str, int] = dict(
                s.execute(
                    select(Invoice.period_key, func.count())
                    .where(Invoice.period_key.in_(keys))
                    .group_by(Invoice.period_key)
                ).all()
            )
            voted = load_tariff_grids(s)
            raw = req.grid
            if raw is None and req.grid_id:
                raw = s.execute(
                    select(TariffGridVersion.data).where(TariffGridVersion.id == req.grid_id)
                ).scalar_one_or_none()
            accounts = sorted(
                set(s.execute(select(Invoice.account_id).where(Invoice.period_key.in_(keys)).distinct()).scalars())
            )
        if missing := [k for k in keys if not billed.get(k)]:
            raise ApplicationError(
                f"periods not billed yet: {', '.join(missing)}", type="PeriodNotClosed", non_retryable=True
            )
        if raw is None:
            raise ApplicationError("no grid given, or unknown grid id", type="InvalidGrid", non_retryable=True)
        try:
            grid = validate_proposed_grid(raw, current_grid(voted, periods))
        except ProposedGridError as err:
            raise ApplicationError(str(err), type="InvalidGrid", non_retryable=True) from None
        grid_key = f"{simulation_prefix(req.simulation_ref)}/grille-proposee.json"
        self._put(grid_key, json.dumps(raw, ensure_ascii=False, sort_keys=True).encode(), "application/json")
        size = max(1, req.batch_size)
        bounds = [accounts[min(i + size, len(accounts)) - 1] for i in range(0, len(accounts), size)]
        log.info("simulation.planned", simulation=req.simulation_ref, families=len(accounts), batches=len(bounds))
        return SimulationPlan(bounds, len(accounts), grid_key, grid.id)

    def _grid(self, key: str) -> TariffGrid:
        with self._lock:
            cached = self._grids.get(key)
        if cached is not None:
            return cached
        try:
            grid = validate_proposed_grid(json.loads(self._get(key)))
        except (ProposedGridError, GridError, ValueError) as err:
            raise ApplicationError(f"stored grid unreadable: {err}", type="InvalidGrid", non_retryable=True) from None
        with self._lock:
            if len(self._grids) > 16:  # a few simulations at a time: keep the cache small
                self._grids.clear()
            self._grids[key] = grid
        return grid

    @defn(name=SimulationActivity.SIMULATE_BATCH)
    @_heartbeating
    def simulate_batch(self, req: SimulationBatchRequest) -> ImpactTotals:
        """Re-price the batch's billed items with the voted and the proposed grids; aggregates only."""
        proposed = applied_everywhere(self._grid(req.grid_key))
        by_account: dict[int, list[PeriodAmounts]] = defaultdict(list)
        for period in self._periods(req.period_keys):  # oldest first: a family's tranche is its latest one
            for acc_id, (tranche, old, new) in self.store.reprice_issued(period, req.lo, req.hi, proposed).items():
                by_account[acc_id].append(PeriodAmounts(tranche, old.lines_by_activity(), new.lines_by_activity()))
        totals = ImpactTotals()
        changes = [totals.add_family(by_account[acc]) for acc in sorted(by_account)]
        # sorted by amounts: the stored rows keep no trace of account order
        rows = sorted([c.tranche, c.old_cents, c.new_cents] for c in changes)
        self._put(changes_key(req.simulation_ref, req.lo, req.hi), json.dumps(rows).encode(), "application/json")
        return totals

    @defn(name=SimulationActivity.FINALISE)
    @_heartbeating
    def finalise_simulation(self, req: SimulationFinaliseRequest) -> SimulationReport:
        """Medians from the batches' changes, then the CSV, the one-page PDF chart and its SVG, in S3."""
        changes: list[FamilyChange] = []
        lo = 0
        for hi in req.bounds:
            changes.extend(
                FamilyChange(t, o, n) for t, o, n in json.loads(self._get(changes_key(req.simulation_ref, lo, hi)))
            )
            lo = hi
        medians = median_changes(changes)
        prefix = simulation_prefix(req.simulation_ref)
        title = f"Simulation tarifaire — grille « {req.grid_id} »"
        subtitle = "Périodes : " + ", ".join(
            period_from_key(k, self.settings.billing_period_months).label_fr for k in sorted(req.period_keys)
        )
        chart = impact_chart(req.totals, title, subtitle, pdf_fonts())
        keys = {
            "csv": f"{prefix}/rapport.csv",
            "pdf": f"{prefix}/rapport.pdf",
            "svg": f"{prefix}/graphique.svg",
            "summary": f"{prefix}/resume.json",
        }
        self._put(keys["csv"], report_csv(req.totals, medians), "text/csv; charset=utf-8")
        self._put(keys["pdf"], report_pdf(chart, req.totals, medians, title, subtitle), "application/pdf")
        self._put(keys["svg"], impact_svg(req.totals, title, subtitle), "image/svg+xml")
        summary = {
            "simulation_ref": req.simulation_ref,
            "period_keys": sorted(req.period_keys),
            "grid_id": req.grid_id,
            "families": req.totals.families,
            "changed": req.totals.changed,
            "old_total_cents": req.totals.old_total_cents,
            "new_total_cents": req.totals.new_total_cents,
        }
        self._put(keys["summary"], json.dumps(summary, sort_keys=True).encode(), "application/json")
        log.info("simulation.reported", simulation=req.simulation_ref, families=req.totals.families)
        return SimulationReport(medians, keys["csv"], keys["pdf"], keys["svg"], keys["summary"])
