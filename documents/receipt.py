"""Payment receipts ("reçu de paiement"): one page per payment received on an invoice."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from reportlab.lib.pagesizes import A4

from documents.drawing import BLUE, GREY, TINT, date_fr, winansi
from documents.layout import (
    COL_AMOUNT,
    LEFT,
    RIGHT,
    Pen,
    address_block,
    check_recipient,
    field_rows,
    new_canvas,
    page_footer,
    page_header,
)
from documents.pdf_fonts import BOLD, REGULAR
from domain.money import Cents, format_eur
from domain.payments import PaymentMethod

__all__ = ["PAYMENT_METHOD_LABELS_FR", "ReceiptDocument", "render_receipt"]

PAYMENT_METHOD_LABELS_FR: dict[PaymentMethod, str] = {
    PaymentMethod.CARD: "Carte bancaire",
    PaymentMethod.SEPA_DEBIT: "Prélèvement SEPA",
    PaymentMethod.CESU: "CESU (chèque emploi service universel)",
    PaymentMethod.CHEQUE: "Chèque",
    PaymentMethod.CASH_COUNTER: "Espèces (au guichet)",
    PaymentMethod.CREDIT_NOTE: "Avoir",
}


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
        check_recipient(self.payer_name, self.payer_address)
        if self.amount_cents <= 0:
            raise ValueError("a receipt is for a positive amount")
        if self.remaining_due_cents < 0 or self.credit_created_cents < 0:
            raise ValueError("remaining due and credit created must be non-negative")


def render_receipt(doc: ReceiptDocument) -> bytes:
    """Render a payment receipt ("reçu de paiement") as PDF bytes."""
    buf = io.BytesIO()
    number = winansi(doc.invoice_number)
    canvas = new_canvas(buf, f"Reçu de paiement {number} {date_fr(doc.paid_on)}", doc.paid_on)
    pen = Pen(canvas, A4[1])
    page_header(pen, "Reçu de paiement")
    pen.font(BOLD, 14, BLUE)
    pen.text(LEFT, 40, "Reçu de paiement")
    rows = [
        ("Facture n° :", number, True),
        ("Compte famille :", winansi(doc.account_ref), False),
        ("Date du paiement :", date_fr(doc.paid_on), False),
        ("Moyen de paiement :", PAYMENT_METHOD_LABELS_FR[doc.method], False),
    ]
    if doc.period_label:
        rows.insert(1, ("Période facturée :", winansi(doc.period_label), False))
    if doc.reference:
        rows.append(("Référence :", winansi(doc.reference), False))
    field_rows(pen, 48, rows, value_x=LEFT + 32)
    address_block(pen, doc.payer_name, doc.payer_address)

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
    page_footer(pen, f"Reçu de paiement — facture n° {number}", 1, 1)
    pen.end_page()
    canvas.save()
    return buf.getvalue()
