"""Page layout every letter-like PDF shares (invoice, receipt, attestation): pen, canvas, header, footer, address.

Every document embeds a subset of DejaVu Sans (``documents.pdf_fonts``): an unembedded standard font is
replaced by each viewer's own, with other metrics, and labels ran into values. Labels and values are drawn
at positions computed from the embedded font's widths. Text outside WinAnsi is transliterated (``Ł`` ->
``L``) as before, so names print the same on every document. Output is byte-for-byte deterministic for the
same input and reportlab version (whatever the clock, SOURCE_DATE_EPOCH or hash seed), so a copy
re-rendered on demand equals the archived one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Literal

from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from documents.drawing import BLUE, GREY, INK, RULE, seal, winansi
from documents.pdf_fonts import BOLD, REGULAR, pdf_fonts

ISSUER = "Ville de Paris — Facil'familles"


# Postal norm (NF Z10-011): at most 6 lines with the recipient's name; more would not show in the window.
MAX_ADDRESS_LINES = 5


def check_recipient(name: str, address: str) -> None:
    if not name.strip():
        raise ValueError("payer name is empty")
    # An empty address is allowed: documents sent by e-mail only.
    lines = address_lines(address)
    if len(lines) > MAX_ADDRESS_LINES:
        raise ValueError(f"payer address takes {len(lines)} lines in the window, at most {MAX_ADDRESS_LINES}")


_POSTCODE_BREAK = re.compile(r",\s*(?=[0-9]{5}\b)")


def address_lines(address: str) -> list[str]:
    """Address as printed in the window: postcode and town on their own line, long lines wrapped."""
    lines: list[str] = []
    for raw in address.splitlines():
        for part in _POSTCODE_BREAK.split(raw):
            part = winansi(part.strip())
            if part:
                lines.extend(wrap(part, REGULAR, ADDRESS_SIZE, WINDOW_W * mm))
    return lines


@lru_cache(maxsize=4096)
def wrap(text: str, font: str, size: float, width: float, first_width: float | None = None) -> tuple[str, ...]:
    """Split on ordinary spaces only (no-break spaces in amounts hold); cut words wider than a line.

    ``first_width`` narrows the first line (text following an inline heading). Cached: labels and the
    fixed paragraphs repeat on every invoice of a batch.
    """
    pdf_fonts()  # metrics of the embedded fonts (documents measure their address before any canvas exists)
    space = stringWidth(" ", font, size)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        room = first_width if first_width is not None and not lines else width
        if stringWidth(paragraph, font, size) <= room:
            lines.append(paragraph)
            continue
        current: list[str] = []
        used = 0.0
        for word in paragraph.split(" "):
            room = first_width if first_width is not None and not lines else width
            w = stringWidth(word, font, size)
            if current and used + space + w <= room:
                current.append(word)
                used += space + w
                continue
            if current:
                lines.append(" ".join(current))
                room = width
            while w > room and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and stringWidth(word[:cut], font, size) > room:
                    cut -= 1
                lines.append(word[:cut])
                word, room = word[cut:], width
                w = stringWidth(word, font, size)
            current, used = [word], w
        lines.append(" ".join(current))
    return tuple(lines)


Align = Literal["left", "right", "centre"]


class Pen:
    """Canvas wrapper in millimetres from the top-left corner.

    Shapes go straight to the canvas; text is gathered in one text object per page, drawn over the shapes
    when the page ends (one BT/ET block per page rather than per string: about 20 % faster).
    """

    def __init__(self, canvas: Canvas, page_height: float) -> None:
        pdf_fonts()
        self.c = canvas
        self.h = page_height
        self._t = canvas.beginText()
        self._font: tuple[str, float] = (REGULAR, 10.0)
        self._text_font: tuple[str, float] | None = None
        self._text_fill: Color | None = None
        self._shape_fill: Color | None = None

    def font(self, name: str, size: float, color: Color = INK) -> None:
        self._font = (name, size)
        if self._text_font != self._font:
            self._t.setFont(name, size)
            self._text_font = self._font
        if self._text_fill is not color:
            self._t.setFillColor(color)
            self._text_fill = color

    def width(self, s: str) -> float:
        """Width of ``s`` in the current font, in millimetres."""
        return float(stringWidth(s, *self._font)) / mm

    def text(self, x: float, top: float, s: str, align: Align = "left") -> None:
        x_pt = x * mm
        if align != "left":
            w = stringWidth(s, *self._font)
            x_pt -= w if align == "right" else w / 2
        self._t.setTextOrigin(x_pt, self.h - top * mm)
        self._t.textOut(s)

    def rule(self, x0: float, x1: float, top: float, color: Color = RULE, width: float = 0.5) -> None:
        self.c.setStrokeColor(color)
        self.c.setLineWidth(width)
        self.c.line(x0 * mm, self.h - top * mm, x1 * mm, self.h - top * mm)

    def box(self, x: float, top: float, w: float, h: float, fill: Color, stroke: Color | None = None) -> None:
        if self._shape_fill is not fill:
            self.c.setFillColor(fill)
            self._shape_fill = fill
        if stroke is not None:
            self.c.setStrokeColor(stroke)
            self.c.setLineWidth(0.8)
        self.c.rect(x * mm, self.h - (top + h) * mm, w * mm, h * mm, stroke=int(stroke is not None), fill=1)

    def end_page(self) -> None:
        """Draw the page's text and close the page."""
        self.c.drawText(self._t)
        self.c.showPage()
        self._t = self.c.beginText()
        self._text_font = None  # a new text object starts from the page's default state
        self._text_fill = None
        self._shape_fill = None


def new_canvas(buf: io.BytesIO, title: str, issued: date) -> Canvas:
    pdf_fonts()
    # initialFontName: the page preamble selects a font too; the default would add an unembedded Helvetica.
    canvas = Canvas(buf, pagesize=A4, invariant=1, pageCompression=0, initialFontName=REGULAR)
    seal(canvas, title, issued)
    canvas.setTitle(title)
    canvas.setAuthor(ISSUER)
    canvas.setCreator(ISSUER)
    canvas.setSubject(title)
    return canvas


# ---------------------------------------------------------------------------------------------------------
# Page geometry (millimetres from the top-left corner of an A4 portrait page)
# ---------------------------------------------------------------------------------------------------------

PAGE_W, PAGE_H = 210.0, 297.0
LEFT, RIGHT = 18.0, 192.0
WINDOW_X, WINDOW_TOP, WINDOW_W = 112.0, 50.0, 85.0  # French window envelope (DL, window on the right)
ADDRESS_SIZE = 10.0
FOOTER_TOP = 283.0
BODY_BOTTOM = 272.0

COL_QTY, COL_UNIT, COL_AMOUNT = 136.0, 163.0, RIGHT - 2
LABEL_X, LABEL_W = LEFT + 2, 100.0
TABLE_TOP_FIRST, TABLE_TOP_NEXT = 101.0, 40.0
HEAD_H, GROUP_H, LINE_H, TEXT_LINE, BASELINE = 7.0, 7.0, 6.0, 3.9, 4.1
BODY_SIZE = 9.0


def page_header(pen: Pen, subtitle: str) -> None:
    pen.box(LEFT, 12, 2.2, 12, BLUE)
    pen.font(BOLD, 15, BLUE)
    pen.text(LEFT + 5, 17.5, ISSUER)
    pen.font(REGULAR, 8.5, GREY)
    pen.text(LEFT + 5, 23, subtitle)
    pen.rule(LEFT, RIGHT, 28, BLUE, 0.8)


def page_footer(pen: Pen, left: str, page: int, pages: int) -> None:
    pen.rule(LEFT, RIGHT, FOOTER_TOP - 4)
    pen.font(REGULAR, 7.5, GREY)
    pen.text(LEFT, FOOTER_TOP, left)
    pen.text(RIGHT, FOOTER_TOP, f"Page {page}/{pages}", "right")


def address_block(pen: Pen, name: str, address: str) -> None:
    pen.font(BOLD, 10.5)
    top = WINDOW_TOP
    for line in wrap(winansi(name), BOLD, 10.5, WINDOW_W * mm)[:2]:
        pen.text(WINDOW_X, top, line)
        top += 4.8
    pen.font(REGULAR, ADDRESS_SIZE)
    for line in address_lines(address):
        pen.text(WINDOW_X, top, line)
        top += 4.6


FIELD_LABEL_SIZE, FIELD_SIZE, FIELD_GAP = 8.5, 9.5, 2.5


def field_rows(pen: Pen, top: float, rows: Sequence[tuple[str, str, bool]], value_x: float) -> float:
    """Labels, then values in a column right of the widest label (measured in the embedded font).

    ``value_x`` is the column's leftmost position; values wrap before the address window.
    """
    value_x = max(value_x, LEFT + max(stringWidth(label, REGULAR, FIELD_LABEL_SIZE) for label, _, _ in rows) / mm)
    value_x += FIELD_GAP
    room = (WINDOW_X - 2 - value_x) * mm
    for label, value, strong in rows:
        pen.font(REGULAR, FIELD_LABEL_SIZE, GREY)
        pen.text(LEFT, top, label)
        font = BOLD if strong else REGULAR
        pen.font(font, FIELD_SIZE)
        lines = wrap(value, font, FIELD_SIZE, room)
        for k, line in enumerate(lines):
            pen.text(value_x, top + k * 4.2, line)
        top += 5.6 + (len(lines) - 1) * 4.2
    return top
