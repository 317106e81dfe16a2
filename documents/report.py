"""Tabular reports (campaign results...): a title, lead lines, then per section a heading and a table.

platypus lays the tables out: they split over pages with a repeated header row. Same fonts (embedded DejaVu
subsets), colours and deterministic bytes as the invoices.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import CondPageBreak, LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle
from reportlab.platypus.flowables import Flowable

from documents.drawing import BLUE, GREY, INK, RULE, TINT, WHITE, seal, winansi
from documents.drawing import date_fr as _date_fr
from documents.pdf_fonts import BOLD, REGULAR, pdf_fonts

__all__ = ["render_report"]


def render_report(
    title: str,
    sections: list[tuple[str, list[list[str]]]],
    *,
    issue_date: date | None = None,
    lead: Sequence[str] = (),
) -> bytes:
    """Render a tabular report: a title, then per section a heading and a table (first row = header).

    ``issue_date`` is printed under the title and used as the PDF creation date when given; ``lead`` lines
    (what the report covers) follow it.
    """
    pdf_fonts()
    widest = max((len(rows[0]) for _, rows in sections if rows), default=1)
    pagesize = landscape(A4) if widest > 6 else A4
    margin = 15 * mm
    usable = pagesize[0] - 2 * margin
    title_text = winansi(title)

    def esc(text: str) -> str:
        return winansi(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    h1 = ParagraphStyle("h1", fontName=BOLD, fontSize=15, leading=19, textColor=BLUE, spaceAfter=4 * mm)
    h2 = ParagraphStyle(
        "h2", fontName=BOLD, fontSize=11, leading=14, textColor=BLUE, spaceBefore=5 * mm, spaceAfter=2 * mm
    )
    cell = ParagraphStyle("cell", fontName=REGULAR, fontSize=8, leading=10, textColor=INK)
    head = ParagraphStyle("head", parent=cell, fontName=BOLD, textColor=WHITE)
    muted = ParagraphStyle("muted", parent=cell, textColor=GREY)

    story: list[Flowable] = [Paragraph(esc(title), h1)]
    if issue_date is not None:
        story.append(Paragraph(f"Édité le {_date_fr(issue_date)}", muted))
    story += [Paragraph(esc(line), cell) for line in lead]
    for heading, rows in sections:
        # Not keepWithNext: it would push a long table whole to the next page; a heading only needs room
        # for the table's first rows.
        story.append(CondPageBreak(35 * mm))
        story.append(Paragraph(esc(heading), h2))
        if not rows:
            story.append(Paragraph("Aucune donnée.", muted))
            continue
        ncols = max(len(r) for r in rows)
        padded = [list(r) + [""] * (ncols - len(r)) for r in rows]
        # Column widths follow the longest text (capped) so short codes do not waste space.
        weights = [min(max(len(r[k]) for r in padded), 40) + 4 for k in range(ncols)]
        widths = [usable * w / sum(weights) for w in weights]
        data = [[Paragraph(esc(v), head) for v in padded[0]]]
        data += [[Paragraph(esc(v), cell) for v in r] for r in padded[1:]]
        if len(data) == 1:
            data.append([Paragraph("Aucune ligne.", muted)] + [Paragraph("", cell)] * (ncols - 1))
        table = LongTable(data, colWidths=widths, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), REGULAR),  # the default would add an unembedded Helvetica
                    ("BACKGROUND", (0, 0), (-1, 0), BLUE),
                    ("ROWBACKGROUNDS", (0, 1), (-1, -1), [WHITE, TINT]),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ]
            )
        )
        story.append(table)
        story.append(Spacer(1, 2 * mm))

    def decorate(canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(REGULAR, 7.5)
        canvas.setFillColor(GREY)
        canvas.drawString(margin, 10 * mm, f"Ville de Paris — {title_text}")
        canvas.drawRightString(pagesize[0] - margin, 10 * mm, f"Page {canvas.getPageNumber()}")
        canvas.restoreState()

    buf = io.BytesIO()
    template = SimpleDocTemplate(
        buf,
        pagesize=pagesize,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=18 * mm,
        title=title_text,
        author="Ville de Paris",
        creator="Ville de Paris",
        invariant=1,
        pageCompression=0,
    )
    template.build(
        story, onFirstPage=decorate, onLaterPages=decorate, canvasmaker=_report_canvas(title_text, issue_date)
    )
    return buf.getvalue()


def _report_canvas(title: str, issued: date | None) -> Callable[..., Canvas]:
    def make(*args: Any, **kwargs: Any) -> Canvas:
        canvas = Canvas(*args, **{**kwargs, "initialFontName": REGULAR})
        seal(canvas, title, issued)
        return canvas

    return make
