"""Invoice computation for one family and one period."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.invoicing import (
    AttendanceItem,
    FamilySnapshot,
    InvoiceDraft,
    LineKind,
    RejectionReason,
    compute_invoice,
)
from domain.periods import period_for, period_from_key
from domain.tariffs import PriceKind, TariffGrid, default_grids, load_grids

PERIOD = period_from_key("2026-09")  # 01/09/2026 .. 31/10/2026


def _prices(base: int) -> dict[str, Any]:
    return {
        "cantine": {
            "kind": "unit",
            "label": "Restauration scolaire",
            "unit_label": "repas",
            "per_tranche": [base * t for t in range(1, 11)],
            "unregistered_surcharge_pct": 20,
        },
        "etude": {
            "kind": "unit",
            "label": "Étude surveillée",
            "unit_label": "séance",
            "per_tranche": [base // 2 * t for t in range(1, 11)],
        },
        "creche": {
            "kind": "monthly_flat",
            "label": "Crèche",
            "per_tranche": [base * 100 * t for t in range(1, 11)],
            "unregistered_surcharge_cents": 500,
        },
    }


GRIDS = load_grids(
    [
        {"id": "old", "effective_from": "2020-01-01", "effective_to": "2026-08-31", "prices": _prices(100)},
        {"id": "new", "effective_from": "2026-09-01", "effective_to": None, "prices": _prices(110)},
    ]
)


def item(child: str, activity: str, day: date, registered: bool = True) -> AttendanceItem:
    names = {"C1": "Léa", "C2": "Adam", "C3": "Zoé", "C4": "Élise"}
    return AttendanceItem(child, names[child], activity, day, registered)


def family(tranche: int = 3, unpaid: int = 0, credit: int = 0) -> FamilySnapshot:
    return FamilySnapshot("FA-000001", tranche, unpaid, credit)


def test_lines_per_child_and_activity() -> None:
    items = [
        item("C1", "cantine", date(2026, 9, 7)),
        item("C1", "cantine", date(2026, 9, 8)),
        item("C1", "cantine", date(2026, 10, 1), registered=False),
        item("C2", "creche", date(2026, 9, 2)),
        item("C2", "creche", date(2026, 9, 3)),
        item("C2", "creche", date(2026, 10, 5)),
    ]
    draft = compute_invoice(PERIOD, family(tranche=3), items, GRIDS)
    summary = [
        (ln.child_first_name, ln.kind, ln.label, ln.quantity, ln.unit_price_cents, ln.amount_cents)
        for ln in draft.lines
    ]
    assert summary == [
        ("Adam", LineKind.MONTHLY_FLAT, "Crèche – septembre 2026", 1, 33_000, 33_000),
        ("Adam", LineKind.MONTHLY_FLAT, "Crèche – octobre 2026", 1, 33_000, 33_000),
        ("Léa", LineKind.UNIT, "Restauration scolaire", 3, 330, 990),
        (
            "Léa",
            LineKind.SURCHARGE,
            "Majoration présence sans inscription – Restauration scolaire",
            1,
            66,
            66,
        ),
    ]
    assert draft.lines[0].month == date(2026, 9, 1)
    assert draft.lines[2].unit_label == "repas"
    assert draft.lines[3].unit_label == "présence"
    assert draft.lines_total_cents == 33_000 * 2 + 990 + 66
    assert draft.amount_due_cents == draft.lines_total_cents
    assert draft.lines_by_activity() == {"cantine": 1056, "creche": 66_000}
    assert draft.rejected_items == ()
    assert draft.period == PERIOD and draft.tranche == 3


def test_price_follows_the_grid_in_force_on_each_day() -> None:
    items = [
        item("C1", "cantine", date(2026, 8, 31)),  # not billed before: catch-up at the old price
        item("C1", "cantine", date(2026, 9, 1)),
        item("C1", "cantine", date(2026, 9, 2)),
    ]
    lines = compute_invoice(PERIOD, family(tranche=1), items, GRIDS).lines
    assert [(ln.grid_id, ln.quantity, ln.unit_price_cents, ln.catch_up) for ln in lines] == [
        ("old", 1, 100, True),
        ("new", 2, 110, False),
    ]
    assert lines[0].label == "Restauration scolaire – prestations antérieures non facturées"


def test_items_older_than_two_years_or_after_the_period_are_rejected() -> None:
    oldest_ok = item("C1", "etude", date(2024, 9, 1))
    too_old = item("C1", "etude", date(2024, 8, 31))
    later = item("C1", "etude", date(2026, 11, 2))
    draft = compute_invoice(PERIOD, family(), [later, too_old, oldest_ok], GRIDS)
    assert [(ln.quantity, ln.catch_up) for ln in draft.lines] == [(1, True)]
    assert [(r.item, r.reason) for r in draft.rejected_items] == [
        (too_old, RejectionReason.TOO_OLD),
        (later, RejectionReason.AFTER_PERIOD),
    ]
    assert "2 ans" in RejectionReason.TOO_OLD.message_fr


def test_unknown_activity_and_missing_grid_are_rejected() -> None:
    unknown = item("C1", "piscine", date(2026, 9, 9))
    no_grid = item("C1", "cantine", date(2019, 12, 31))
    draft = compute_invoice(period_from_key("2021-09"), family(), [unknown, no_grid], GRIDS)
    reasons = {r.item.activity_code: r.reason for r in draft.rejected_items}
    assert reasons == {"cantine": RejectionReason.NO_GRID, "piscine": RejectionReason.AFTER_PERIOD}
    draft = compute_invoice(PERIOD, family(), [unknown], GRIDS)
    assert draft.rejected_items[0].reason is RejectionReason.UNKNOWN_ACTIVITY
    assert draft.is_empty


def test_monthly_flat_once_per_month_with_fixed_surcharge() -> None:
    items = [item("C3", "creche", date(2026, 9, d), registered=d != 9) for d in (7, 8, 9, 10)]
    draft = compute_invoice(PERIOD, family(tranche=1), items, GRIDS)
    assert [(ln.kind, ln.quantity, ln.amount_cents) for ln in draft.lines] == [
        (LineKind.MONTHLY_FLAT, 1, 11_000),
        (LineKind.SURCHARGE, 1, 500),
    ]


def test_no_surcharge_line_when_the_grid_has_none() -> None:
    draft = compute_invoice(PERIOD, family(), [item("C1", "etude", date(2026, 9, 7), registered=False)], GRIDS)
    assert [ln.kind for ln in draft.lines] == [LineKind.UNIT]


def test_previous_unpaid_is_recalled_and_credit_carried_forward() -> None:
    items = [item("C1", "cantine", date(2026, 9, 7))]  # 330
    draft = compute_invoice(PERIOD, family(unpaid=1_000, credit=5_000), items, GRIDS)
    assert (draft.lines_total_cents, draft.previous_unpaid_cents) == (330, 1_000)
    assert (draft.credit_applied_cents, draft.credit_remaining_cents, draft.amount_due_cents) == (
        1_330,
        3_670,
        0,
    )
    draft = compute_invoice(PERIOD, family(unpaid=1_000, credit=200), items, GRIDS)
    assert (draft.credit_applied_cents, draft.credit_remaining_cents, draft.amount_due_cents) == (
        200,
        0,
        1_130,
    )
    assert not compute_invoice(PERIOD, family(unpaid=1), [], GRIDS).is_empty


def test_children_in_alphabetical_order_ignoring_accents() -> None:
    items = [item(c, "etude", date(2026, 9, 7)) for c in ("C3", "C4", "C1", "C2")]
    lines = compute_invoice(PERIOD, family(), items, GRIDS).lines
    assert [ln.child_first_name for ln in lines] == ["Adam", "Élise", "Léa", "Zoé"]


def test_child_name_comes_from_the_latest_item() -> None:
    items = [
        AttendanceItem("C1", "Lea", "cantine", date(2026, 9, 7), True),
        AttendanceItem("C1", "Léa", "cantine", date(2026, 9, 8), True),
    ]
    assert compute_invoice(PERIOD, family(), items, GRIDS).lines[0].child_first_name == "Léa"


@pytest.mark.parametrize("kwargs", [{"tranche": 0}, {"tranche": 11}, {"unpaid": -1}, {"credit": -1}])
def test_family_snapshot_is_validated(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        family(**kwargs)


def test_default_grid_prices_a_canteen_meal_at_tranche_10() -> None:
    items = [item("C1", "cantine", date(2026, 9, 7))]
    draft = compute_invoice(PERIOD, family(tranche=10), items, default_grids())
    assert draft.lines[0].amount_cents == 700


# Property tests: random families against the two grids above.
_days = st.dates(min_value=date(2024, 6, 1), max_value=date(2026, 11, 30))
_items = st.builds(
    AttendanceItem,
    child_ref=st.sampled_from(["C1", "C2", "C3"]),
    child_first_name=st.sampled_from(["Léa", "Adam"]),
    activity_code=st.sampled_from(["cantine", "etude", "creche", "piscine"]),
    day=_days,
    registered=st.booleans(),
)
_families = st.builds(
    FamilySnapshot,
    account_ref=st.just("FA-000042"),
    tranche=st.integers(min_value=1, max_value=10),
    previous_unpaid_cents=st.integers(min_value=0, max_value=500_000),
    credit_cents=st.integers(min_value=0, max_value=500_000),
)


def _grid(grids: list[TariffGrid], day: date) -> TariffGrid:
    return grids[0] if day < date(2026, 9, 1) else grids[1]


@settings(max_examples=300)
@given(_families, st.lists(_items, max_size=80))
def test_invoice_totals_and_money_conservation(fam: FamilySnapshot, items: list[AttendanceItem]) -> None:
    draft = compute_invoice(PERIOD, fam, items, GRIDS)
    assert draft.lines_total_cents == sum(ln.amount_cents for ln in draft.lines)
    assert all(ln.amount_cents == ln.quantity * ln.unit_price_cents for ln in draft.lines)
    assert draft.amount_due_cents >= 0
    assert draft.credit_remaining_cents >= 0
    assert draft.credit_applied_cents + draft.credit_remaining_cents == fam.credit_cents
    assert draft.lines_total_cents + fam.previous_unpaid_cents == draft.amount_due_cents + draft.credit_applied_cents
    assert draft.credit_remaining_cents == 0 or draft.amount_due_cents == 0
    assert sum(draft.lines_by_activity().values()) == draft.lines_total_cents

    # Every item is either billed or rejected, at the price of the grid in force on its day.
    rejected = [r.item for r in draft.rejected_items]
    billed = [it for it in items if it not in rejected]
    assert len(billed) + len(rejected) == len(items)
    units = [it for it in billed if _grid(GRIDS, it.day).prices[it.activity_code].kind is PriceKind.UNIT]
    assert sum(ln.quantity for ln in draft.lines if ln.kind is LineKind.UNIT) == len(units)
    flat_months = {(it.child_ref, it.activity_code, it.day.replace(day=1)) for it in billed} - {
        (it.child_ref, it.activity_code, it.day.replace(day=1)) for it in units
    }
    assert {
        (ln.child_ref, ln.activity_code, ln.month) for ln in draft.lines if ln.kind is LineKind.MONTHLY_FLAT
    } == flat_months
    unregistered_meals = sum(1 for it in units if not it.registered and it.activity_code == "cantine")
    surcharged = [ln for ln in draft.lines if ln.kind is LineKind.SURCHARGE]
    assert sum(ln.quantity for ln in surcharged if ln.activity_code == "cantine") == unregistered_meals
    assert not any(ln.activity_code == "etude" for ln in surcharged)  # its grid has no surcharge
    cutoff = date(2024, 9, 1)
    for it in billed:
        assert cutoff <= it.day <= PERIOD.end
    for it in rejected:
        assert not cutoff <= it.day <= PERIOD.end or it.activity_code == "piscine"


@settings(max_examples=100)
@given(_families, st.lists(_items, max_size=40), st.randoms(use_true_random=False))
def test_invoice_does_not_depend_on_item_order(fam: FamilySnapshot, items: list[AttendanceItem], rnd: Any) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)
    first: InvoiceDraft = compute_invoice(PERIOD, fam, items, GRIDS)
    assert compute_invoice(PERIOD, fam, shuffled, GRIDS) == first


def test_eighty_items_family_is_cheap_to_represent() -> None:
    start = period_for(date(2026, 9, 1)).start
    items = [item("C1", "cantine", start + timedelta(days=i)) for i in range(40)]
    items += [item("C2", "creche", start + timedelta(days=i)) for i in range(40)]
    draft = compute_invoice(PERIOD, family(), items, GRIDS)
    assert [ln.quantity for ln in draft.lines] == [1, 1, 40]  # Adam's 2 crèche months, Léa's 40 meals
