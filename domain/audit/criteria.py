"""A référentiel criterion and its answers: audit modes, answer types, parsing, passing rule and points."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction

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


def format_decimal(value: Decimal | int) -> str:
    """Format a number the French way (decimal comma, no trailing zeros)."""
    text = format(Decimal(value).normalize(), "f")
    return text.replace(".", ",")


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
            value = to_decimal(raw)
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


def to_decimal(raw: object) -> Decimal | None:
    """A number from an int, Decimal, float or French decimal text; None when it is not a finite number."""
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
