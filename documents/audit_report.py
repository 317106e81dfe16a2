"""The QualiParis campaign report: one row per site, then summaries by site type and by arrondissement (CSV, PDF).

Pure: plain data in (`CampaignReportData`), bytes out. The PDF is a `documents.report` tabular report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from documents.report import render_report
from domain.audit.criteria import AuditMode, format_decimal
from domain.audit.scoring import CampaignSummary, GroupSummary, LabelDecision, SiteResult, SiteScore, aggregate
from domain.calendar import format_date_fr as date_fr

__all__ = [
    "DECISION_LABELS",
    "NOT_AUDITED",
    "CampaignReportData",
    "ReportSite",
    "campaign_report_csv",
    "campaign_report_pdf",
    "format_permille",
]

NOT_AUDITED = "not_audited"
"""Stored decision of a site with no approved result."""
DECISION_LABELS = {**{d.value: d.label for d in LabelDecision}, NOT_AUDITED: "Non audité"}


def format_permille(value: int | None) -> str:
    """`875` -> `87,5 %` (French)."""
    if value is None:
        return "—"
    return f"{format_decimal(Decimal(value).scaleb(-1).quantize(Decimal('0.1')))} %"


@dataclass(frozen=True)
class ReportSite:
    """A site of the campaign, its approved results scored (score None: nothing approved)."""

    ref: str
    name: str
    site_type: str
    arrondissement: int
    audited_modes: tuple[str, ...]
    score: SiteScore | None
    decision: LabelDecision | None
    actions: int = 0  # corrective actions opened


@dataclass(frozen=True)
class CampaignReportData:
    """What the report prints about a campaign."""

    name: str
    window_start: date
    window_end: date
    referentiel_version: str
    label_threshold_permille: int
    type_labels: dict[str, str]  # site type code -> French label
    sites: tuple[ReportSite, ...]


def site_results(sites: Sequence[ReportSite]) -> list[SiteResult]:
    """The scored sites, as the domain aggregates them."""
    return [
        SiteResult(s.ref, s.site_type, s.arrondissement, s.score, s.decision)
        for s in sites
        if s.score is not None and s.decision is not None
    ]


def title(data: CampaignReportData) -> str:
    """Report title."""
    return f"Rapport de campagne QualiParis — {data.name}"


def intro(data: CampaignReportData) -> str:
    """One-line description of the campaign."""
    return (
        f"Fenêtre du {date_fr(data.window_start)} au {date_fr(data.window_end)} ; "
        f"référentiel v{data.referentiel_version} ; "
        f"seuil de labellisation {format_permille(data.label_threshold_permille)}."
    )


def site_lines(data: CampaignReportData) -> list[list[str]]:
    """Header and one line per site."""
    lines = [["Site", "Nom", "Type", "Arrondissement", "Modes audités", "Score", "Décision", "Actions"]]
    for s in data.sites:
        lines.append(
            [
                s.ref,
                s.name,
                data.type_labels.get(s.site_type, s.site_type),
                _arr(s.arrondissement),
                ", ".join(AuditMode(m).label for m in s.audited_modes) or "—",
                format_permille(int(s.score.percent * 10)) if s.score is not None else "—",
                s.decision.label if s.decision is not None else DECISION_LABELS[NOT_AUDITED],
                str(s.actions),
            ]
        )
    return lines


def group_lines(data: CampaignReportData, summary: CampaignSummary, by_type: bool) -> list[list[str]]:
    """Header and one line per site type (or arrondissement), then the whole campaign."""
    first = "Type de site" if by_type else "Arrondissement"
    lines = [[first, "Sites notés", "Attribué", "Avec réserves", "Refusé", "Score moyen"]]
    if by_type:
        for code, g in summary.by_site_type.items():
            lines.append([data.type_labels.get(code, code), *_group_cells(g)])
    else:
        for arr, g in summary.by_arrondissement.items():
            lines.append([_arr(arr), *_group_cells(g)])
    lines.append(["Ensemble", *_group_cells(summary.overall)])
    return lines


def sections(data: CampaignReportData) -> list[tuple[str, list[list[str]]]]:
    """The report's sections: summaries first, then the sites."""
    summary = aggregate(site_results(data.sites))
    return [
        ("Synthèse par type de site", group_lines(data, summary, by_type=True)),
        ("Synthèse par arrondissement", group_lines(data, summary, by_type=False)),
        ("Résultats par site", site_lines(data)),
    ]


def campaign_report_csv(data: CampaignReportData) -> bytes:
    """The report as CSV (semicolon separated, UTF-8 with BOM for French spreadsheets)."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\n")
    w.writerow([title(data)])
    w.writerow([intro(data)])
    for heading, lines in sections(data):
        w.writerow([])
        w.writerow([heading])
        w.writerows(lines)
    return out.getvalue().encode("utf-8-sig")


def campaign_report_pdf(data: CampaignReportData) -> bytes:
    """The report as PDF: the shared tabular report (embedded DejaVu subsets, deterministic bytes)."""
    spelt = [(_spell(h), [[_spell(c) for c in line] for line in lines]) for h, lines in sections(data)]
    return render_report(_spell(title(data)), spelt, lead=[_spell(intro(data))])


def _group_cells(g: GroupSummary) -> list[str]:
    average = f"{format_decimal(g.average_percent)} %" if g.average_percent is not None else "—"
    return [str(g.count), str(g.granted), str(g.granted_with_reservations), str(g.refused), average]


def _arr(n: int) -> str:
    return "1er" if n == 1 else f"{n}e"


def _spell(text: str) -> str:
    # ≤/≥ are outside the PDFs' WinAnsi text: spelt out, as the report always printed them
    return text.replace("≤", "au plus").replace("≥", "au moins")
