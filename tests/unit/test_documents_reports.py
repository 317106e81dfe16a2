"""The campaign report and the simulation report rendered by `documents` (pure): content, CSV, determinism."""

from __future__ import annotations

from pathlib import Path

from documents.audit_report import campaign_report_csv, campaign_report_pdf, format_permille
from documents.pdf_fonts import pdf_fonts
from documents.simulation_report import impact_chart, impact_svg, report_pdf
from domain.simulation import ImpactTotals
from tests.unit.test_pdf import text_of
from tests.unit.test_pdf_fonts import campaign_report


def test_campaign_report_pdf_prints_the_campaign_then_its_sections_and_is_deterministic(tmp_path: Path) -> None:
    pdf = campaign_report_pdf(campaign_report())
    assert campaign_report_pdf(campaign_report()) == pdf
    text = text_of(pdf, tmp_path)
    for expected in (
        "Fenêtre du 01/06/2026 au 31/07/2026 ; référentiel vv1 ;",  # the lead line, under the title
        "seuil de labellisation 85",
        "Synthèse par type de site",
        "Synthèse par arrondissement",
        "Résultats par site",
        "Non audité",
    ):
        assert expected in text, expected


def test_campaign_report_csv_has_a_bom_semicolons_and_one_line_per_site() -> None:
    csv = campaign_report_csv(campaign_report())
    assert csv.startswith("\ufeff".encode())
    lines = csv.decode("utf-8-sig").splitlines()
    assert lines[0] == "Rapport de campagne QualiParis — Crèches de l'Est — été 2026"
    site = next(line for line in lines if line.startswith("CR-0011;"))
    assert site.split(";")[1:] == ["Crèche Émile-Zola", site.split(";")[2], "11e", "—", "—", "Non audité", "0"]


def test_format_permille_is_french() -> None:
    assert format_permille(875) == "87,5 %"
    assert format_permille(None) == "—"


def test_simulation_report_pdf_is_deterministic_and_svg_names_browser_fonts() -> None:
    totals = ImpactTotals(families=3, changed=2)
    totals.old_by_tranche[0], totals.new_by_tranche[0] = 120_000, 126_000
    title, subtitle = "Simulation tarifaire — grille « 2027 »", "Périodes : septembre–octobre 2026"

    def render() -> bytes:
        return report_pdf(impact_chart(totals, title, subtitle, fonts=pdf_fonts()), totals, [], title, subtitle)

    assert render() == render()
    svg = impact_svg(totals, title, subtitle)
    assert b"<svg" in svg and b"Helvetica" in svg and b"DejaVu" not in svg
