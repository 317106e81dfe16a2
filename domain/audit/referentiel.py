"""QualiParis référentiel: service commitments and their criteria, kept as versioned data."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

Answer = bool | int | Decimal
"""A parsed answer: bool for yes/no, int for a scale, Decimal for a measure."""


class AuditMode(StrEnum):
    """How a site is audited."""

    VISIT = "visit"
    CALL = "call"
    EMAIL = "email"

    @property
    def label(self) -> str:
        """French label."""
        return _MODE_LABELS[self]


_MODE_LABELS = {
    AuditMode.VISIT: "visite mystère",
    AuditMode.CALL: "appel mystère",
    AuditMode.EMAIL: "courriel mystère",
}


class AnswerType(StrEnum):
    """Shape of the answer expected for a criterion."""

    YES_NO = "yes_no"
    SCALE = "scale"
    MEASURE = "measure"


class Direction(StrEnum):
    """Which side of the threshold passes (both bounds inclusive)."""

    AT_MOST = "at_most"
    AT_LEAST = "at_least"

    @property
    def symbol(self) -> str:
        """Mathematical symbol used in French messages."""
        return "≤" if self is Direction.AT_MOST else "≥"


class InvalidAnswer(ValueError):
    """An answer does not fit its criterion; the message is French and user-facing."""


class ReferentielError(ValueError):
    """A référentiel document is invalid; `problems` lists every problem found."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("Référentiel invalide : " + " ; ".join(self.problems))


class UnknownSiteType(ValueError):
    """The site type is not covered by the référentiel."""


def format_decimal(value: Decimal | int) -> str:
    """Format a number the French way (decimal comma, no trailing zeros)."""
    text = format(Decimal(value).normalize(), "f")
    return text.replace(".", ",")


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
class Criterion:
    """One checkable criterion of a commitment."""

    code: str
    commitment_code: str
    label: str
    weight: int
    answer_type: AnswerType
    modes: tuple[AuditMode, ...]
    scale_max: int | None = None
    threshold: Decimal | None = None
    direction: Direction | None = None
    unit: str = ""
    evidence_required_on_failure: bool = False
    blocking: bool = False

    def __post_init__(self) -> None:
        # accept plain strings from callers and normalise them to enums once
        object.__setattr__(self, "answer_type", AnswerType(self.answer_type))
        object.__setattr__(self, "modes", tuple(AuditMode(m) for m in self.modes))
        if self.direction is not None:
            object.__setattr__(self, "direction", Direction(self.direction))
        problems = _criterion_problems(self)
        if problems:
            raise ValueError(f"critère {self.code or '?'} : " + ", ".join(problems))

    def applies_to(self, mode: AuditMode) -> bool:
        """True when this criterion is checked in this audit mode."""
        return mode in self.modes

    def expected(self) -> str:
        """French description of the expected answer, for error messages."""
        if self.answer_type is AnswerType.YES_NO:
            return "oui ou non"
        if self.answer_type is AnswerType.SCALE:
            return f"un entier de 0 à {self.scale_max}"
        unit = f" ({self.unit})" if self.unit else ""
        return f"une mesure positive ou nulle{unit}"

    def parse_answer(self, raw: object) -> Answer:
        """Return the answer normalised for this criterion, or raise InvalidAnswer (French message)."""
        if self.answer_type is AnswerType.YES_NO:
            if isinstance(raw, bool):
                return raw
        elif self.answer_type is AnswerType.SCALE:
            if isinstance(raw, int) and not isinstance(raw, bool):
                assert self.scale_max is not None
                if 0 <= raw <= self.scale_max:
                    return raw
        else:
            value = _to_decimal(raw)
            if value is not None and value >= 0:
                return value
        raise InvalidAnswer(f"Réponse invalide : attendu {self.expected()}.")

    def passes(self, answer: Answer) -> bool:
        """True when a parsed answer satisfies the criterion."""
        if self.answer_type is AnswerType.YES_NO:
            return answer is True
        assert self.threshold is not None
        value = Decimal(answer)
        if self.direction is Direction.AT_MOST:
            return value <= self.threshold
        return value >= self.threshold

    def points(self, answer: Answer) -> Fraction:
        """Points earned out of `weight`; a scale earns in proportion, other types all or nothing."""
        if self.answer_type is AnswerType.SCALE:
            assert self.scale_max is not None
            return Fraction(self.weight * int(answer), self.scale_max)
        return Fraction(self.weight) if self.passes(answer) else Fraction(0)

    def rule(self) -> str:
        """French summary of the passing rule, e.g. « ≤ 10 min »."""
        if self.answer_type is AnswerType.YES_NO:
            return "oui"
        assert self.threshold is not None and self.direction is not None
        unit = f" {self.unit}" if self.unit else ""
        if self.answer_type is AnswerType.SCALE:
            unit = f"/{self.scale_max}"
        return f"{self.direction.symbol} {format_decimal(self.threshold)}{unit}"


def _to_decimal(raw: object) -> Decimal | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | Decimal):
        value = Decimal(raw)
    elif isinstance(raw, float | str):
        # str() keeps the short decimal repr of a float (0.1 -> "0.1"), so no binary drift leaks in
        try:
            value = Decimal(str(raw).strip().replace(",", "."))
        except InvalidOperation:
            return None
    else:
        return None
    return value if value.is_finite() else None


def _criterion_problems(c: Criterion) -> list[str]:
    problems: list[str] = []
    if not c.code:
        problems.append("code manquant")
    if not c.label:
        problems.append("libellé manquant")
    if isinstance(c.weight, bool) or not isinstance(c.weight, int) or c.weight <= 0:
        problems.append("le poids doit être un entier strictement positif")
    if not c.modes:
        problems.append("au moins un mode d'audit est requis")
    if len(set(c.modes)) != len(c.modes):
        problems.append("mode d'audit en double")
    if c.answer_type is AnswerType.YES_NO:
        if c.scale_max is not None or c.threshold is not None or c.direction is not None:
            problems.append("un critère oui/non n'a ni échelle ni seuil")
    elif c.answer_type is AnswerType.SCALE:
        if not isinstance(c.scale_max, int) or isinstance(c.scale_max, bool) or c.scale_max < 1:
            problems.append("une échelle exige scale_max ≥ 1")
        elif c.threshold is None or c.threshold != c.threshold.to_integral_value():
            problems.append("une échelle exige un seuil entier")
        elif not 0 < c.threshold <= c.scale_max:
            problems.append("le seuil d'une échelle doit être compris entre 1 et scale_max")
        if c.direction is not Direction.AT_LEAST:
            problems.append("une échelle se réussit par le haut (direction at_least)")
    else:
        if c.scale_max is not None:
            problems.append("une mesure n'a pas d'échelle")
        if c.threshold is None or c.threshold < 0:
            problems.append("une mesure exige un seuil positif ou nul")
        if c.direction is None:
            problems.append("une mesure exige une direction (at_most ou at_least)")
    return problems


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
    parsed = _to_decimal(value)
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
