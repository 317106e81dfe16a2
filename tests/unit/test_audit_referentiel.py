"""QualiParis référentiel: bundled data, filtering by site type and mode, validation of documents."""

import copy
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from domain.audit.criteria import AnswerType, AuditMode, Criterion, Direction, InvalidAnswer
from domain.audit.referentiel import (
    ReferentielError,
    UnknownSiteType,
    bundled_referentiel,
    load_referentiel,
    select_referentiel,
)

SHARED_THEMES = {
    "acces_signaletique",
    "information",
    "accueil_physique",
    "accueil_telephonique",
    "accueil_courriel",
    "ecoute_suggestions",
}
SITE_TYPES = {"mairie", "bibliotheque", "piscine", "parc", "centre_appels_3975"}


def small_doc() -> dict[str, Any]:
    return {
        "version": "test-1",
        "effective_from": "2026-01-01",
        "themes": [{"code": "t", "label": "Thème"}],
        "site_types": [{"code": "mairie", "label": "Mairie"}, {"code": "piscine", "label": "Piscine"}],
        "commitments": [
            {
                "code": "E1",
                "theme": "t",
                "label": "Engagement commun",
                "criteria": [
                    {
                        "code": "E1.1",
                        "label": "Oui/non",
                        "weight": 1,
                        "answer_type": "yes_no",
                        "modes": ["visit"],
                    },
                    {
                        "code": "E1.2",
                        "label": "Attente ≤ 10 min",
                        "weight": 2,
                        "answer_type": "measure",
                        "modes": ["visit", "call"],
                        "threshold": 10,
                        "direction": "at_most",
                        "unit": "min",
                    },
                ],
            },
            {
                "code": "P1",
                "theme": "t",
                "label": "Propre aux piscines",
                "site_types": ["piscine"],
                "criteria": [
                    {
                        "code": "P1.1",
                        "label": "Propreté",
                        "weight": 2,
                        "answer_type": "scale",
                        "modes": ["visit"],
                        "scale_max": 4,
                        "threshold": 3,
                        "direction": "at_least",
                    }
                ],
            },
        ],
    }


def test_bundled_v1_has_twelve_shared_commitments_over_the_six_themes() -> None:
    ref = bundled_referentiel()
    shared = [c for c in ref.commitments if c.shared]
    assert len(shared) == 12
    assert {c.theme for c in shared} == SHARED_THEMES
    assert {s.code for s in ref.site_types} == SITE_TYPES
    for site_type in SITE_TYPES:
        specific = [c for c in ref.commitments if site_type in c.site_types]
        assert specific, site_type
    for commitment in ref.commitments:
        n = sum(1 for c in ref.criteria if c.commitment_code == commitment.code)
        assert 1 <= n <= 3, commitment.code


def test_bundled_v1_contains_the_reference_criteria() -> None:
    ref = bundled_referentiel()
    by_label = {c.label: c for c in ref.criteria}
    wait = by_label["Délai d'attente à l'accueil ≤ 10 min"]
    assert (wait.answer_type, wait.threshold, wait.direction) == (AnswerType.MEASURE, 10, Direction.AT_MOST)
    rings = by_label["Décroché en moins de 5 sonneries"]
    assert rings.modes == (AuditMode.CALL,)
    assert rings.passes(Decimal(4)) and not rings.passes(Decimal(5))
    mail = by_label["Réponse au courriel sous 5 jours ouvrés"]
    assert mail.modes == (AuditMode.EMAIL,) and mail.unit == "jours ouvrés"
    assert ref.effective_from == date(2026, 1, 1)


def test_criteria_for_filters_by_site_type_and_mode() -> None:
    ref = bundled_referentiel()
    mairie_call = {c.code for c in ref.criteria_for("mairie", AuditMode.CALL)}
    assert {"E08.1", "E03.1", "M01.1"} <= mairie_call
    assert "E06.1" not in mairie_call  # waiting at the counter is observed on visits only
    assert not any(code.startswith("P01") for code in mairie_call)
    piscine_visit = {c.code for c in ref.criteria_for("piscine", "visit")}
    assert {"P01.1", "E06.1"} <= piscine_visit
    assert "E08.1" not in piscine_visit
    # every mode of every site type has something to check
    for site_type in SITE_TYPES:
        for mode in AuditMode:
            assert ref.criteria_for(site_type, mode)


def test_criteria_for_keeps_document_order_and_rejects_unknown_site_type() -> None:
    ref = load_referentiel(small_doc())
    assert [c.code for c in ref.criteria_for("piscine", "visit")] == ["E1.1", "E1.2", "P1.1"]
    assert [c.code for c in ref.criteria_for("mairie", "call")] == ["E1.2"]
    assert ref.criteria_for("mairie", "email") == ()
    with pytest.raises(UnknownSiteType, match="creche"):
        ref.criteria_for("creche", "visit")
    with pytest.raises(ValueError):
        ref.criteria_for("mairie", "fax")


def test_load_reports_every_problem_at_once() -> None:
    doc = small_doc()
    doc["commitments"][0]["criteria"].append(copy.deepcopy(doc["commitments"][0]["criteria"][0]))
    doc["commitments"][1]["theme"] = "inconnu"
    doc["commitments"][1]["site_types"] = ["creche"]
    with pytest.raises(ReferentielError) as exc:
        load_referentiel(doc)
    problems = " | ".join(exc.value.problems)
    assert "critère en double : E1.1" in problems
    assert "thème inconnu inconnu" in problems
    assert "type de site inconnu creche" in problems


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"weight": 0}, "poids"),
        ({"weight": True}, "poids"),
        ({"modes": []}, "mode"),
        ({"answer_type": "scale", "threshold": 2, "direction": "at_least"}, "scale_max"),
        ({"answer_type": "scale", "scale_max": 4, "threshold": 5, "direction": "at_least"}, "seuil"),
        ({"answer_type": "measure", "threshold": 5}, "direction"),
        ({"answer_type": "measure", "direction": "at_most"}, "seuil"),
        ({"threshold": 5}, "oui/non"),
    ],
)
def test_load_rejects_malformed_criteria(patch: dict[str, Any], expected: str) -> None:
    doc = small_doc()
    doc["commitments"][0]["criteria"][0].update(patch)
    with pytest.raises(ReferentielError, match=expected):
        load_referentiel(doc)


def test_load_rejects_commitment_without_criteria() -> None:
    doc = small_doc()
    doc["commitments"][1]["criteria"] = []
    with pytest.raises(ReferentielError, match="engagement P1 sans critère"):
        load_referentiel(doc)


def test_load_rejects_non_iso_date_and_missing_lists() -> None:
    doc = small_doc()
    doc["effective_from"] = "01/01/2026"
    del doc["themes"]
    with pytest.raises(ReferentielError) as exc:
        load_referentiel(doc)
    assert any("effective_from" in p for p in exc.value.problems)
    assert any(p.startswith("themes doit être une liste") for p in exc.value.problems)


def test_parse_answer_by_type() -> None:
    ref = load_referentiel(small_doc())
    yes_no, measure, scale = ref.criterion("E1.1"), ref.criterion("E1.2"), ref.criterion("P1.1")
    assert yes_no.parse_answer(False) is False
    assert measure.parse_answer("7,5") == Decimal("7.5")
    assert measure.parse_answer(0.1) == Decimal("0.1")  # no binary float drift
    assert measure.parse_answer(12) == Decimal(12)
    assert scale.parse_answer(4) == 4
    for criterion, bad in [
        (yes_no, "oui"),
        (yes_no, 1),
        (measure, -1),
        (measure, True),
        (measure, "NaN"),
        (measure, "beaucoup"),
        (scale, 5),
        (scale, -1),
        (scale, True),
        (scale, 2.0),
    ]:
        with pytest.raises(InvalidAnswer, match="Réponse invalide"):
            criterion.parse_answer(bad)


def test_thresholds_are_inclusive_and_scale_points_are_proportional() -> None:
    ref = load_referentiel(small_doc())
    wait, cleanliness = ref.criterion("E1.2"), ref.criterion("P1.1")
    assert wait.passes(Decimal("10")) and not wait.passes(Decimal("10.1"))
    assert wait.points(Decimal(10)) == 2 and wait.points(Decimal(11)) == 0
    assert cleanliness.passes(3) and not cleanliness.passes(2)
    assert cleanliness.points(3) == Fraction(3, 2)
    assert wait.rule() == "≤ 10 min" and cleanliness.rule() == "≥ 3/4"


def test_criterion_normalises_plain_strings() -> None:
    c = Criterion("X.1", "X", "Libellé", 1, "measure", ("call",), threshold=Decimal(3), direction="at_most")  # type: ignore[arg-type]
    assert c.answer_type is AnswerType.MEASURE
    assert c.modes == (AuditMode.CALL,)
    assert c.applies_to(AuditMode.CALL) and not c.applies_to(AuditMode.VISIT)


def test_select_referentiel_takes_the_version_in_force() -> None:
    v1 = load_referentiel(small_doc())
    doc2 = small_doc()
    doc2["version"], doc2["effective_from"] = "test-2", "2027-01-01"
    v2 = load_referentiel(doc2)
    assert select_referentiel([v2, v1], date(2026, 12, 31)) is v1
    assert select_referentiel([v1, v2], date(2027, 1, 1)) is v2
    with pytest.raises(LookupError, match="31/12/2025"):
        select_referentiel([v1, v2], date(2025, 12, 31))
