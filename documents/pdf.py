"""French PDF documents (invoices, receipts, childcare attestations, reports): pure, in-memory rendering.

Every document embeds a subset of DejaVu Sans (``documents.pdf_fonts``): an unembedded standard font is
replaced by each viewer's own, with other metrics, and labels ran into values. Labels and values are drawn
at positions computed from the embedded font's widths. Text outside WinAnsi is transliterated (``Ł`` ->
``L``) as before, so names print the same on every document. Output is byte-for-byte deterministic for the
same input and reportlab version (whatever the clock, SOURCE_DATE_EPOCH or hash seed), so a copy
re-rendered on demand equals the archived one.
"""

from __future__ import annotations

import io
import multiprocessing
import re
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Literal, NamedTuple

from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from documents.drawing import BLUE, GREY, INK, RULE, TINT, WHITE
from documents.drawing import date_fr as _date_fr
from documents.drawing import seal as _seal
from documents.drawing import winansi as _winansi
from documents.pdf_fonts import BOLD, REGULAR, pdf_fonts
from documents.report import render_report
from domain.money import Cents, format_eur
from domain.payments import PaymentMethod
from domain.tariffs import NUM_TRANCHES

__all__ = [
    "PAYMENT_METHOD_LABELS_FR",
    "AttestationChild",
    "AttestationDocument",
    "DocLine",
    "InvoiceDocument",
    "ReceiptDocument",
    "render_attestation",
    "render_invoice",
    "render_many",
    "render_receipt",
    "render_report",
]

ISSUER = "Ville de Paris — Facil'familles"
PAYMENT_METHOD_LABELS_FR: dict[PaymentMethod, str] = {
    PaymentMethod.CARD: "Carte bancaire",
    PaymentMethod.SEPA_DEBIT: "Prélèvement SEPA",
    PaymentMethod.CESU: "CESU (chèque emploi service universel)",
    PaymentMethod.CHEQUE: "Chèque",
    PaymentMethod.CASH_COUNTER: "Espèces (au guichet)",
    PaymentMethod.CREDIT_NOTE: "Avoir",
}
# Childcare tax credit (art. 200 quater B CGI): children under 6 on 1 January of the income year.
CHILDCARE_MAX_AGE = 6
MAX_ATTESTATION_CHILDREN = 12


# ---------------------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------------------


# Postal norm (NF Z10-011): at most 6 lines with the recipient's name; more would not show in the window.
MAX_ADDRESS_LINES = 5


def _check_recipient(name: str, address: str) -> None:
    if not name.strip():
        raise ValueError("payer name is empty")
    # An empty address is allowed: documents sent by e-mail only.
    lines = _address_lines(address)
    if len(lines) > MAX_ADDRESS_LINES:
        raise ValueError(f"payer address takes {len(lines)} lines in the window, at most {MAX_ADDRESS_LINES}")


@dataclass(frozen=True, slots=True)
class DocLine:
    """One printed invoice line; ``amount = quantity × unit price`` is checked."""

    child_first_name: str
    label: str
    quantity: int
    unit_price_cents: Cents
    amount_cents: Cents

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise ValueError(f"quantity must be non-negative, got {self.quantity}")
        if self.amount_cents != self.quantity * self.unit_price_cents:
            raise ValueError(f"line {self.label!r}: {self.quantity} × {self.unit_price_cents} != {self.amount_cents}")


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    """Everything printed on one family invoice (immutable, so it can be re-rendered identically)."""

    number: str
    account_ref: str
    period_label: str
    issue_date: date
    due_date: date
    payer_name: str
    payer_address: str  # lines separated by "\n"
    tranche: int
    lines: tuple[DocLine, ...]
    lines_total_cents: Cents
    previous_unpaid_cents: Cents
    credit_applied_cents: Cents
    amount_due_cents: Cents
    payment_url: str
    # Share payable by CESU (childcare activities); printed in the payment block when positive.
    cesu_eligible_cents: Cents = 0

    def __post_init__(self) -> None:
        _check_recipient(self.payer_name, self.payer_address)
        if not 1 <= self.tranche <= NUM_TRANCHES:
            raise ValueError(f"tranche must be 1..{NUM_TRANCHES}, got {self.tranche}")
        if self.due_date < self.issue_date:
            raise ValueError("due date is before the issue date")
        if min(self.previous_unpaid_cents, self.credit_applied_cents, self.cesu_eligible_cents) < 0:
            raise ValueError("previous unpaid, credit applied and CESU share must be non-negative")
        if self.lines_total_cents != sum(line.amount_cents for line in self.lines):
            raise ValueError("lines_total_cents is not the sum of the lines")
        expected = self.lines_total_cents + self.previous_unpaid_cents - self.credit_applied_cents
        if self.amount_due_cents != expected or self.amount_due_cents < 0:
            raise ValueError(
                f"amount due {self.amount_due_cents} != total + previous unpaid - credit = {expected}, or < 0"
            )


@dataclass(frozen=True, slots=True)
class ReceiptDocument:
    """A payment receipt for one invoice; ``credit_created_cents`` is an overpayment kept as credit."""

    invoice_number: str
    account_ref: str
    payer_name: str
    payer_address: str
    paid_on: date
    amount_cents: Cents
    method: PaymentMethod
    remaining_due_cents: Cents
    reference: str = ""  # payment reference (card transaction, cheque number, counter receipt)
    period_label: str = ""
    credit_created_cents: Cents = 0

    def __post_init__(self) -> None:
        _check_recipient(self.payer_name, self.payer_address)
        if self.amount_cents <= 0:
            raise ValueError("a receipt is for a positive amount")
        if self.remaining_due_cents < 0 or self.credit_created_cents < 0:
            raise ValueError("remaining due and credit created must be non-negative")


class AttestationChild(NamedTuple):
    """One child on the childcare attestation (a plain ``(name, birth date, cents)`` tuple works too)."""

    first_name: str
    birth_date: date
    childcare_paid_cents: Cents


@dataclass(frozen=True, slots=True)
class AttestationDocument:
    """Yearly childcare-costs statement for income tax: amounts paid in ``year`` for children under 6."""

    account_ref: str
    year: int
    payer_name: str
    payer_address: str
    children: tuple[tuple[str, date, Cents], ...]
    total_cents: Cents
    issue_date: date

    def __post_init__(self) -> None:
        _check_recipient(self.payer_name, self.payer_address)
        if not 1 <= len(self.children) <= MAX_ATTESTATION_CHILDREN:
            raise ValueError(f"an attestation lists 1..{MAX_ATTESTATION_CHILDREN} children (one page)")
        born_from = date(self.year - CHILDCARE_MAX_AGE, 1, 1)
        for name, birth, paid in self.children:
            if birth < born_from:
                raise ValueError(f"{name!r} was not under {CHILDCARE_MAX_AGE} on 01/01/{self.year}")
            if paid < 0:
                raise ValueError("amounts paid must be non-negative")
        if self.total_cents != sum(paid for _, _, paid in self.children):
            raise ValueError("total_cents is not the sum of the children's amounts")
        if self.issue_date.year <= self.year:
            raise ValueError("the attestation for a year is issued after that year")


# ---------------------------------------------------------------------------------------------------------
# Text helpers (WinAnsi text and French dates: documents.drawing)
# ---------------------------------------------------------------------------------------------------------


_POSTCODE_BREAK = re.compile(r",\s*(?=[0-9]{5}\b)")


def _address_lines(address: str) -> list[str]:
    """Address as printed in the window: postcode and town on their own line, long lines wrapped."""
    lines: list[str] = []
    for raw in address.splitlines():
        for part in _POSTCODE_BREAK.split(raw):
            part = _winansi(part.strip())
            if part:
                lines.extend(_wrap(part, REGULAR, ADDRESS_SIZE, WINDOW_W * mm))
    return lines


@lru_cache(maxsize=4096)
def _wrap(text: str, font: str, size: float, width: float, first_width: float | None = None) -> tuple[str, ...]:
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


class _Pen:
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


def _new_canvas(buf: io.BytesIO, title: str, issued: date) -> Canvas:
    pdf_fonts()
    # initialFontName: the page preamble selects a font too; the default would add an unembedded Helvetica.
    canvas = Canvas(buf, pagesize=A4, invariant=1, pageCompression=0, initialFontName=REGULAR)
    _seal(canvas, title, issued)
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


def _header(pen: _Pen, subtitle: str) -> None:
    pen.box(LEFT, 12, 2.2, 12, BLUE)
    pen.font(BOLD, 15, BLUE)
    pen.text(LEFT + 5, 17.5, ISSUER)
    pen.font(REGULAR, 8.5, GREY)
    pen.text(LEFT + 5, 23, subtitle)
    pen.rule(LEFT, RIGHT, 28, BLUE, 0.8)


def _footer(pen: _Pen, left: str, page: int, pages: int) -> None:
    pen.rule(LEFT, RIGHT, FOOTER_TOP - 4)
    pen.font(REGULAR, 7.5, GREY)
    pen.text(LEFT, FOOTER_TOP, left)
    pen.text(RIGHT, FOOTER_TOP, f"Page {page}/{pages}", "right")


def _address_block(pen: _Pen, name: str, address: str) -> None:
    pen.font(BOLD, 10.5)
    top = WINDOW_TOP
    for line in _wrap(_winansi(name), BOLD, 10.5, WINDOW_W * mm)[:2]:
        pen.text(WINDOW_X, top, line)
        top += 4.8
    pen.font(REGULAR, ADDRESS_SIZE)
    for line in _address_lines(address):
        pen.text(WINDOW_X, top, line)
        top += 4.6


FIELD_LABEL_SIZE, FIELD_SIZE, FIELD_GAP = 8.5, 9.5, 2.5


def _fields(pen: _Pen, top: float, rows: Sequence[tuple[str, str, bool]], value_x: float) -> float:
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
        lines = _wrap(value, font, FIELD_SIZE, room)
        for k, line in enumerate(lines):
            pen.text(value_x, top + k * 4.2, line)
        top += 5.6 + (len(lines) - 1) * 4.2
    return top


# ---------------------------------------------------------------------------------------------------------
# Invoice
# ---------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    kind: Literal["group", "line", "empty"]
    height: float
    text: Sequence[str]
    line: DocLine | None = None


@dataclass(slots=True)
class _InvoicePage:
    rows: list[_Row] = field(default_factory=list)
    closing: bool = False


def _invoice_rows(doc: InvoiceDocument) -> list[_Row]:
    if not doc.lines:
        return [_Row("empty", LINE_H, ["Aucune prestation facturée sur cette période."])]
    rows: list[_Row] = []
    current: str | None = None
    for line in doc.lines:
        if line.child_first_name != current:
            current = line.child_first_name
            rows.append(_Row("group", GROUP_H, [_winansi(current)]))
        text = _wrap(_winansi(line.label), REGULAR, BODY_SIZE, LABEL_W * mm)
        rows.append(_Row("line", LINE_H + (len(text) - 1) * TEXT_LINE, text, line))
    return rows


def _payment_block(doc: InvoiceDocument) -> list[tuple[str, tuple[str, ...]]]:
    """(bullet heading, wrapped lines) for "Comment payer"; empty when nothing is due."""
    if doc.amount_due_cents == 0:
        return []
    due = _date_fr(doc.due_date)
    cesu = (
        f" Sur cette facture, {format_eur(doc.cesu_eligible_cents)} peuvent être réglés en CESU."
        if doc.cesu_eligible_cents
        else ""
    )
    items = [
        ("Carte bancaire en ligne", f"sur {_winansi(doc.payment_url)} jusqu'au {due}."),
        (
            "Prélèvement SEPA",
            "si vous avez signé un mandat de prélèvement, le montant est prélevé automatiquement à la date "
            "limite de paiement ; vous pouvez en demander un sur votre espace Facil'familles.",
        ),
        (
            "CESU",
            "chèques emploi service universel (préfinancés) acceptés pour les activités de garde "
            f"d'enfants éligibles (crèches, centres de loisirs, goûters).{cesu}",
        ),
        (
            "Chèque ou espèces au guichet",
            f"au guichet Facil'familles, en présentant cette facture (n° {_winansi(doc.number)}).",
        ),
    ]
    width = (RIGHT - LEFT - 4) * mm
    return [(head, _wrap(body, REGULAR, 8.5, width, width - _lead_width(head))) for head, body in items]


def _lead_width(head: str) -> float:
    """Width (points) of a bold "heading :" and the space before its text, in the embedded fonts."""
    return float(stringWidth(f"{head} :", BOLD, 8.5) + stringWidth(" ", REGULAR, 8.5))


_TRESOR = (
    "Après la seconde date limite, les sommes restant impayées sont transmises au Trésor Public "
    "(Direction générale des Finances publiques) pour recouvrement : la facture ne peut alors plus être "
    "payée en ligne ni au guichet Facil'familles."
)


def _closing_height(payment: list[tuple[str, tuple[str, ...]]], tresor: Sequence[str]) -> float:
    """Height drawn by ``_closing`` (same steps), so pagination keeps the block whole."""
    totals = 5 + 3 * 6.0 + 16
    if not payment:
        return totals + 2
    return totals + 6.5 + sum(len(lines) * 3.8 + 1.2 for _, lines in payment) + 2 + len(tresor) * 3.6


def _paginate(rows: list[_Row], closing_height: float) -> list[_InvoicePage]:
    pages = [_InvoicePage()]
    top = TABLE_TOP_FIRST + HEAD_H
    i = 0
    while i < len(rows):
        row = rows[i]
        # A child's heading never ends a page: keep it with its first line.
        need = row.height + (rows[i + 1].height if row.kind == "group" and i + 1 < len(rows) else 0)
        if top + need > BODY_BOTTOM and pages[-1].rows:
            pages.append(_InvoicePage())
            top = TABLE_TOP_NEXT + HEAD_H
            if row.kind == "line":
                # Repeat the child's name at the top of the continued group.
                group = next(r for r in reversed(rows[:i]) if r.kind == "group")
                cont = _Row("group", GROUP_H, [f"{group.text[0]} (suite)"])
                pages[-1].rows.append(cont)
                top += cont.height
        pages[-1].rows.append(row)
        top += row.height
        i += 1
    if top + 6 + closing_height > BODY_BOTTOM:
        pages.append(_InvoicePage())
    pages[-1].closing = True
    return pages


def _table_head(pen: _Pen, top: float) -> float:
    pen.box(LEFT, top, RIGHT - LEFT, HEAD_H, BLUE)
    pen.font(BOLD, 8.5, WHITE)
    baseline = top + 4.7
    pen.text(LABEL_X, baseline, "Activité")
    pen.text(COL_QTY, baseline, "Quantité", "right")
    pen.text(COL_UNIT, baseline, "Prix unitaire", "right")
    pen.text(COL_AMOUNT, baseline, "Montant", "right")
    return top + HEAD_H


def _table_rows(pen: _Pen, rows: Iterable[_Row], top: float) -> float:
    for row in rows:
        if row.kind == "group":
            pen.box(LEFT, top + 0.6, RIGHT - LEFT, GROUP_H - 1.2, TINT)
            pen.font(BOLD, 9.5, BLUE)
            pen.text(LABEL_X, top + 4.8, row.text[0])
        elif row.kind == "empty":
            pen.font(REGULAR, BODY_SIZE, GREY)
            pen.text(LABEL_X, top + BASELINE, row.text[0])
        else:
            line = row.line
            assert line is not None
            pen.font(REGULAR, BODY_SIZE)
            baseline = top + BASELINE
            for k, text in enumerate(row.text):
                pen.text(LABEL_X + 3, baseline + k * TEXT_LINE, text)
            pen.text(COL_QTY, baseline, str(line.quantity), "right")
            pen.text(COL_UNIT, baseline, format_eur(line.unit_price_cents), "right")
            pen.text(COL_AMOUNT, baseline, format_eur(line.amount_cents), "right")
            pen.rule(LEFT, RIGHT, top + row.height, RULE, 0.3)
        top += row.height
    return top


def _closing(
    pen: _Pen,
    doc: InvoiceDocument,
    top: float,
    payment: list[tuple[str, tuple[str, ...]]],
    tresor: Sequence[str],
) -> None:
    x0, label_x = 104.0, 106.0
    totals = [
        ("Total de la période", format_eur(doc.lines_total_cents)),
        ("Solde antérieur impayé (rappel)", format_eur(doc.previous_unpaid_cents)),
        ("Avoir déduit", format_eur(-doc.credit_applied_cents)),
    ]
    top += 5
    for label, value in totals:
        pen.font(REGULAR, 9.5)
        pen.text(label_x, top, label)
        pen.text(COL_AMOUNT, top, value, "right")
        top += 6
    pen.box(x0, top - 3.6, RIGHT - x0, 9, TINT, BLUE)
    pen.font(BOLD, 11, BLUE)
    pen.text(label_x, top + 2.4, "Montant à payer")
    pen.text(COL_AMOUNT, top + 2.4, format_eur(doc.amount_due_cents), "right")
    pen.font(REGULAR, 8, GREY)
    note = f"avant le {_date_fr(doc.due_date)}" if doc.amount_due_cents else "rien à payer"
    pen.text(label_x, top + 9.5, note)
    top += 16
    if not payment:
        pen.font(REGULAR, 9)
        pen.text(LEFT, top, "Montant entièrement couvert par votre avoir : aucun paiement n'est à effectuer.")
        return
    pen.font(BOLD, 10.5, BLUE)
    pen.text(LEFT, top, "Comment payer")
    pen.rule(LEFT, RIGHT, top + 1.6, BLUE, 0.6)
    top += 6.5
    for head, lines in payment:
        pen.font(BOLD, 8.5, BLUE)
        pen.text(LEFT, top, "•")
        pen.font(BOLD, 8.5)
        pen.text(LEFT + 4, top, f"{head} :")
        indent = _lead_width(head) / mm
        pen.font(REGULAR, 8.5)
        for k, line in enumerate(lines):
            pen.text(LEFT + 4 + (indent if k == 0 else 0), top + k * 3.8, line)
        top += len(lines) * 3.8 + 1.2
    top += 2
    pen.font(REGULAR, 7.8, GREY)
    for k, line in enumerate(tresor):
        pen.text(LEFT, top + k * 3.6, line)


def _due_box(pen: _Pen, doc: InvoiceDocument) -> None:
    """Amount due and deadline at a glance, left of the address window."""
    x1 = 100.0
    pen.box(LEFT, 80, x1 - LEFT, 13, TINT, BLUE)
    pen.font(BOLD, 10, BLUE)
    pen.text(LEFT + 3, 85.5, "Montant à payer")
    pen.font(BOLD, 13, BLUE)
    pen.text(x1 - 3, 85.8, format_eur(doc.amount_due_cents), "right")
    pen.font(REGULAR, 8.5)
    note = (
        f"à régler au plus tard le {_date_fr(doc.due_date)}"
        if doc.amount_due_cents
        else "rien à payer : montant couvert par votre avoir"
    )
    pen.text(LEFT + 3, 90.5, note)


def _draw_invoice(pen: _Pen, doc: InvoiceDocument) -> int:
    """Draw and close every page of one invoice; return the page count."""
    payment = _payment_block(doc)
    tresor = _wrap(_TRESOR, REGULAR, 7.8, (RIGHT - LEFT) * mm)
    pages = _paginate(_invoice_rows(doc), _closing_height(payment, tresor))
    number = _winansi(doc.number)
    footer = f"Facture n° {number} — compte famille {_winansi(doc.account_ref)}"
    for index, page in enumerate(pages):
        if index:
            _header(pen, "Facture des activités des enfants — suite")
            pen.font(BOLD, 11, BLUE)
            pen.text(LEFT, 35, f"Facture n° {number} (suite)")
            top = TABLE_TOP_NEXT
        else:
            _header(
                pen,
                "Facture des activités périscolaires, de la restauration scolaire, des crèches et des conservatoires",
            )
            pen.font(BOLD, 14, BLUE)
            pen.text(LEFT, 40, f"Facture n° {number}")
            _fields(
                pen,
                48,
                [
                    ("Période :", _winansi(doc.period_label), False),
                    ("Date d'émission :", _date_fr(doc.issue_date), False),
                    ("Date limite de paiement :", _date_fr(doc.due_date), True),
                    ("Compte famille :", _winansi(doc.account_ref), False),
                    ("Tranche de quotient familial :", str(doc.tranche), False),
                ],
                value_x=LEFT + 46,
            )
            _due_box(pen, doc)
            _address_block(pen, doc.payer_name, doc.payer_address)
            top = TABLE_TOP_FIRST
        if page.rows:
            top = _table_head(pen, top)
            top = _table_rows(pen, page.rows, top)
        if page.closing:
            _closing(pen, doc, top, payment, tresor)
        _footer(pen, footer, index + 1, len(pages))
        pen.end_page()
    return len(pages)


def render_invoice(doc: InvoiceDocument) -> bytes:
    """Render one invoice as PDF bytes (A4, French; extra pages repeat the table header)."""
    buf = io.BytesIO()
    canvas = _new_canvas(buf, f"Facture {doc.number}", doc.issue_date)
    _draw_invoice(_Pen(canvas, A4[1]), doc)
    canvas.save()
    return buf.getvalue()


def render_invoices(docs: Sequence[InvoiceDocument], pool: Executor | None = None, chunk: int = 50) -> list[bytes]:
    """One PDF per invoice, in order; rendered by chunks in `pool` (worker processes) when one is given."""
    if pool is None or len(docs) <= chunk:
        return [render_invoice(doc) for doc in docs]
    chunks = [docs[i : i + chunk] for i in range(0, len(docs), chunk)]
    return [pdf for rendered in pool.map(_render_chunk, chunks) for pdf in rendered]


def _render_chunk(docs: Sequence[InvoiceDocument]) -> list[bytes]:
    return [render_invoice(doc) for doc in docs]


_pool_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def render_pool(processes: int) -> Executor | None:
    """This process's rendering pool, started on first use; None when `processes` < 1 (render in the caller).

    Rendering is CPU-bound Python (reportlab): in worker processes it leaves the activity threads' GIL.
    Spawned, not forked, because the worker process runs threads (forking them is unsafe).
    """
    global _pool
    if processes < 1:
        return None
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
        return _pool


def render_many(docs: Sequence[InvoiceDocument], *, duplex: bool = False) -> bytes:
    """Render a print batch: every invoice in order in one PDF; ``duplex`` pads each to an even page count."""
    if not docs:
        raise ValueError("nothing to render")
    buf = io.BytesIO()
    title = f"Factures Facil'familles {docs[0].number} à {docs[-1].number} ({len(docs)})"
    canvas = _new_canvas(buf, title, max(d.issue_date for d in docs))
    pen = _Pen(canvas, A4[1])
    for doc in docs:
        if _draw_invoice(pen, doc) % 2 and duplex:
            pen.end_page()  # blank back so the next invoice starts on a fresh sheet
    canvas.save()
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Receipt and attestation
# ---------------------------------------------------------------------------------------------------------


def render_receipt(doc: ReceiptDocument) -> bytes:
    """Render a payment receipt ("reçu de paiement") as PDF bytes."""
    buf = io.BytesIO()
    number = _winansi(doc.invoice_number)
    canvas = _new_canvas(buf, f"Reçu de paiement {number} {_date_fr(doc.paid_on)}", doc.paid_on)
    pen = _Pen(canvas, A4[1])
    _header(pen, "Reçu de paiement")
    pen.font(BOLD, 14, BLUE)
    pen.text(LEFT, 40, "Reçu de paiement")
    rows = [
        ("Facture n° :", number, True),
        ("Compte famille :", _winansi(doc.account_ref), False),
        ("Date du paiement :", _date_fr(doc.paid_on), False),
        ("Moyen de paiement :", PAYMENT_METHOD_LABELS_FR[doc.method], False),
    ]
    if doc.period_label:
        rows.insert(1, ("Période facturée :", _winansi(doc.period_label), False))
    if doc.reference:
        rows.append(("Référence :", _winansi(doc.reference), False))
    _fields(pen, 48, rows, value_x=LEFT + 32)
    _address_block(pen, doc.payer_name, doc.payer_address)

    top, x0, label_x = 102.0, LEFT, LEFT + 3
    lines = [("Montant reçu", format_eur(doc.amount_cents))]
    if doc.credit_created_cents:
        lines.append(("dont trop-perçu mis au crédit de votre compte", format_eur(doc.credit_created_cents)))
    pen.box(x0, top, RIGHT - x0, 9, TINT, BLUE)
    pen.font(BOLD, 11, BLUE)
    pen.text(label_x, top + 6, lines[0][0])
    pen.text(COL_AMOUNT, top + 6, lines[0][1], "right")
    top += 15
    pen.font(REGULAR, 9.5)
    for label, value in lines[1:]:
        pen.text(label_x, top, label)
        pen.text(COL_AMOUNT, top, value, "right")
        top += 6
    pen.font(BOLD, 10)
    pen.text(label_x, top, "Reste à payer sur cette facture")
    pen.text(COL_AMOUNT, top, format_eur(doc.remaining_due_cents), "right")
    pen.rule(LEFT, RIGHT, top + 2.5)
    top += 10
    pen.font(REGULAR, 9)
    message = (
        "Votre facture est entièrement réglée. Merci."
        if doc.remaining_due_cents == 0
        else "Le reste à payer peut être réglé jusqu'à la date limite indiquée sur la facture."
    )
    pen.text(LEFT, top, message)
    pen.font(REGULAR, 8, GREY)
    pen.text(LEFT, top + 8, "Ce reçu atteste la réception du paiement ; conservez-le avec votre facture.")
    _footer(pen, f"Reçu de paiement — facture n° {number}", 1, 1)
    pen.end_page()
    canvas.save()
    return buf.getvalue()


def render_attestation(doc: AttestationDocument) -> bytes:
    """Render the yearly childcare-costs attestation (for the income-tax childcare credit) as PDF bytes."""
    buf = io.BytesIO()
    account = _winansi(doc.account_ref)
    canvas = _new_canvas(buf, f"Attestation de frais de garde {doc.year} {account}", doc.issue_date)
    pen = _Pen(canvas, A4[1])
    _header(pen, "Attestation fiscale annuelle")
    pen.font(BOLD, 14, BLUE)
    pen.text(LEFT, 40, f"Attestation de frais de garde — année {doc.year}")
    _fields(
        pen,
        48,
        [("Compte famille :", account, False), ("Date d'émission :", _date_fr(doc.issue_date), False)],
        value_x=LEFT + 32,
    )
    _address_block(pen, doc.payer_name, doc.payer_address)

    width = (RIGHT - LEFT) * mm
    intro = (
        f"La Ville de Paris atteste que {_winansi(doc.payer_name)}, titulaire du compte Facil'familles "
        f"{account}, a payé au cours de l'année {doc.year} les sommes suivantes au titre de la garde de ses "
        f"enfants âgés de moins de {CHILDCARE_MAX_AGE}\u00a0ans au 1er\u00a0janvier\u00a0{doc.year} :"
    )
    top = 100.0
    pen.font(REGULAR, 9.5)
    for line in _wrap(intro, REGULAR, 9.5, width):
        pen.text(LEFT, top, line)
        top += 4.6
    top += 3
    pen.box(LEFT, top, RIGHT - LEFT, HEAD_H, BLUE)
    pen.font(BOLD, 8.5, WHITE)
    pen.text(LABEL_X, top + 4.7, "Enfant")
    pen.text(110, top + 4.7, "Date de naissance")
    pen.text(COL_AMOUNT, top + 4.7, f"Montant payé en {doc.year}", "right")
    top += HEAD_H
    for name, birth, paid in doc.children:
        pen.font(REGULAR, 9.5)
        pen.text(LABEL_X, top + 4.2, _winansi(name))
        pen.text(110, top + 4.2, _date_fr(birth))
        pen.text(COL_AMOUNT, top + 4.2, format_eur(paid), "right")
        pen.rule(LEFT, RIGHT, top + LINE_H + 0.4, RULE, 0.3)
        top += LINE_H + 0.4
    top += 3
    pen.box(104, top, RIGHT - 104, 9, TINT, BLUE)
    pen.font(BOLD, 11, BLUE)
    pen.text(106, top + 6, "Total payé")
    pen.text(COL_AMOUNT, top + 6, format_eur(doc.total_cents), "right")
    top += 18
    notes = [
        "Cette attestation est délivrée pour bénéficier du crédit d'impôt pour frais de garde des jeunes "
        "enfants (article 200 quater B du code général des impôts). Les montants indiqués sont ceux "
        f"effectivement payés entre le 01/01/{doc.year} et le 31/12/{doc.year}.",
        "Conservez ce document : il peut vous être demandé par l'administration fiscale.",
    ]
    pen.font(REGULAR, 8.5)
    for note in notes:
        for line in _wrap(note, REGULAR, 8.5, width):
            pen.text(LEFT, top, line)
            top += 4
        top += 2
    top += 6
    pen.font(REGULAR, 9.5)
    pen.text(WINDOW_X, top, f"Fait à Paris, le {_date_fr(doc.issue_date)}")
    pen.font(BOLD, 9.5)
    pen.text(WINDOW_X, top + 5.5, "Pour la Ville de Paris,")
    pen.font(REGULAR, 9.5)
    pen.text(WINDOW_X, top + 10.5, "le service Facil'familles")
    _footer(pen, f"Attestation de frais de garde {doc.year} — compte famille {account}", 1, 1)
    pen.end_page()
    canvas.save()
    return buf.getvalue()
