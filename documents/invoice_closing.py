"""The closing block of an invoice: totals, amount due, how to pay, and the Trésor Public notice."""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from documents.drawing import BLUE, GREY, TINT, date_fr, winansi
from documents.invoice_document import InvoiceDocument
from documents.layout import COL_AMOUNT, LEFT, RIGHT, Pen, wrap
from documents.pdf_fonts import BOLD, REGULAR
from domain.money import format_eur


def payment_block(doc: InvoiceDocument) -> list[tuple[str, tuple[str, ...]]]:
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
    return [(head, wrap(body, REGULAR, 8.5, width, width - lead_width(head))) for head, body in items]


def lead_width(head: str) -> float:
    """Width (points) of a bold "heading :" and the space before its text, in the embedded fonts."""
    return float(stringWidth(f"{head} :", BOLD, 8.5) + stringWidth(" ", REGULAR, 8.5))


TRESOR = (
    "Après la seconde date limite, les sommes restant impayées sont transmises au Trésor Public "
    "(Direction générale des Finances publiques) pour recouvrement : la facture ne peut alors plus être "
    "payée en ligne ni au guichet Facil'familles."
)


def closing_height(payment: list[tuple[str, tuple[str, ...]]], tresor: Sequence[str]) -> float:
    """Height drawn by ``draw_closing`` (same steps), so pagination keeps the block whole."""
    totals = 5 + 3 * 6.0 + 16
    if not payment:
        return totals + 2
    return totals + 6.5 + sum(len(lines) * 3.8 + 1.2 for _, lines in payment) + 2 + len(tresor) * 3.6


def draw_closing(
    pen: Pen,
    doc: InvoiceDocument,
    top: float,
    payment: list[tuple[str, tuple[str, ...]]],
    tresor: Sequence[str],
) -> None:
    """Totals, amount due, "Comment payer" and the Trésor Public notice, from `top` (mm) down."""
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
        indent = lead_width(head) / mm
        pen.font(REGULAR, 8.5)
        for k, line in enumerate(lines):
            pen.text(LEFT + 4 + (indent if k == 0 else 0), top + k * 3.8, line)
        top += len(lines) * 3.8 + 1.2
    top += 2
    pen.font(REGULAR, 7.8, GREY)
    for k, line in enumerate(tresor):
        pen.text(LEFT, top + k * 3.6, line)
