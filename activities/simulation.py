"""Tariff impact simulation activities: plan, re-price batches (dry run), then the CSV/PDF/SVG report in S3.

Batches return aggregates only; the anonymous per-family changes the medians need (tranche, old, new: no
id, no name) go to one small S3 object per batch, rewritten identically when a batch is retried.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from reportlab.graphics import renderPDF, renderSVG
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import func, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.billing import _heartbeating
from contracts.simulation import (
    SimulationActivity,
    SimulationBatchRequest,
    SimulationFinaliseRequest,
    SimulationPlan,
    SimulationPlanRequest,
    SimulationReport,
)
from documents.pdf_fonts import PdfFonts, pdf_fonts
from domain.money import format_eur
from domain.periods import BillingPeriod, period_from_key
from domain.simulation import (
    THRESHOLDS_PCT,
    FamilyChange,
    ImpactTotals,
    PeriodAmounts,
    ProposedGridError,
    TrancheMedian,
    applied_everywhere,
    current_grid,
    format_bp_fr,
    median_changes,
    percent_change_bp,
    validate_proposed_grid,
)
from domain.tariffs import NUM_TRANCHES, GridError, TariffGrid
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

    @activity.defn(name=SimulationActivity.PREPARE)
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

    @activity.defn(name=SimulationActivity.SIMULATE_BATCH)
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

    @activity.defn(name=SimulationActivity.FINALISE)
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
        svg = renderSVG.drawToString(impact_chart(req.totals, title, subtitle))
        self._put(keys["svg"], svg.encode(), "image/svg+xml")
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


def _euros_axis(value: float) -> str:
    # axis ticks are drawing coordinates (floats); the amounts printed elsewhere come from integer cents
    return f"{round(value / 100):,}".replace(",", "\u00a0") + "\u00a0€"


# The SVG names fonts the browser has (it embeds none); the PDF embeds its own (`pdf_fonts`).
SVG_FONTS = PdfFonts("Helvetica", "Helvetica-Bold")


def impact_chart(totals: ImpactTotals, title: str, subtitle: str, fonts: PdfFonts = SVG_FONTS) -> Drawing:
    """Old vs new billed amounts per tranche, as a grouped bar chart."""
    width, height = 250 * mm, 105 * mm
    d = Drawing(width, height)
    d.initialFontName = fonts.regular  # the renderer's starting font (else Helvetica, unembedded, in the PDF)
    d.add(String(0, height - 12, title, fontName=fonts.bold, fontSize=12, fillColor=NEW_COLOUR))
    d.add(String(0, height - 26, subtitle, fontName=fonts.regular, fontSize=9))
    chart = VerticalBarChart()
    chart.x, chart.y = 45, 30
    chart.width, chart.height = width - 170, height - 75
    chart.data = [list(totals.old_by_tranche), list(totals.new_by_tranche)]
    chart.categoryAxis.categoryNames = [f"T{i}" for i in range(1, NUM_TRANCHES + 1)]
    chart.categoryAxis.labels.fontName = fonts.regular
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labelTextFormat = _euros_axis
    chart.valueAxis.labels.fontName = fonts.regular
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = OLD_COLOUR
    chart.bars[1].fillColor = NEW_COLOUR
    chart.barSpacing = 1
    chart.groupSpacing = 6
    d.add(chart)
    legend = Legend()
    legend.x, legend.y = width - 115, height - 50
    legend.fontName = fonts.regular
    legend.fontSize = 8
    legend.colorNamePairs = [(OLD_COLOUR, "Grille en vigueur"), (NEW_COLOUR, "Grille proposée")]
    d.add(legend)
    d.add(String(0, 8, "Montants facturés par tranche de quotient familial", fontName=fonts.regular, fontSize=7))
    return d


def _pct(old: int, new: int) -> str:
    return format_bp_fr(percent_change_bp(old, new))


def report_csv(totals: ImpactTotals, medians: Sequence[TrancheMedian]) -> bytes:
    """The figures as one CSV (semicolons, UTF-8 with BOM for spreadsheets), amounts in integer cents."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(["section", "cle", "familles", "ancien_centimes", "nouveau_centimes", "ecart_centimes", "ecart"])
    for i in range(NUM_TRANCHES):
        old, new = totals.old_by_tranche[i], totals.new_by_tranche[i]
        w.writerow(["tranche", i + 1, totals.families_by_tranche[i], old, new, new - old, _pct(old, new)])
    for code in sorted(set(totals.old_by_activity) | set(totals.new_by_activity)):
        old, new = totals.old_by_activity.get(code, 0), totals.new_by_activity.get(code, 0)
        w.writerow(["activite", code, "", old, new, new - old, _pct(old, new)])
    old, new = totals.old_total_cents, totals.new_total_cents
    w.writerow(["total", "", totals.families, old, new, new - old, _pct(old, new)])
    w.writerow(["familles_changees", "", totals.changed, "", "", "", ""])
    for i, pct in enumerate(THRESHOLDS_PCT):
        w.writerow([f"hausse_plus_de_{pct}_pct", pct, totals.rises_over[i], "", "", "", ""])
        w.writerow([f"baisse_plus_de_{pct}_pct", pct, totals.falls_over[i], "", "", "", ""])
    for m in medians:
        w.writerow(
            ["mediane_tranche", m.tranche, m.families, "", "", m.median_change_cents, format_bp_fr(m.median_change_bp)]
        )
    for t in totals.top:
        w.writerow(
            [
                f"plus_grand_ecart_{t.rank}",
                f"T{t.tranche}",
                "",
                t.old_cents,
                t.new_cents,
                t.change_cents,
                _pct(t.old_cents, t.new_cents),
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode()


def report_pdf(
    chart: Drawing, totals: ImpactTotals, medians: Sequence[TrancheMedian], title: str, subtitle: str
) -> bytes:
    """One landscape page: the chart, then the key figures in three small columns."""
    buf = io.BytesIO()
    page_w, page_h = landscape(A4)
    fonts = pdf_fonts()
    c = Canvas(buf, pagesize=(page_w, page_h), invariant=1, initialFontName=fonts.regular)
    c.setTitle(title)
    margin = 15 * mm
    renderPDF.draw(chart, c, margin, page_h - margin - chart.height)
    top = page_h - margin - chart.height - 8 * mm
    old, new = totals.old_total_cents, totals.new_total_cents
    columns: list[tuple[str, list[str]]] = [
        (
            "Ensemble",
            [
                f"Familles : {totals.families} (dont {totals.changed} dont la facture change)",
                f"Facturé : {format_eur(old)}",
                f"Avec la grille proposée : {format_eur(new)}",
                f"Écart : {format_eur(new - old)} ({_pct(old, new)})",
            ]
            + [
                f"Hausse > {p} % : {totals.rises_over[i]} · baisse > {p} % : {totals.falls_over[i]}"
                for i, p in enumerate(THRESHOLDS_PCT)
            ],
        ),
        (
            "Écart médian par tranche",
            [
                f"T{m.tranche} ({m.families} fam.) : {format_eur(m.median_change_cents)}"
                f" ({format_bp_fr(m.median_change_bp)})"
                for m in medians
            ],
        ),
        (
            "Plus grands écarts (anonymisés)",
            [f"#{t.rank} T{t.tranche} : {format_eur(t.old_cents)} -> {format_eur(t.new_cents)}" for t in totals.top],
        ),
    ]
    col_w = (page_w - 2 * margin) / len(columns)
    for i, (heading, lines) in enumerate(columns):
        x, y = margin + i * col_w, top
        c.setFont(fonts.bold, 9)
        c.setFillColor(NEW_COLOUR)
        c.drawString(x, y, heading)
        c.setFont(fonts.regular, 7.5)
        c.setFillColor(colors.black)
        for line in lines:
            y -= 10
            c.drawString(x, y, line)
    c.setFont(fonts.regular, 6.5)
    c.drawString(margin, 8 * mm, f"{subtitle}. Simulation sans effet sur les factures émises ; familles anonymisées.")
    c.showPage()
    c.save()
    return buf.getvalue()
