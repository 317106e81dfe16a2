"""QualiParis référentiel: service commitments and their criteria, kept as versioned data."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

from domain.audit.criteria import AnswerType, AuditMode, Criterion, Direction, to_decimal


class ReferentielError(ValueError):
    """A référentiel document is invalid; `problems` lists every problem found."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("Référentiel invalide : " + " ; ".join(self.problems))


class UnknownSiteType(ValueError):
    """The site type is not covered by the référentiel."""


@dataclass(frozen=True)
class Theme:
    """A group of commitments (e.g. « Accueil téléphonique »)."""

    code: str
    label: str


@dataclass(frozen=True)
class SiteType:
    """A kind of municipal site (mairie, bibliothèque...)."""

    code: str
    label: str


@dataclass(frozen=True)
class Commitment:
    """A service commitment; empty `site_types` means shared by every site type."""

    code: str
    theme: str
    label: str
    site_types: tuple[str, ...] = ()

    @property
    def shared(self) -> bool:
        """True when the commitment applies to every site type."""
        return not self.site_types

    def applies_to(self, site_type: str) -> bool:
        """True when the commitment applies to this site type."""
        return self.shared or site_type in self.site_types


@dataclass(frozen=True)
class Referentiel:
    """A version of the référentiel; criteria keep the order of the source document."""

    version: str
    effective_from: date
    themes: tuple[Theme, ...]
    site_types: tuple[SiteType, ...]
    commitments: tuple[Commitment, ...]
    criteria: tuple[Criterion, ...]

    def __post_init__(self) -> None:
        problems = _referentiel_problems(self)
        if problems:
            raise ReferentielError(problems)

    # cached_property rather than extra dataclass fields keeps the dataclass plain data for converters
    @cached_property
    def _commitments_by_code(self) -> dict[str, Commitment]:
        return {c.code: c for c in self.commitments}

    @cached_property
    def _criteria_by_code(self) -> dict[str, Criterion]:
        return {c.code: c for c in self.criteria}

    @property
    def site_type_codes(self) -> frozenset[str]:
        """Codes of the site types this version covers."""
        return frozenset(s.code for s in self.site_types)

    def commitment(self, code: str) -> Commitment:
        """Commitment by code (KeyError when unknown)."""
        return self._commitments_by_code[code]

    def criterion(self, code: str) -> Criterion:
        """Criterion by code (KeyError when unknown)."""
        return self._criteria_by_code[code]

    def commitments_for(self, site_type: str) -> tuple[Commitment, ...]:
        """Shared commitments plus those specific to the site type."""
        self._check_site_type(site_type)
        return tuple(c for c in self.commitments if c.applies_to(site_type))

    def criteria_for(self, site_type: str, mode: AuditMode | str) -> tuple[Criterion, ...]:
        """Criteria to check for a site type in an audit mode, in document order."""
        self._check_site_type(site_type)
        audit_mode = AuditMode(mode)
        return tuple(
            c
            for c in self.criteria
            if c.applies_to(audit_mode) and self._commitments_by_code[c.commitment_code].applies_to(site_type)
        )

    def _check_site_type(self, site_type: str) -> None:
        if site_type not in self.site_type_codes:
            raise UnknownSiteType(f"Type de site inconnu du référentiel {self.version} : {site_type}")


def _referentiel_problems(r: Referentiel) -> list[str]:
    problems: list[str] = []
    if not r.version:
        problems.append("version manquante")
    for kind, codes in (
        ("thème", [t.code for t in r.themes]),
        ("type de site", [s.code for s in r.site_types]),
        ("engagement", [c.code for c in r.commitments]),
        ("critère", [c.code for c in r.criteria]),
    ):
        seen: set[str] = set()
        for code in codes:
            if code in seen:
                problems.append(f"{kind} en double : {code}")
            seen.add(code)
    theme_codes = {t.code for t in r.themes}
    site_codes = r.site_type_codes
    for c in r.commitments:
        if c.theme not in theme_codes:
            problems.append(f"engagement {c.code} : thème inconnu {c.theme}")
        for s in c.site_types:
            if s not in site_codes:
                problems.append(f"engagement {c.code} : type de site inconnu {s}")
    with_criteria = {c.commitment_code for c in r.criteria}
    for criterion in r.criteria:
        if criterion.commitment_code not in r._commitments_by_code:
            problems.append(f"critère {criterion.code} : engagement inconnu {criterion.commitment_code}")
    for commitment in r.commitments:
        if commitment.code not in with_criteria:
            problems.append(f"engagement {commitment.code} sans critère")
    return problems


def _opt_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    parsed = to_decimal(value)
    if parsed is None:
        raise ValueError(f"seuil invalide : {value!r}")
    return parsed


def load_referentiel(data: Mapping[str, Any]) -> Referentiel:
    """Build and validate a Referentiel from its JSON document; raise ReferentielError listing problems."""
    problems: list[str] = []
    try:
        effective_from = date.fromisoformat(str(data["effective_from"]))
    except (KeyError, ValueError):
        problems.append("effective_from doit être une date ISO (AAAA-MM-JJ)")
        effective_from = date.min
    themes = [Theme(code, label) for code, label in _code_labels(data, "themes", problems)]
    site_types = [SiteType(code, label) for code, label in _code_labels(data, "site_types", problems)]
    commitments: list[Commitment] = []
    criteria: list[Criterion] = []
    for raw_commitment in _items(data, "commitments", problems):
        code = str(raw_commitment.get("code", ""))
        if not code:
            problems.append("engagement sans code")
            continue
        commitments.append(
            Commitment(
                code=code,
                theme=str(raw_commitment.get("theme", "")),
                label=str(raw_commitment.get("label", "")),
                site_types=tuple(str(s) for s in raw_commitment.get("site_types", ())),
            )
        )
        for raw in raw_commitment.get("criteria", ()):
            try:
                criteria.append(
                    Criterion(
                        code=str(raw["code"]),
                        commitment_code=code,
                        label=str(raw["label"]),
                        weight=raw["weight"],
                        answer_type=AnswerType(raw["answer_type"]),
                        modes=tuple(AuditMode(m) for m in raw["modes"]),
                        scale_max=raw.get("scale_max"),
                        threshold=_opt_decimal(raw.get("threshold")),
                        direction=Direction(raw["direction"]) if raw.get("direction") is not None else None,
                        unit=str(raw.get("unit", "")),
                        evidence_required_on_failure=bool(raw.get("evidence_required_on_failure", False)),
                        blocking=bool(raw.get("blocking", False)),
                    )
                )
            except KeyError as exc:
                problems.append(f"engagement {code} : champ manquant {exc.args[0]} dans un critère")
            except ValueError as exc:
                problems.append(f"engagement {code} : {exc}")
    if problems:
        raise ReferentielError(problems)
    return Referentiel(
        version=str(data.get("version", "")),
        effective_from=effective_from,
        themes=tuple(themes),
        site_types=tuple(site_types),
        commitments=tuple(commitments),
        criteria=tuple(criteria),
    )


def _items(data: Mapping[str, Any], key: str, problems: list[str]) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        problems.append(f"{key} doit être une liste d'objets")
        return []
    return value


def _code_labels(data: Mapping[str, Any], key: str, problems: list[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for item in _items(data, key, problems):
        code, label = item.get("code"), item.get("label")
        if not isinstance(code, str) or not code or not isinstance(label, str) or not label:
            problems.append(f"{key} : chaque entrée exige un code et un libellé")
            continue
        pairs.append((code, label))
    return pairs


def select_referentiel(referentiels: Iterable[Referentiel], on: date) -> Referentiel:
    """The version in force on a date: the latest `effective_from` not after it."""
    candidates = [r for r in referentiels if r.effective_from <= on]
    if not candidates:
        raise LookupError(f"Aucun référentiel en vigueur au {on:%d/%m/%Y}")
    return max(candidates, key=lambda r: (r.effective_from, r.version))


@lru_cache(maxsize=8)
def bundled_referentiel(name: str = "referentiel_v1.json") -> Referentiel:
    """A référentiel shipped with the package (read once from package data, then cached)."""
    text = resources.files("domain.audit").joinpath("data", name).read_text(encoding="utf-8")
    return load_referentiel(json.loads(text))
