"""Scores, label decisions, corrective actions and campaign summaries."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest

from domain.audit.criteria import AnswerType
from domain.audit.referentiel import Referentiel, bundled_referentiel, load_referentiel
from domain.audit.scoring import (
    ActionPriority,
    InvalidSubmission,
    LabelDecision,
    SiteResult,
    SiteScore,
    aggregate,
    combine_scores,
    corrective_actions,
    decide_label,
    score_site,
)


def weighted_doc(*criteria: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "t",
        "effective_from": "2026-01-01",
        "themes": [{"code": "t", "label": "Thème"}],
        "site_types": [{"code": "mairie", "label": "Mairie"}],
        "commitments": [{"code": "E1", "theme": "t", "label": "Engagement", "criteria": list(criteria)}],
    }


def yn(code: str, weight: int, blocking: bool = False) -> dict[str, Any]:
    return {
        "code": code,
        "label": f"Critère {code}",
        "weight": weight,
        "answer_type": "yes_no",
        "modes": ["visit"],
        "blocking": blocking,
    }


def score_of(ref: Referentiel, answers: dict[str, object]) -> SiteScore:
    return score_site(ref, "mairie", "visit", answers)


REF = bundled_referentiel()


def all_pass(site_type: str, mode: str) -> dict[str, object]:
    answers: dict[str, object] = {}
    for c in REF.criteria_for(site_type, mode):
        answers[c.code] = {AnswerType.YES_NO: True, AnswerType.SCALE: c.scale_max, AnswerType.MEASURE: 0}[c.answer_type]
    return answers


def test_full_marks_give_100_and_the_label() -> None:
    score = score_site(REF, "parc", "visit", all_pass("parc", "visit"))
    assert score.percent == Decimal("100.0")
    assert score.basis_points == 10_000
    assert score.failed == ()
    assert decide_label(score, 85) is LabelDecision.GRANTED


def test_weights_and_scales_are_exact() -> None:
    ref = load_referentiel(
        weighted_doc(
            yn("A", 1),
            yn("B", 2),
            {
                "code": "C",
                "label": "Échelle",
                "weight": 3,
                "answer_type": "scale",
                "modes": ["visit"],
                "scale_max": 4,
                "threshold": 3,
                "direction": "at_least",
            },
        )
    )
    score = score_of(ref, {"A": True, "B": False, "C": 1})
    assert score.earned == Fraction(1) + Fraction(3, 4)
    assert score.possible == 6
    assert score.ratio == Fraction(7, 24)
    assert score.percent == Decimal("29.2")  # 29.1666...
    assert score.basis_points == 2917
    assert [r.code for r in score.failed] == ["B", "C"]


def test_one_third_does_not_drift() -> None:
    ref = load_referentiel(weighted_doc(yn("A", 1), yn("B", 1), yn("C", 1)))
    score = score_of(ref, {"A": True, "B": False, "C": False})
    assert score.ratio == Fraction(1, 3)
    assert (score.percent, score.basis_points) == (Decimal("33.3"), 3333)


def test_percent_rounds_half_up() -> None:
    ref = load_referentiel(weighted_doc(yn("A", 1701), yn("B", 299)))
    score = score_of(ref, {"A": True, "B": False})
    assert score.ratio == Fraction(8505, 10_000)
    assert score.percent == Decimal("85.1")


def test_decisions_around_the_threshold() -> None:
    ref = load_referentiel(weighted_doc(yn("A", 17), yn("B", 3), yn("S", 0 + 1, blocking=True)))
    # A and S pass, B fails: 18/21 = 85.71 %
    mixed = score_of(ref, {"A": True, "B": False, "S": True})
    assert decide_label(mixed, 85) is LabelDecision.GRANTED_WITH_RESERVATIONS
    assert decide_label(mixed, Decimal("85.8")) is LabelDecision.REFUSED
    assert decide_label(mixed, "85.7") is LabelDecision.GRANTED_WITH_RESERVATIONS
    assert decide_label(mixed, 85, blocking_failed=True) is LabelDecision.REFUSED
    # a blocking failure refuses whatever the score
    blocked = score_of(ref, {"A": True, "B": True, "S": False})
    assert blocked.percent == Decimal("95.2") and blocked.blocking_failed
    assert decide_label(blocked, 50) is LabelDecision.REFUSED


def test_published_percent_is_what_meets_the_threshold() -> None:
    # 1699/2000 = 84.95 % is published as 85,0 %: it meets an 85 % threshold
    ref = load_referentiel(weighted_doc(yn("A", 1699), yn("B", 301)))
    score = score_of(ref, {"A": True, "B": False})
    assert score.percent == Decimal("85.0")
    assert decide_label(score, 85) is LabelDecision.GRANTED_WITH_RESERVATIONS


@pytest.mark.parametrize("threshold", [-1, 101, "100.1"])
def test_threshold_must_be_a_percentage(threshold: object) -> None:
    score = score_site(REF, "parc", "visit", all_pass("parc", "visit"))
    with pytest.raises(ValueError):
        decide_label(score, threshold)  # type: ignore[arg-type]


def test_decision_labels_are_french() -> None:
    assert LabelDecision.GRANTED_WITH_RESERVATIONS.label == "Label attribué avec réserves"
    assert LabelDecision.REFUSED.label == "Label refusé"


def test_scoring_refuses_incomplete_answers() -> None:
    answers = all_pass("parc", "visit")
    del answers["PA01.1"]
    with pytest.raises(InvalidSubmission) as exc:
        score_site(REF, "parc", "visit", answers)
    assert [e.field for e in exc.value.errors] == ["answers.PA01.1"]


def test_combined_modes_pool_points_and_by_commitment_splits_them() -> None:
    visit_answers = all_pass("mairie", "visit") | {"E06.1": 30}
    call_answers = all_pass("mairie", "call") | {"E08.1": 9, "E03.1": False}
    visit = score_site(REF, "mairie", "visit", visit_answers)
    call = score_site(REF, "mairie", "call", call_answers)
    combined = combine_scores([visit, call])
    assert combined.possible == visit.possible + call.possible
    assert combined.earned == visit.earned + call.earned
    assert combined.blocking_failed  # E03.1 (exact information) is blocking
    per = combined.by_commitment()
    e06 = per["E06"]
    assert (e06.earned, e06.possible, e06.percent) == (0, 3, Decimal("0.0"))
    e03 = per["E03"]
    assert e03.possible == 3 + 1 + 3  # E03.1 on both modes, E03.2 on the visit
    with pytest.raises(ValueError):
        combine_scores([])


def test_corrective_actions_blocking_first_merged_and_due_on_a_business_day() -> None:
    visit = score_site(REF, "piscine", "visit", all_pass("piscine", "visit") | {"E06.1": 14, "P01.1": False})
    call = score_site(REF, "piscine", "call", all_pass("piscine", "call") | {"E03.1": False})
    visit2 = score_site(REF, "piscine", "visit", all_pass("piscine", "visit") | {"E06.1": 20})
    results = [*visit.results, *call.results, *visit2.failed]
    # 15/12/2026 + 10 days = Friday 25/12/2026 (Noël), then the weekend: Monday 28/12/2026
    actions = corrective_actions(results, owner="DDCT-qualite", today=date(2026, 12, 15), due_in_days=10)
    # blocking first, each group in the order given
    assert [a.criterion_code for a in actions] == ["P01.1", "E03.1", "E06.1"]
    assert [a.priority for a in actions] == [ActionPriority.HIGH, ActionPriority.HIGH, ActionPriority.NORMAL]
    assert {a.due_on for a in actions} == {date(2026, 12, 28)}
    assert {a.owner for a in actions} == {"DDCT-qualite"}
    assert actions[2].description == (
        "Rétablir le respect du critère E06.1 « Délai d'attente à l'accueil ≤ 10 min » "
        "(attendu : ≤ 10 min, constaté : 14 min)."
    )


def test_corrective_action_due_date_on_a_business_day_is_kept() -> None:
    score = score_site(REF, "parc", "visit", all_pass("parc", "visit") | {"PA01.2": 1})
    (action,) = corrective_actions(score.failed, "mairie-12", date(2027, 5, 3), 1)
    assert action.due_on == date(2027, 5, 4)
    assert "constaté : 1/4" in action.description
    # 05/05/2027 + 1 = Ascension, then Friday is a business day
    (action,) = corrective_actions(score.failed, "mairie-12", date(2027, 5, 5), 1)
    assert action.due_on == date(2027, 5, 7)
    with pytest.raises(ValueError):
        corrective_actions(score.failed, "mairie-12", date(2027, 5, 5), -1)


def _result(site: str, site_type: str, arr: int, answers_patch: dict[str, object]) -> SiteResult:
    score = score_site(REF, site_type, "visit", all_pass(site_type, "visit") | answers_patch)
    return SiteResult(site, site_type, arr, score, decide_label(score, 85))


def test_aggregate_by_site_type_and_arrondissement() -> None:
    results = [
        _result("parc-a", "parc", 12, {}),
        _result("parc-b", "parc", 20, {"PA01.1": False}),
        _result("bib-a", "bibliotheque", 12, {"E04.1": False}),
    ]
    summary = aggregate(results)
    assert [r.decision for r in results] == [
        LabelDecision.GRANTED,
        LabelDecision.REFUSED,
        LabelDecision.GRANTED_WITH_RESERVATIONS,
    ]
    assert list(summary.by_site_type) == ["bibliotheque", "parc"]
    assert list(summary.by_arrondissement) == [12, 20]
    parcs = summary.by_site_type["parc"]
    assert (parcs.count, parcs.granted, parcs.refused, parcs.granted_with_reservations) == (2, 1, 1, 0)
    possible = sum(c.weight for c in REF.criteria_for("parc", "visit"))
    # mean of 100 % and (possible - 3) / possible, PA01.1 weighing 3
    expected = (Decimal(2 * possible - 3) / Decimal(2 * possible) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert parcs.average_percent == expected
    twelfth = summary.by_arrondissement[12]
    assert (twelfth.count, twelfth.granted, twelfth.granted_with_reservations) == (2, 1, 1)
    assert summary.overall.count == 3
    assert aggregate([]).overall.average_percent is None
    with pytest.raises(ValueError, match="twice"):
        aggregate([results[0], results[0]])
