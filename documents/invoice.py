"""Family invoices: the document, its pagination (a child's lines kept together), single and batch rendering."""

from __future__ import annotations

import io
import multiprocessing
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from documents.drawing import BLUE, GREY, RULE, TINT, WHITE, date_fr, winansi
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
    check_recipient,
    field_rows,
    new_canvas,
    page_footer,
    page_header,
    wrap,
)
from documents.pdf_fonts import BOLD, REGULAR
from domain.money import Cents, format_eur
from domain.tariffs import NUM_TRANCHES

__all__ = ["DocLine", "InvoiceDocument", "render_invoice", "render_invoices", "render_many", "render_pool"]


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
        check_recipient(self.payer_name, self.payer_address)
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
            rows.append(_Row("group", GROUP_H, [winansi(current)]))
        text = wrap(winansi(line.label), REGULAR, BODY_SIZE, LABEL_W * mm)
        rows.append(_Row("line", LINE_H + (len(text) - 1) * TEXT_LINE, text, line))
    return rows


def _payment_block(doc: InvoiceDocument) -> list[tuple[str, tuple[str, ...]]]:
    """(bullet heading, wrapped lines) for "Comment payer"; empty when nothing is due."""
    if doc.amount_due_cents == 0:
        return []
    due = date_fr(doc.due_date)
    cesu = (
        f" Sur cette facture, {format_eur(doc.cesu_eligible_cents)} peuvent être réglés en CESU."
        if doc.cesu_eligible_cents
        else ""
    )
    items = [
        ("Carte bancaire en ligne", f"sur {winansi(doc.payment_url)} jusqu'au {due}."),
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
            f"au guichet Facil'familles, en présentant cette facture (n° {winansi(doc.number)}).",
        ),
    ]
    width = (RIGHT - LEFT - 4) * mm
    return [(head, wrap(body, REGULAR, 8.5, width, width - _lead_width(head))) for head, body in items]


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


def _closing(
    pen: Pen,
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
    note = f"avant le {date_fr(doc.due_date)}" if doc.amount_due_cents else "rien à payer"
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


def _draw_invoice(pen: Pen, doc: InvoiceDocument) -> int:
    """Draw and close every page of one invoice; return the page count."""
    payment = _payment_block(doc)
    tresor = wrap(_TRESOR, REGULAR, 7.8, (RIGHT - LEFT) * mm)
    pages = _paginate(_invoice_rows(doc), _closing_height(payment, tresor))
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
            _closing(pen, doc, top, payment, tresor)
        page_footer(pen, footer, index + 1, len(pages))
        pen.end_page()
    return len(pages)


def render_invoice(doc: InvoiceDocument) -> bytes:
    """Render one invoice as PDF bytes (A4, French; extra pages repeat the table header)."""
    buf = io.BytesIO()
    canvas = new_canvas(buf, f"Facture {doc.number}", doc.issue_date)
    _draw_invoice(Pen(canvas, A4[1]), doc)
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
    canvas = new_canvas(buf, title, max(d.issue_date for d in docs))
    pen = Pen(canvas, A4[1])
    for doc in docs:
        if _draw_invoice(pen, doc) % 2 and duplex:
            pen.end_page()  # blank back so the next invoice starts on a fresh sheet
    canvas.save()
    return buf.getvalue()
