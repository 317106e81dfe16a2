"""An invoice's pages: rows grouped by child, pagination (a child's lines kept together), table and first page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from reportlab.lib.units import mm

from documents.drawing import BLUE, GREY, RULE, TINT, WHITE, date_fr, winansi
from documents.invoice_closing import TRESOR, closing_height, draw_closing, payment_block
from documents.invoice_document import DocLine, InvoiceDocument
from documents.layout import (
    BASELINE,
    BODY_BOTTOM,
    BODY_SIZE,
    COL_AMOUNT,
    COL_QTY,
    COL_UNIT,
    GROUP_H,
    HEAD_H,
    LABEL_W,
    LABEL_X,
    LEFT,
    LINE_H,
    RIGHT,
    TABLE_TOP_FIRST,
    TABLE_TOP_NEXT,
    TEXT_LINE,
    Pen,
    address_block,
    field_rows,
    page_footer,
    page_header,
    wrap,
)
from documents.pdf_fonts import BOLD, REGULAR
from domain.money import format_eur


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
            rows.append(_Row("group", GROUP_H, [winansi(current)]))
        text = wrap(winansi(line.label), REGULAR, BODY_SIZE, LABEL_W * mm)
        rows.append(_Row("line", LINE_H + (len(text) - 1) * TEXT_LINE, text, line))
    return rows


def _paginate(rows: list[_Row], closing_mm: float) -> list[_InvoicePage]:
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
    if top + 6 + closing_mm > BODY_BOTTOM:
        pages.append(_InvoicePage())
    pages[-1].closing = True
    return pages


def _table_head(pen: Pen, top: float) -> float:
    pen.box(LEFT, top, RIGHT - LEFT, HEAD_H, BLUE)
    pen.font(BOLD, 8.5, WHITE)
    baseline = top + 4.7
    pen.text(LABEL_X, baseline, "Activité")
    pen.text(COL_QTY, baseline, "Quantité", "right")
    pen.text(COL_UNIT, baseline, "Prix unitaire", "right")
    pen.text(COL_AMOUNT, baseline, "Montant", "right")
    return top + HEAD_H


def _table_rows(pen: Pen, rows: Iterable[_Row], top: float) -> float:
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


def _due_box(pen: Pen, doc: InvoiceDocument) -> None:
    """Amount due and deadline at a glance, left of the address window."""
    x1 = 100.0
    pen.box(LEFT, 80, x1 - LEFT, 13, TINT, BLUE)
    pen.font(BOLD, 10, BLUE)
    pen.text(LEFT + 3, 85.5, "Montant à payer")
    pen.font(BOLD, 13, BLUE)
    pen.text(x1 - 3, 85.8, format_eur(doc.amount_due_cents), "right")
    pen.font(REGULAR, 8.5)
    note = (
        f"à régler au plus tard le {date_fr(doc.due_date)}"
        if doc.amount_due_cents
        else "rien à payer : montant couvert par votre avoir"
    )
    pen.text(LEFT + 3, 90.5, note)


def draw_invoice(pen: Pen, doc: InvoiceDocument) -> int:
    """Draw and close every page of one invoice; return the page count."""
    payment = payment_block(doc)
    tresor = wrap(TRESOR, REGULAR, 7.8, (RIGHT - LEFT) * mm)
    pages = _paginate(_invoice_rows(doc), closing_height(payment, tresor))
    number = winansi(doc.number)
    footer = f"Facture n° {number} — compte famille {winansi(doc.account_ref)}"
    for index, page in enumerate(pages):
        if index:
            page_header(pen, "Facture des activités des enfants — suite")
            pen.font(BOLD, 11, BLUE)
            pen.text(LEFT, 35, f"Facture n° {number} (suite)")
            top = TABLE_TOP_NEXT
        else:
            page_header(
                pen,
                "Facture des activités périscolaires, de la restauration scolaire, des crèches et des conservatoires",
            )
            pen.font(BOLD, 14, BLUE)
            pen.text(LEFT, 40, f"Facture n° {number}")
            field_rows(
                pen,
                48,
                [
                    ("Période :", winansi(doc.period_label), False),
                    ("Date d'émission :", date_fr(doc.issue_date), False),
                    ("Date limite de paiement :", date_fr(doc.due_date), True),
                    ("Compte famille :", winansi(doc.account_ref), False),
                    ("Tranche de quotient familial :", str(doc.tranche), False),
                ],
                value_x=LEFT + 46,
            )
            _due_box(pen, doc)
            address_block(pen, doc.payer_name, doc.payer_address)
            top = TABLE_TOP_FIRST
        if page.rows:
            top = _table_head(pen, top)
            top = _table_rows(pen, page.rows, top)
        if page.closing:
            draw_closing(pen, doc, top, payment, tresor)
        page_footer(pen, footer, index + 1, len(pages))
        pen.end_page()
    return len(pages)
