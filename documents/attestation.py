"""Yearly childcare-costs attestation for the income-tax childcare credit (art. 200 quater B CGI)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from documents.drawing import BLUE, RULE, TINT, WHITE, date_fr, winansi
from documents.layout import (
    COL_AMOUNT,
    HEAD_H,
    LABEL_X,
    LEFT,
    LINE_H,
    RIGHT,
    WINDOW_X,
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

__all__ = ["CHILDCARE_MAX_AGE", "AttestationChild", "AttestationDocument", "render_attestation"]

# Childcare tax credit (art. 200 quater B CGI): children under 6 on 1 January of the income year.
CHILDCARE_MAX_AGE = 6
MAX_ATTESTATION_CHILDREN = 12


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
        check_recipient(self.payer_name, self.payer_address)
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


def render_attestation(doc: AttestationDocument) -> bytes:
    """Render the yearly childcare-costs attestation (for the income-tax childcare credit) as PDF bytes."""
    buf = io.BytesIO()
    account = winansi(doc.account_ref)
    canvas = new_canvas(buf, f"Attestation de frais de garde {doc.year} {account}", doc.issue_date)
    pen = Pen(canvas, A4[1])
    page_header(pen, "Attestation fiscale annuelle")
    pen.font(BOLD, 14, BLUE)
    pen.text(LEFT, 40, f"Attestation de frais de garde — année {doc.year}")
    field_rows(
        pen,
        48,
        [("Compte famille :", account, False), ("Date d'émission :", date_fr(doc.issue_date), False)],
        value_x=LEFT + 32,
    )
    address_block(pen, doc.payer_name, doc.payer_address)

    width = (RIGHT - LEFT) * mm
    intro = (
        f"La Ville de Paris atteste que {winansi(doc.payer_name)}, titulaire du compte Facil'familles "
        f"{account}, a payé au cours de l'année {doc.year} les sommes suivantes au titre de la garde de ses "
        f"enfants âgés de moins de {CHILDCARE_MAX_AGE}\u00a0ans au 1er\u00a0janvier\u00a0{doc.year} :"
    )
    top = 100.0
    pen.font(REGULAR, 9.5)
    for line in wrap(intro, REGULAR, 9.5, width):
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
        pen.text(LABEL_X, top + 4.2, winansi(name))
        pen.text(110, top + 4.2, date_fr(birth))
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
        for line in wrap(note, REGULAR, 8.5, width):
            pen.text(LEFT, top, line)
            top += 4
        top += 2
    top += 6
    pen.font(REGULAR, 9.5)
    pen.text(WINDOW_X, top, f"Fait à Paris, le {date_fr(doc.issue_date)}")
    pen.font(BOLD, 9.5)
    pen.text(WINDOW_X, top + 5.5, "Pour la Ville de Paris,")
    pen.font(REGULAR, 9.5)
    pen.text(WINDOW_X, top + 10.5, "le service Facil'familles")
    page_footer(pen, f"Attestation de frais de garde {doc.year} — compte famille {account}", 1, 1)
    pen.end_page()
    canvas.save()
    return buf.getvalue()
