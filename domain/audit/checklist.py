"""Validation of an inspector's checklist submission against the référentiel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from domain.audit.criteria import Answer, AuditMode, InvalidAnswer
from domain.audit.referentiel import Referentiel


@dataclass(frozen=True)
class FieldError:
    """A problem tied to a form field (`answers.E06.1`, `evidence.E06.1`, `visit_date`...); French message."""

    field: str
    message: str


def answer_field(code: str) -> str:
    """Field name carrying the answer to a criterion."""
    return f"answers.{code}"


def evidence_field(code: str) -> str:
    """Field name carrying the evidence of a criterion."""
    return f"evidence.{code}"


def _parse_context(referentiel: Referentiel, site_type: str, mode: AuditMode | str) -> list[FieldError]:
    errors: list[FieldError] = []
    if site_type not in referentiel.site_type_codes:
        errors.append(FieldError("site_type", f"Type de site inconnu : {site_type}."))
    if mode not in {m.value for m in AuditMode}:
        errors.append(FieldError("mode", f"Mode d'audit inconnu : {mode}."))
    return errors


def parse_answers(
    referentiel: Referentiel, site_type: str, mode: AuditMode | str, answers: Mapping[str, object]
) -> tuple[dict[str, Answer], list[FieldError]]:
    """Parse the answers of applicable criteria; return them with every answer-level error."""
    errors = _parse_context(referentiel, site_type, mode)
    if errors:
        return {}, errors
    applicable = referentiel.criteria_for(site_type, mode)
    parsed: dict[str, Answer] = {}
    for criterion in applicable:
        where = f"Critère {criterion.code} « {criterion.label} »"
        if criterion.code not in answers or answers[criterion.code] is None:
            errors.append(FieldError(answer_field(criterion.code), f"{where} : réponse manquante."))
            continue
        try:
            parsed[criterion.code] = criterion.parse_answer(answers[criterion.code])
        except InvalidAnswer as exc:
            errors.append(FieldError(answer_field(criterion.code), f"{where} : {exc}"))
    applicable_codes = {c.code for c in applicable}
    for code in sorted(set(answers) - applicable_codes):
        errors.append(FieldError(answer_field(code), _not_applicable(referentiel, code, AuditMode(mode))))
    return parsed, errors


def _not_applicable(referentiel: Referentiel, code: str, mode: AuditMode) -> str:
    try:
        referentiel.criterion(code)
    except KeyError:
        return f"Critère {code} inconnu du référentiel {referentiel.version}."
    return f"Critère {code} : non applicable à ce type de site en {mode.label}."


def validate_answers(
    referentiel: Referentiel, site_type: str, mode: AuditMode | str, answers: Mapping[str, object]
) -> list[FieldError]:
    """Answer-level errors only: every applicable criterion answered with the right type, no extras."""
    return parse_answers(referentiel, site_type, mode, answers)[1]


def validate_submission(
    referentiel: Referentiel,
    site_type: str,
    mode: AuditMode | str,
    answers: Mapping[str, object],
    evidence: Mapping[str, Sequence[str]],
    visit_date: date,
    window_start: date,
    window_end: date,
) -> list[FieldError]:
    """Every problem in a submission (empty list = valid): answers, evidence on failure, audit date."""
    if window_start > window_end:
        raise ValueError("window_start must not be after window_end")
    context_errors = _parse_context(referentiel, site_type, mode)
    if context_errors:
        return context_errors
    parsed, errors = parse_answers(referentiel, site_type, mode, answers)
    applicable = {c.code: c for c in referentiel.criteria_for(site_type, mode)}
    for code, answer in parsed.items():
        criterion = applicable[code]
        if (
            criterion.evidence_required_on_failure
            and not criterion.passes(answer)
            and not [ref for ref in evidence.get(code, ()) if ref.strip()]
        ):
            errors.append(
                FieldError(
                    evidence_field(code),
                    f"Critère {code} « {criterion.label} » non respecté : "
                    "une preuve (photo, capture, relevé) est obligatoire.",
                )
            )
    for code in sorted(set(evidence) - set(applicable)):
        errors.append(FieldError(evidence_field(code), f"Preuve rattachée à un critère non applicable : {code}."))
    if not window_start <= visit_date <= window_end:
        errors.append(
            FieldError(
                "visit_date",
                f"La date de l'audit ({visit_date:%d/%m/%Y}) doit être comprise entre le "
                f"{window_start:%d/%m/%Y} et le {window_end:%d/%m/%Y}.",
            )
        )
    return errors
