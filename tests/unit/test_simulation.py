"""Tariff impact simulation rules: aggregates, thresholds, medians, anonymised top changes, grid validation."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.invoicing import AttendanceItem, FamilySnapshot, compute_invoice
from domain.periods import period_from_key
from domain.simulation import (
    THRESHOLDS_PCT,
    FamilyChange,
    ImpactTotals,
    PeriodAmounts,
    ProposedGridError,
    TopChange,
    applied_everywhere,
    falls_more_than,
    family_change,
    format_bp_fr,
    largest_changes,
    median_changes,
    percent_change_bp,
    rises_more_than,
    simulation_ref,
    validate_proposed_grid,
)
from domain.tariffs import default_grids
from stack.billing_demo import GRIDS_FILE

VOTED: dict[str, Any] = json.loads(GRIDS_FILE.read_text())[0]


def grid(**changes: Any) -> dict[str, Any]:
    g = copy.deepcopy(VOTED)
    g.update(changes)
    return g


# --- comparison rules ------------------------------------------------------------------------------


def test_family_change_sums_periods_in_latest_tranche() -> None:
    periods = [
        PeriodAmounts(3, {"cantine": 1_000, "etude": 200}, {"cantine": 1_100, "etude": 200}),
        PeriodAmounts(4, {"cantine": 500}, {"cantine": 700}),
    ]
    assert family_change(periods) == FamilyChange(4, 1_700, 2_000)
    with pytest.raises(ValueError):
        family_change([])


def test_thresholds_are_strict_and_exact() -> None:
    assert not rises_more_than(FamilyChange(1, 10_000, 10_500), 5)  # exactly +5 %
    assert rises_more_than(FamilyChange(1, 10_000, 10_501), 5)
    assert not falls_more_than(FamilyChange(1, 10_000, 9_000), 10)  # exactly -10 %
    assert falls_more_than(FamilyChange(1, 10_000, 8_999), 10)
    assert rises_more_than(FamilyChange(1, 0, 1), 20)  # anything from nothing is a rise
    assert not rises_more_than(FamilyChange(1, 0, 0), 5) and not falls_more_than(FamilyChange(1, 0, 0), 5)


def test_percent_change_in_basis_points() -> None:
    assert percent_change_bp(10_000, 10_431) == 431
    assert percent_change_bp(300, 299) == -33
    assert percent_change_bp(0, 500) is None
    assert format_bp_fr(431) == "+4,31\u00a0%"
    assert format_bp_fr(-5) == "-0,05\u00a0%"
    assert format_bp_fr(0) == "0,00\u00a0%"
    assert format_bp_fr(None) == "—"


def test_aggregates_per_tranche_activity_and_thresholds() -> None:
    totals = ImpactTotals()
    totals.add_family([PeriodAmounts(1, {"cantine": 1_000}, {"cantine": 1_000})])
    totals.add_family([PeriodAmounts(4, {"cantine": 1_000, "creche": 9_000}, {"cantine": 1_300, "creche": 9_000})])
    totals.add_family([PeriodAmounts(10, {"etude": 1_000}, {"etude": 700})])
    assert totals.families == 3 and totals.changed == 2
    assert totals.old_by_tranche[0] == totals.new_by_tranche[0] == 1_000
    assert (totals.old_by_tranche[3], totals.new_by_tranche[3]) == (10_000, 10_300)
    assert totals.old_by_activity == {"cantine": 2_000, "creche": 9_000, "etude": 1_000}
    assert totals.new_by_activity == {"cantine": 2_300, "creche": 9_000, "etude": 700}
    assert totals.families_by_tranche == [1, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert totals.rises_over == [0, 0, 0]  # +3 % only
    assert totals.falls_over == [1, 1, 1]  # -30 %
    assert [(t.rank, t.tranche, t.change_cents) for t in totals.top] == [
        (1, 4, 300),
        (2, 10, -300),
    ]  # ties: the larger bill first


def test_top_changes_are_anonymous_ranked_and_bounded() -> None:
    changes = [FamilyChange(1 + i % 10, 1_000, 1_000 + i * 7) for i in range(40)]
    top = largest_changes(changes)
    assert [t.rank for t in top] == list(range(1, 11))
    assert [t.change_cents for t in top] == [7 * i for i in range(39, 29, -1)]
    assert set(vars(top[0])) == {"rank", "tranche", "old_cents", "new_cents"}  # nothing that names a family


def test_median_per_tranche_is_lower_median() -> None:
    changes = [
        FamilyChange(2, 1_000, 1_100),
        FamilyChange(2, 1_000, 1_000),
        FamilyChange(2, 2_000, 2_400),
        FamilyChange(2, 1_000, 900),
        FamilyChange(5, 0, 300),
    ]
    medians = {m.tranche: m for m in median_changes(changes)}
    assert medians[2].families == 4
    assert medians[2].median_change_cents == 0  # sorted -100, 0, 100, 400: lower median
    assert medians[2].median_change_bp == 0  # -1000, 0, 1000, 2000 bp
    assert medians[5].median_change_cents == 300 and medians[5].median_change_bp is None


def test_simulation_ref_is_content_derived() -> None:
    a = simulation_ref(VOTED, ["2026-11", "2026-09"])
    assert a == simulation_ref(VOTED, ["2026-09", "2026-11", "2026-09"])
    assert a != simulation_ref(grid(id="autre"), ["2026-09", "2026-11"])
    assert len(a) == 16 and a.isalnum()


# --- hypothesis properties -------------------------------------------------------------------------

ACTIVITIES = ("cantine", "etude", "creche")
amounts = st.dictionaries(st.sampled_from(ACTIVITIES), st.integers(0, 200_000), max_size=3)
period_amounts = st.builds(PeriodAmounts, st.integers(1, 10), amounts, amounts)
families = st.lists(st.lists(period_amounts, min_size=1, max_size=3), max_size=30)


def _totals_of(fams: list[list[PeriodAmounts]]) -> ImpactTotals:
    totals = ImpactTotals()
    for periods in fams:
        totals.add_family(periods)
    return totals


@given(families, st.integers(0, 30))
def test_merging_batches_equals_one_pass(fams: list[list[PeriodAmounts]], cut: int) -> None:
    whole = _totals_of(fams)
    left, right = _totals_of(fams[:cut]), _totals_of(fams[cut:])
    left.merge(right)
    assert left == whole


@given(families)
def test_totals_agree_per_tranche_and_per_activity(fams: list[list[PeriodAmounts]]) -> None:
    totals = _totals_of(fams)
    assert totals.old_total_cents == sum(totals.old_by_activity.values())
    assert totals.new_total_cents == sum(totals.new_by_activity.values())
    assert sum(totals.families_by_tranche) == totals.families == len(fams)
    for i in range(len(THRESHOLDS_PCT) - 1):  # more than 20 % implies more than 10 % implies more than 5 %
        assert totals.rises_over[i] >= totals.rises_over[i + 1]
        assert totals.falls_over[i] >= totals.falls_over[i + 1]
    assert totals.rises_over[0] + totals.falls_over[0] <= totals.changed
    assert len(totals.top) == min(10, totals.changed)
    sizes = [abs(t.change_cents) for t in totals.top]
    assert sizes == sorted(sizes, reverse=True)


@given(st.lists(st.builds(FamilyChange, st.integers(1, 10), st.integers(0, 10**6), st.integers(0, 10**6))))
def test_median_lies_within_the_tranche_changes(changes: list[FamilyChange]) -> None:
    for m in median_changes(changes):
        group = sorted(c.change_cents for c in changes if c.tranche == m.tranche)
        assert m.families == len(group)
        assert m.median_change_cents == group[(len(group) - 1) // 2]
        below = sum(1 for v in group if v < m.median_change_cents)
        assert below <= len(group) // 2


@given(st.lists(st.builds(TopChange, st.just(0), st.integers(1, 10), st.integers(0, 10**5), st.integers(0, 10**5))))
def test_top_of_tops_is_top_of_all(changes: list[TopChange]) -> None:
    halves = largest_changes(changes[::2]) + largest_changes(changes[1::2])
    assert largest_changes(halves) == largest_changes(changes)


# --- grid validation -------------------------------------------------------------------------------


def test_voted_grid_is_a_valid_proposal() -> None:
    voted = default_grids()[0]
    assert validate_proposed_grid(VOTED, voted).prices == voted.prices


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda g: g["prices"]["cantine"]["per_tranche"].__setitem__(3, -1), "prices.cantine.per_tranche[3]", "non"),
        (lambda g: g["prices"]["cantine"]["per_tranche"].__setitem__(3, 2.5), "prices.cantine.per_tranche[3]", ""),
        (lambda g: g["prices"]["cantine"]["per_tranche"].pop(), "prices.cantine.per_tranche", "10"),
        (lambda g: g["prices"]["cantine"].__setitem__("kind", "forfait"), "prices.cantine.kind", "one of"),
        (lambda g: g.__setitem__("effective_from", "01/09/2027"), "effective_from", "YYYY-MM-DD"),
        (lambda g: g.__setitem__("couleur", "bleu"), "", "unknown fields"),
        (
            lambda g: g["prices"]["cantine"]["per_tranche"].__setitem__(5, 100),
            "prices.cantine.per_tranche[5]",
            "tranche 6",
        ),
        (lambda g: g["prices"].pop("creche"), "prices", "creche"),
        (lambda g: g.__setitem__("id", ""), "id", "non-empty"),
    ],
)
def test_invalid_proposals_name_the_field(mutate: Any, field: str, words: str) -> None:
    raw = grid()
    mutate(raw)
    with pytest.raises(ProposedGridError) as err:
        validate_proposed_grid(raw, default_grids()[0])
    assert err.value.field == field
    assert words in err.value.message


def test_not_an_object() -> None:
    with pytest.raises(ProposedGridError) as err:
        validate_proposed_grid([VOTED])
    assert err.value.field == ""


def test_proposal_applies_on_every_day_with_the_same_pricing_function() -> None:
    """Applied everywhere, the voted grid's own prices give the same invoice as the voted grids."""
    period = period_from_key("2026-09")
    items = [
        AttendanceItem("EN-1", "Léo", "cantine", date(2026, 9, 7), True),
        AttendanceItem("EN-1", "Léo", "cantine", date(2026, 9, 8), False),
        AttendanceItem("EN-1", "Léo", "creche", date(2026, 10, 5), True),
    ]
    family = FamilySnapshot("FA-000001", 4)
    voted = compute_invoice(period, family, items, default_grids())
    proposed = compute_invoice(period, family, items, applied_everywhere(validate_proposed_grid(VOTED)))
    assert voted.lines_by_activity() == proposed.lines_by_activity()
    raised = grid()
    raised["prices"]["cantine"]["per_tranche"][3] = 300
    dearer = compute_invoice(period, family, items, applied_everywhere(validate_proposed_grid(raised)))
    assert dearer.lines_by_activity()["cantine"] == 2 * 300 + 60  # 20 % surcharge on the unregistered meal
