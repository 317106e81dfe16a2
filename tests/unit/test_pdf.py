"""PDF documents: French content (read back with poppler's pdftotext), pagination, determinism."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from documents.attestation import AttestationChild, AttestationDocument, render_attestation
from documents.invoice import DocLine, InvoiceDocument, render_invoice, render_invoices, render_many, render_pool
from documents.layout import wrap
from documents.receipt import PAYMENT_METHOD_LABELS_FR, ReceiptDocument, render_receipt
from documents.report import render_report
from domain.money import NBSP, format_eur
from domain.payments import PaymentMethod

ROOT = Path(__file__).resolve().parents[2]
POPPLER_MISSING = (
    "{tool} not found: these tests read the PDFs back with poppler. "
    "Install the Debian package poppler-utils (apt-get install -y poppler-utils)."
)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(POPPLER_MISSING.format(tool=name), pytrace=False)
    return path


def text_of(pdf: bytes, tmp_path: Path, page: int | None = None) -> str:
    """Text of the PDF (or one page) in reading layout, whitespace runs collapsed to one space."""
    src = tmp_path / "doc.pdf"
    src.write_bytes(pdf)
    cmd = [_tool("pdftotext"), "-layout", "-enc", "UTF-8"]
    if page is not None:
        cmd += ["-f", str(page), "-l", str(page)]
    out = subprocess.run([*cmd, str(src), "-"], check=True, capture_output=True).stdout.decode()
    return re.sub(r"\s+", " ", out.replace(NBSP, " "))


def info_of(pdf: bytes, tmp_path: Path) -> dict[str, str]:
    src = tmp_path / "info.pdf"
    src.write_bytes(pdf)
    out = subprocess.run([_tool("pdfinfo"), "-isodates", str(src)], check=True, capture_output=True).stdout.decode()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def pages_of(pdf: bytes, tmp_path: Path) -> int:
    return int(info_of(pdf, tmp_path)["Pages"])


def eur(cents: int) -> str:
    """Amount as pdftotext reads it back (no-break spaces become spaces)."""
    return format_eur(cents).replace(NBSP, " ")


def make_invoice(n_lines: int = 4, number: str = "FF-2026-000123", **changes: Any) -> InvoiceDocument:
    """An invoice for three children with ``n_lines`` lines, 23,50 € recalled and 5,00 € of credit."""
    labels = (
        "Restauration scolaire (repas)",
        "Études surveillées",
        "Centre de loisirs — mercredi après-midi",
        "Goûter récréatif",
    )
    prices = (228, 340, 1150, 85)
    children = ("Léa", "Noé", "Chloé")
    lines = tuple(
        DocLine(
            child_first_name=children[i * len(children) // n_lines],
            label=labels[i % 4],
            quantity=2 + i % 5,
            unit_price_cents=prices[i % 4],
            amount_cents=(2 + i % 5) * prices[i % 4],
        )
        for i in range(n_lines)
    )
    total = sum(line.amount_cents for line in lines)
    doc = InvoiceDocument(
        number=number,
        account_ref="FAM-0042317",
        period_label="septembre–octobre 2026",
        issue_date=date(2026, 11, 5),
        due_date=date(2026, 12, 25),
        payer_name="Mme Élodie Lefèvre",
        payer_address="12 rue de la Présentation\nBâtiment B\n75011 Paris",
        tranche=4,
        lines=lines,
        lines_total_cents=total,
        previous_unpaid_cents=2350,
        credit_applied_cents=500,
        amount_due_cents=total + 2350 - 500,
        payment_url="https://facilfamilles.paris.fr/payer",
    )
    return replace(doc, **changes) if changes else doc


# --------------------------------------------------------------------------------------------- invoice


def test_invoice_is_a_pdf_and_deterministic() -> None:
    doc = make_invoice()
    first = render_invoice(doc)
    assert first.startswith(b"%PDF-")
    assert first.rstrip().endswith(b"%%EOF")
    assert render_invoice(make_invoice()) == first


def test_invoice_bytes_do_not_depend_on_the_process_or_environment() -> None:
    # A copy re-rendered later, in another worker, must equal the archived one.
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]);"
        "from test_pdf import make_invoice; from documents.invoice import render_invoice;"
        "sys.stdout.buffer.write(render_invoice(make_invoice()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "SOURCE_DATE_EPOCH": "1700000000", "TZ": "Asia/Tokyo"}
    other = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), str(Path(__file__).parent)],
        check=True,
        capture_output=True,
        env=env,
    ).stdout
    assert other == render_invoice(make_invoice())


def test_rendering_in_the_process_pool_gives_the_same_pdfs_in_order() -> None:
    docs = [make_invoice(n_lines=1 + n % 5, number=f"FF-2026-{n:06d}") for n in range(1, 121)]
    pool = render_pool(2)
    assert pool is not None and render_pool(2) is pool  # one pool per process
    assert render_invoices(docs, pool, chunk=25) == [render_invoice(d) for d in docs]
    assert render_pool(0) is None


def test_different_invoices_give_different_bytes() -> None:
    assert render_invoice(make_invoice()) != render_invoice(make_invoice(number="FF-2026-000124"))


def test_invoice_french_content(tmp_path: Path) -> None:
    doc = make_invoice()
    text = text_of(render_invoice(doc), tmp_path)
    for expected in (
        "Ville de Paris — Facil'familles",
        "Facture n° FF-2026-000123",
        "septembre–octobre 2026",
        "Date d'émission : 05/11/2026",
        "Date limite de paiement : 25/12/2026",
        "Compte famille : FAM-0042317",
        "Tranche de quotient familial : 4",
        "Mme Élodie Lefèvre",
        "12 rue de la Présentation",
        "Léa",
        "Noé",
        "Chloé",
        "Études surveillées",
        "Total de la période",
        "Solde antérieur impayé (rappel) 23,50 €",
        "Avoir déduit -5,00 €",
        "Montant à payer",
        "Comment payer",
        "Carte bancaire en ligne : sur https://facilfamilles.paris.fr/payer",
        "Prélèvement SEPA",
        "CESU",
        "Chèque ou espèces au guichet",
        "Trésor Public",
        "Page 1/1",
    ):
        assert expected in text, expected
    assert f"Total de la période {eur(doc.lines_total_cents)}" in text
    assert text.count(f"Montant à payer {eur(doc.amount_due_cents)}") == 2  # on top, and under the totals
    # line: quantity, unit price, amount
    assert "Restauration scolaire (repas) 2 2,28 € 4,56 €" in text


def test_invoice_amounts_use_french_format_with_no_break_spaces(tmp_path: Path) -> None:
    big = DocLine("Léa", "Crèche — forfait mensuel", 1, 123_456, 123_456)
    doc = make_invoice(lines=(big,), lines_total_cents=123_456, amount_due_cents=123_456 + 2350 - 500)
    pdf = render_invoice(doc)
    text = text_of(pdf, tmp_path)
    assert "Crèche — forfait mensuel 1 1 234,56 € 1 234,56 €" in text
    assert "Montant à payer 1 253,06 €" in text


def test_invoice_metadata(tmp_path: Path) -> None:
    info = info_of(render_invoice(make_invoice()), tmp_path)
    assert info["Title"] == "Facture FF-2026-000123"
    assert info["CreationDate"].startswith("2026-11-05")  # the issue date, not the clock
    assert info["Page size"].endswith("(A4)")
    assert info["Pages"] == "1"


def test_forty_line_invoice_paginates_with_repeated_header(tmp_path: Path) -> None:
    doc = make_invoice(40)
    pdf = render_invoice(doc)
    pages = pages_of(pdf, tmp_path)
    assert pages >= 2
    for page in range(1, pages + 1):
        text = text_of(pdf, tmp_path, page)
        assert f"Page {page}/{pages}" in text
        assert "Facture n° FF-2026-000123" in text
    tables = [text_of(pdf, tmp_path, p) for p in range(1, pages + 1)]
    with_rows = [t for t in tables if "Prix unitaire" in t]
    assert len(with_rows) >= 2, "the table header is repeated on the continuation page"
    assert "(suite)" in tables[1]
    # every line is printed once, and the totals come last
    whole = text_of(pdf, tmp_path)
    assert whole.count("Restauration scolaire (repas)") == 10
    assert whole.count("Études surveillées") == 10
    assert "Montant à payer" in tables[-1]
    assert "Comment payer" in tables[-1]
    assert "Comment payer" not in tables[0]


def test_long_labels_wrap_and_keep_every_word(tmp_path: Path) -> None:
    label = (
        "Atelier bleu : éveil musical et théâtre d'improvisation pour les enfants de l'école "
        "élémentaire Saint-Ambroise – prestations antérieures non facturées"
    )
    line = DocLine("Léa", label, 3, 1620, 4860)
    pdf = render_invoice(make_invoice(lines=(line,), lines_total_cents=4860, amount_due_cents=4860 + 1850))
    text = text_of(pdf, tmp_path)
    for word in ("éveil", "improvisation", "Saint-Ambroise", "antérieures", "facturées"):
        assert word in text
    assert "3 16,20 € 48,60 €" in text


def test_invoice_with_nothing_to_pay_says_so(tmp_path: Path) -> None:
    line = DocLine("Léa", "Goûter récréatif", 4, 85, 340)
    doc = make_invoice(
        lines=(line,), lines_total_cents=340, previous_unpaid_cents=0, credit_applied_cents=340, amount_due_cents=0
    )
    text = text_of(render_invoice(doc), tmp_path)
    assert "Montant à payer 0,00 €" in text
    assert "aucun paiement n'est à effectuer" in text
    assert "Comment payer" not in text


def test_invoice_without_lines_recalls_the_unpaid_balance(tmp_path: Path) -> None:
    doc = make_invoice(lines=(), lines_total_cents=0, amount_due_cents=1850)
    text = text_of(render_invoice(doc), tmp_path)
    assert "Aucune prestation facturée sur cette période." in text
    assert "Solde antérieur impayé (rappel) 23,50 €" in text
    assert "Montant à payer 18,50 €" in text


def test_cesu_share_is_printed_when_given(tmp_path: Path) -> None:
    text = text_of(render_invoice(make_invoice(cesu_eligible_cents=1840)), tmp_path)
    assert "18,40 € peuvent être réglés en CESU" in text


def test_text_outside_winansi_is_transliterated_not_boxed(tmp_path: Path) -> None:
    doc = make_invoice(payer_name="M. Łukasz Şahin", payer_address="3 ulica Żółta\u202f\n75011 Paris")
    pdf = render_invoice(doc)
    text = text_of(pdf, tmp_path)
    assert "M. Lukasz Sahin" in text
    assert "3 ulica Zólta" in text  # ó is in WinAnsi and stays
    assert b"ZapfDingbats" not in pdf  # reportlab's substitute for missing glyphs: black boxes


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lines_total_cents": 1}, "sum of the lines"),
        ({"amount_due_cents": 1}, "amount due"),
        ({"tranche": 11}, "tranche"),
        ({"due_date": date(2026, 11, 4)}, "due date"),
        ({"payer_name": " "}, "name"),
        ({"payer_address": "1\n2\n3\n4\n5\n6"}, "address"),
    ],
)
def test_inconsistent_invoice_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_invoice(**changes)


def test_line_amount_must_be_quantity_times_unit_price() -> None:
    with pytest.raises(ValueError, match="×"):
        DocLine("Léa", "Repas", 3, 228, 685)


# ------------------------------------------------------------------------------------------ print batch


def test_render_many_has_every_page_in_order(tmp_path: Path) -> None:
    docs = [make_invoice(number=f"FF-2026-{n:06d}") for n in (7, 8, 9)]
    pdf = render_many(docs)
    assert pages_of(pdf, tmp_path) == 3
    assert pdf.count(b"/Type /Page\n") == 3
    for page, doc in enumerate(docs, start=1):
        assert f"Facture n° {doc.number}" in text_of(pdf, tmp_path, page)
    assert render_many(docs) == pdf


def test_render_many_keeps_multi_page_invoices_whole(tmp_path: Path) -> None:
    long = make_invoice(40, number="FF-2026-000001")
    long_pages = pages_of(render_invoice(long), tmp_path)
    short = make_invoice(number="FF-2026-000002")
    pdf = render_many([long, short, short])
    assert pages_of(pdf, tmp_path) == long_pages + 2
    assert "FF-2026-000002" in text_of(pdf, tmp_path, long_pages + 1)
    assert "Page 1/1" in text_of(pdf, tmp_path, long_pages + 1)


def test_render_many_duplex_starts_each_invoice_on_a_new_sheet(tmp_path: Path) -> None:
    docs = [make_invoice(number=f"FF-2026-{n:06d}") for n in (1, 2)]
    pdf = render_many(docs, duplex=True)
    assert pages_of(pdf, tmp_path) == 4
    assert "FF-2026-000002" in text_of(pdf, tmp_path, 3)
    assert text_of(pdf, tmp_path, 2).strip() == ""


def test_render_many_refuses_an_empty_batch() -> None:
    with pytest.raises(ValueError):
        render_many([])


# ----------------------------------------------------------------------------------------------- receipt


def make_receipt(**changes: Any) -> ReceiptDocument:
    doc = ReceiptDocument(
        invoice_number="FF-2026-000123",
        account_ref="FAM-0042317",
        payer_name="Mme Élodie Lefèvre",
        payer_address="12 rue de la Présentation\n75011 Paris",
        paid_on=date(2026, 12, 3),
        amount_cents=10_000,
        method=PaymentMethod.CHEQUE,
        remaining_due_cents=1_852,
        reference="Chèque n° 0001234",
        period_label="septembre–octobre 2026",
    )
    return replace(doc, **changes) if changes else doc


def test_receipt_content(tmp_path: Path) -> None:
    pdf = render_receipt(make_receipt())
    assert pdf.startswith(b"%PDF-") and render_receipt(make_receipt()) == pdf
    text = text_of(pdf, tmp_path)
    for expected in (
        "Reçu de paiement",
        "Facture n° : FF-2026-000123",
        "Date du paiement : 03/12/2026",
        "Moyen de paiement : Chèque",
        "Référence : Chèque n° 0001234",
        "Montant reçu 100,00 €",
        "Reste à payer sur cette facture 18,52 €",
    ):
        assert expected in text, expected


@pytest.mark.parametrize("method", list(PaymentMethod))
def test_receipt_names_every_payment_method_in_french(method: PaymentMethod, tmp_path: Path) -> None:
    text = text_of(render_receipt(make_receipt(method=method)), tmp_path)
    assert f"Moyen de paiement : {PAYMENT_METHOD_LABELS_FR[method]}" in text


def test_receipt_labels_are_the_expected_french_words() -> None:
    assert PAYMENT_METHOD_LABELS_FR[PaymentMethod.CARD] == "Carte bancaire"
    assert PAYMENT_METHOD_LABELS_FR[PaymentMethod.SEPA_DEBIT] == "Prélèvement SEPA"
    assert PAYMENT_METHOD_LABELS_FR[PaymentMethod.CESU].startswith("CESU")
    assert PAYMENT_METHOD_LABELS_FR[PaymentMethod.CASH_COUNTER].startswith("Espèces")


def test_receipt_of_a_settled_invoice_with_overpayment(tmp_path: Path) -> None:
    doc = make_receipt(method=PaymentMethod.CARD, remaining_due_cents=0, credit_created_cents=1_500)
    text = text_of(render_receipt(doc), tmp_path)
    assert "trop-perçu mis au crédit de votre compte 15,00 €" in text
    assert "Reste à payer sur cette facture 0,00 €" in text
    assert "entièrement réglée" in text


# ------------------------------------------------------------------------------------------- attestation


def make_attestation(**changes: Any) -> AttestationDocument:
    doc = AttestationDocument(
        account_ref="FAM-0042317",
        year=2026,
        payer_name="Mme Élodie Lefèvre",
        payer_address="12 rue de la Présentation\n75011 Paris",
        children=(
            AttestationChild("Léa", date(2021, 3, 14), 184_250),
            ("Noé", date(2023, 9, 2), 96_000),
        ),
        total_cents=280_250,
        issue_date=date(2027, 1, 15),
    )
    return replace(doc, **changes) if changes else doc


def test_attestation_content(tmp_path: Path) -> None:
    pdf = render_attestation(make_attestation())
    assert pdf.startswith(b"%PDF-") and render_attestation(make_attestation()) == pdf
    text = text_of(pdf, tmp_path)
    for expected in (
        "Attestation de frais de garde — année 2026",
        "moins de 6 ans au 1er janvier 2026",
        "Léa 14/03/2021 1 842,50 €",
        "Noé 02/09/2023 960,00 €",
        "Total payé 2 802,50 €",
        "article 200 quater B du code général des impôts",
        "Fait à Paris, le 15/01/2027",
    ):
        assert expected in text, expected


def test_attestation_refuses_a_child_aged_six_on_first_january() -> None:
    with pytest.raises(ValueError, match="under 6"):
        make_attestation(children=(("Jules", date(2019, 12, 31), 1000),), total_cents=1000)
    ok = make_attestation(children=(("Jules", date(2020, 1, 1), 1000),), total_cents=1000)
    assert ok.children[0][0] == "Jules"


def test_attestation_total_must_match() -> None:
    with pytest.raises(ValueError, match="total"):
        make_attestation(total_cents=1)


# ------------------------------------------------------------------------------------------------ report


def test_report_sections_and_escaping(tmp_path: Path) -> None:
    sections = [
        ("Bibliothèques", [["Site", "Score", "Décision"], ["Médiathèque <Canopée> & co", "92 %", "Labellisé"]]),
        ("Piscines", [["Site", "Score"]]),
        ("Parcs", []),
    ]
    pdf = render_report("Campagne QualiParis 2026 — résultats", sections, issue_date=date(2026, 6, 30))
    assert render_report("Campagne QualiParis 2026 — résultats", sections, issue_date=date(2026, 6, 30)) == pdf
    text = text_of(pdf, tmp_path)
    for expected in (
        "Campagne QualiParis 2026 — résultats",
        "Édité le 30/06/2026",
        "Bibliothèques",
        "Site Score Décision",
        "Médiathèque <Canopée> & co 92 % Labellisé",
        "Piscines",
        "Aucune ligne.",
        "Parcs",
        "Aucune donnée.",
    ):
        assert expected in text, expected
    assert info_of(pdf, tmp_path)["CreationDate"].startswith("2026-06-30")


def test_report_paginates_with_repeated_header(tmp_path: Path) -> None:
    rows = [["Site", "Arrondissement", "Score"]] + [[f"Site n° {i}", f"{i % 20 + 1}e", f"{i} %"] for i in range(150)]
    pdf = render_report("Audit", [("Tous les sites", rows)])
    pages = pages_of(pdf, tmp_path)
    assert pages >= 3
    for page in range(1, pages + 1):
        assert "Site Arrondissement Score" in text_of(pdf, tmp_path, page)
    assert "Site n° 149" in text_of(pdf, tmp_path, pages)


def test_report_with_many_columns_is_landscape(tmp_path: Path) -> None:
    header = [f"Critère {k}" for k in range(9)]
    info = info_of(render_report("Grille", [("Détail", [header, ["x"] * 9])]), tmp_path)
    assert info["Page size"].startswith("841.89 x 595.276")


# ---------------------------------------------------------------------------------------------- wrapping


def test_wrap_keeps_no_break_spaces_and_cuts_overlong_words() -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    amount = f"1{NBSP}234,56{NBSP}€"
    lines = wrap(f"total {amount} " + "x" * 200, "Helvetica", 9, 100)
    assert all(stringWidth(line, "Helvetica", 9) <= 100 for line in lines)
    assert any(amount in line for line in lines)
    assert "".join(lines).count("x") == 200
    assert wrap("court", "Helvetica", 9, 100) == ("court",)


def test_attestation_lists_every_child_on_one_page(tmp_path: Path) -> None:
    children = tuple((f"Enfant {k}", date(2022, 1, 1 + k), 100 * k) for k in range(1, 13))
    pdf = render_attestation(make_attestation(children=children, total_cents=sum(c[2] for c in children)))
    text = text_of(pdf, tmp_path)
    assert pages_of(pdf, tmp_path) == 1
    assert "Enfant 12 13/01/2022 12,00 €" in text
    with pytest.raises(ValueError, match="children"):
        make_attestation(children=(*children, ("Treize", date(2022, 2, 1), 0)), total_cents=7800)


def test_one_line_address_puts_postcode_and_town_on_their_own_line(tmp_path: Path) -> None:
    doc = make_invoice(payer_address="1 place de l'Hôtel de Ville, 75004 Paris")
    src = tmp_path / "a.pdf"
    src.write_bytes(render_invoice(doc))
    out = subprocess.run(
        [_tool("pdftotext"), "-layout", str(src), "-"], check=True, capture_output=True
    ).stdout.decode()
    lines = [line.strip() for line in out.splitlines()]
    assert any(line.endswith("1 place de l'Hôtel de Ville") for line in lines)
    assert any(line.endswith("75004 Paris") and "Hôtel" not in line for line in lines)


def test_invoice_for_e_mail_only_family_needs_no_postal_address(tmp_path: Path) -> None:
    pdf = render_invoice(make_invoice(payer_address=""))
    assert "Mme Élodie Lefèvre" in text_of(pdf, tmp_path)
