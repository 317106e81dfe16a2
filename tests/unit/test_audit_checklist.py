"""Checklist submission validation."""

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

import pytest

from domain.audit.checklist import FieldError, validate_answers, validate_submission
from domain.audit.criteria import AnswerType
from domain.audit.referentiel import Referentiel, bundled_referentiel

REF = bundled_referentiel()
START, END = date(2027, 1, 4), date(2027, 1, 29)


def passing_answers(ref: Referentiel, site_type: str, mode: str) -> dict[str, object]:
    answers: dict[str, object] = {}
    for c in ref.criteria_for(site_type, mode):
        if c.answer_type is AnswerType.YES_NO:
            answers[c.code] = True
        elif c.answer_type is AnswerType.SCALE:
            answers[c.code] = c.scale_max
        else:
            answers[c.code] = Decimal(0)
    return answers


def check(
    answers: Mapping[str, object],
    evidence: Mapping[str, Sequence[str]] | None = None,
    visit_date: date = date(2027, 1, 12),
    site_type: str = "piscine",
    mode: str = "visit",
) -> list[FieldError]:
    return validate_submission(REF, site_type, mode, answers, evidence or {}, visit_date, START, END)


def fields(errors: list[FieldError]) -> list[str]:
    return [e.field for e in errors]


@pytest.mark.parametrize("site_type", ["mairie", "bibliotheque", "piscine", "parc", "centre_appels_3975"])
@pytest.mark.parametrize("mode", ["visit", "call", "email"])
def test_complete_passing_submission_is_valid(site_type: str, mode: str) -> None:
    assert check(passing_answers(REF, site_type, mode), site_type=site_type, mode=mode) == []


def test_every_applicable_criterion_must_be_answered() -> None:
    answers = passing_answers(REF, "piscine", "visit")
    del answers["P01.2"]
    answers["E06.1"] = None
    errors = check(answers)
    assert fields(errors) == ["answers.E06.1", "answers.P01.2"]
    assert errors[1].message == "Critère P01.2 « Propreté des vestiaires et des douches (0 à 4) » : réponse manquante."


def test_answers_must_have_the_right_type_and_range() -> None:
    answers = passing_answers(REF, "piscine", "visit")
    answers |= {"E01.1": "oui", "E05.2": 7, "E06.1": -3}
    errors = {e.field: e.message for e in check(answers)}
    assert set(errors) == {"answers.E01.1", "answers.E05.2", "answers.E06.1"}
    assert errors["answers.E01.1"].endswith("attendu oui ou non.")
    assert errors["answers.E05.2"].endswith("attendu un entier de 0 à 4.")
    assert errors["answers.E06.1"].endswith("attendu une mesure positive ou nulle (min).")


def test_answers_outside_the_checklist_are_rejected() -> None:
    answers = passing_answers(REF, "piscine", "visit") | {"E08.1": 3, "ZZ.9": True, "PA01.1": True}
    errors = {e.field: e.message for e in check(answers)}
    assert errors["answers.E08.1"] == "Critère E08.1 : non applicable à ce type de site en visite mystère."
    assert errors["answers.PA01.1"].startswith("Critère PA01.1 : non applicable")
    assert errors["answers.ZZ.9"] == "Critère ZZ.9 inconnu du référentiel 1."


def test_evidence_required_only_when_a_criterion_requiring_it_fails() -> None:
    answers = passing_answers(REF, "piscine", "visit")
    answers |= {"E06.1": Decimal(25), "E04.1": False}  # E06.1 needs evidence on failure, E04.1 does not
    errors = check(answers)
    assert fields(errors) == ["evidence.E06.1"]
    assert "preuve" in errors[0].message and "non respecté" in errors[0].message
    assert check(answers, {"E06.1": ["s3://preuves/ticket.jpg"]}) == []
    assert fields(check(answers, {"E06.1": ["  "]})) == ["evidence.E06.1"]


def test_evidence_on_a_passed_criterion_is_accepted_but_not_on_a_foreign_one() -> None:
    answers = passing_answers(REF, "piscine", "visit")
    assert check(answers, {"E06.1": ["photo.jpg"]}) == []
    errors = check(answers, {"E08.1": ["capture.png"]})
    assert fields(errors) == ["evidence.E08.1"]


@pytest.mark.parametrize(
    ("visit_date", "ok"),
    [(START, True), (END, True), (date(2027, 1, 3), False), (date(2027, 1, 30), False)],
)
def test_visit_date_must_be_inside_the_window(visit_date: date, ok: bool) -> None:
    errors = check(passing_answers(REF, "piscine", "visit"), visit_date=visit_date)
    if ok:
        assert errors == []
    else:
        assert fields(errors) == ["visit_date"]
        assert "entre le 04/01/2027 et le 29/01/2027" in errors[0].message
        assert f"({visit_date:%d/%m/%Y})" in errors[0].message


def test_unknown_site_type_or_mode_is_reported_once() -> None:
    assert fields(check({"E01.1": True}, site_type="creche")) == ["site_type"]
    assert fields(check({"E01.1": True}, mode="fax")) == ["mode"]


def test_inverted_window_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        validate_submission(REF, "parc", "visit", {}, {}, START, END, START)


def test_validate_answers_ignores_evidence_and_date() -> None:
    answers = passing_answers(REF, "mairie", "email") | {"E10.1": Decimal(9)}
    assert validate_answers(REF, "mairie", "email", answers) == []
    assert fields(validate_submission(REF, "mairie", "email", answers, {}, END, START, END)) == ["evidence.E10.1"]
