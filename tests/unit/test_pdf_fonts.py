"""Every PDF the project renders embeds its fonts (subsets of DejaVu Sans), read back with poppler's pdffonts."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest

from documents.attestation import render_attestation
from documents.audit_report import CampaignReportData, ReportSite, campaign_report_pdf
from documents.invoice import render_invoice, render_invoices, render_pool
from documents.pdf_fonts import BOLD, REGULAR, FontMissingError, font_files, pdf_fonts
from documents.receipt import render_receipt
from documents.simulation_report import impact_chart, report_pdf
from domain.audit.referentiel import bundled_referentiel
from domain.payments import PaymentMethod
from domain.simulation import ImpactTotals
from tests.unit.test_pdf import _tool, make_attestation, make_invoice, make_receipt, text_of


def fonts_of(pdf: bytes, tmp_path: Path) -> list[dict[str, str]]:
    """pdffonts' table: one dict per font (name, type, emb, sub, uni)."""
    src = tmp_path / "fonts.pdf"
    src.write_bytes(pdf)
    out = subprocess.run([_tool("pdffonts"), str(src)], check=True, capture_output=True).stdout.decode()
    rows = []
    for line in out.splitlines()[2:]:  # header and dashes
        # name, type (may hold a space: "Type 1", "CID TrueType"), encoding, emb, sub, uni, object, generation
        parts = line.split()
        rows.append({"name": parts[0], "type": " ".join(parts[1:-6]), "emb": parts[-5], "sub": parts[-4]})
    return rows


def assert_embedded(pdf: bytes, tmp_path: Path) -> list[dict[str, str]]:
    fonts = fonts_of(pdf, tmp_path)
    assert fonts, "no font at all"
    for font in fonts:
        assert font["emb"] == "yes" and font["sub"] == "yes", font
        assert "Type 1" not in font["type"], font  # a standard font (Helvetica...) is never embedded here
        assert font["name"].split("+")[-1] in (REGULAR, BOLD), font
    return fonts


def campaign_report() -> CampaignReportData:
    return CampaignReportData(
        name="Crèches de l'Est — été 2026",
        window_start=date(2026, 6, 1),
        window_end=date(2026, 7, 31),
        referentiel_version="v1",
        label_threshold_permille=850,
        type_labels={st.code: st.label for st in bundled_referentiel().site_types},
        sites=(ReportSite("CR-0011", "Crèche Émile-Zola", "creche", 11, (), None, None),),
    )


def test_invoice_embeds_subset_fonts_and_its_text_extracts(tmp_path: Path) -> None:
    doc = make_invoice(tranche=6)
    pdf = render_invoice(doc)
    names = {f["name"].split("+")[-1] for f in assert_embedded(pdf, tmp_path)}
    assert names == {REGULAR, BOLD}
    text = text_of(pdf, tmp_path)
    assert "Facture n° FF-2026-000123" in text
    assert "Date limite de paiement : 25/12/2026" in text
    assert "Tranche de quotient familial : 6" in text  # label and value apart, as drawn
    assert "Montant à payer 83,51 €" in text
    assert "Carte bancaire en ligne : sur https://facilfamilles.paris.fr/payer jusqu'au 25/12/2026." in text


def test_receipt_and_yearly_statement_embed_subset_fonts(tmp_path: Path) -> None:
    receipt = render_receipt(make_receipt(method=PaymentMethod.CESU))
    assert_embedded(receipt, tmp_path)
    assert "Moyen de paiement : CESU (chèque emploi service universel)" in text_of(receipt, tmp_path)
    statement = render_attestation(make_attestation())
    assert_embedded(statement, tmp_path)
    assert "Attestation de frais de garde" in text_of(statement, tmp_path)


def test_campaign_report_embeds_subset_fonts(tmp_path: Path) -> None:
    pdf = campaign_report_pdf(campaign_report())
    assert_embedded(pdf, tmp_path)
    text = text_of(pdf, tmp_path)
    assert "Rapport de campagne QualiParis — Crèches de l'Est — été 2026" in text
    assert "Crèche Émile-Zola" in text


def test_simulation_report_embeds_subset_fonts(tmp_path: Path) -> None:
    totals = ImpactTotals(families=3, changed=2)
    totals.old_by_tranche[0], totals.new_by_tranche[0] = 120_000, 126_000
    title, subtitle = "Simulation tarifaire — grille « 2027 »", "Périodes : septembre–octobre 2026"
    pdf = report_pdf(impact_chart(totals, title, subtitle, fonts=pdf_fonts()), totals, [], title, subtitle)
    assert_embedded(pdf, tmp_path)
    assert "Écart : 60,00 €" in text_of(pdf, tmp_path)


def test_invoices_rendered_in_the_spawned_pool_embed_their_fonts(tmp_path: Path) -> None:
    # Each pool process registers the fonts itself (reportlab's registry is per process).
    docs = [make_invoice(number=f"FF-2026-{n:06d}") for n in range(1, 5)]
    pdfs = render_invoices(docs, render_pool(2), chunk=2)
    for pdf in pdfs:
        assert_embedded(pdf, tmp_path)


def test_a_missing_font_file_fails_clearly(tmp_path: Path) -> None:
    assert set(font_files()) == {REGULAR, BOLD}  # the installed files
    with pytest.raises(FontMissingError, match="fonts-dejavu-core"):
        font_files(tmp_path)
