"""The tariff simulation's report: old vs new amounts per tranche as a bar chart (PDF page and SVG), figures as CSV.

Pure: the totals and medians in, bytes out; the PDF embeds the fonts of `documents.pdf_fonts` and has the
deterministic bytes of every other document (`documents.drawing.seal`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from reportlab.graphics import renderPDF, renderSVG
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from documents.drawing import seal
from documents.pdf_fonts import PdfFonts, pdf_fonts
from domain.money import format_eur
from domain.simulation import THRESHOLDS_PCT, ImpactTotals, TrancheMedian, format_bp_fr, percent_change_bp
from domain.tariffs import NUM_TRANCHES

__all__ = ["impact_chart", "impact_svg", "report_csv", "report_pdf"]

OLD_COLOUR = colors.HexColor("#7f8c9a")
NEW_COLOUR = colors.HexColor("#0b5fa5")


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


def impact_svg(totals: ImpactTotals, title: str, subtitle: str) -> bytes:
    """The chart as SVG, for the simulation page (fonts the browser has)."""
    return renderSVG.drawToString(impact_chart(totals, title, subtitle)).encode()


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
    c = Canvas(buf, pagesize=(page_w, page_h), invariant=1, pageCompression=0, initialFontName=fonts.regular)
    seal(c, title, None)
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
