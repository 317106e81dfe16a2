"""Payment plan rules: who may ask, the schedule, cumulative coverage, misses and default, contests."""

from __future__ import annotations

from datetime import date

import pytest

from domain.calendar import is_business_day
from domain.payment_plans import (
    MAX_INSTALMENTS,
    SILENCE_ANSWER,
    DecisionKind,
    InstalmentStatus,
    PlanRefused,
    PlanStatus,
    catch_up_deadline,
    check_count,
    check_decision,
    check_request,
    covered,
    decision_deadline,
    defaults,
    due_through,
    ended,
    max_instalments,
    missing,
    next_due,
    notice_message,
    paid_early,
    schedule,
    silent_decision,
    statuses,
)

OK = {"payable": True, "plan_in_progress": False, "defaulted_before": False, "reason": "Perte d'emploi ce mois-ci."}


def test_schedule_sums_exactly_monthly_on_business_days() -> None:
    plan = schedule(100_01, 3, date(2026, 11, 3))
    assert [i.amount_cents for i in plan] == [33_34, 33_34, 33_33]
    assert sum(i.amount_cents for i in plan) == 100_01
    # 03/12/2026, 03/01/2027 is a Sunday -> Monday 04/01, 03/02/2027
    assert [i.due_on for i in plan] == [date(2026, 12, 3), date(2027, 1, 4), date(2027, 2, 3)]
    assert all(is_business_day(i.due_on) for i in plan)
    assert plan[0].notice_on == date(2026, 11, 26) and plan[0].check_on == date(2026, 12, 10)


def test_schedule_from_31st_is_clamped_to_month_end() -> None:
    plan = schedule(90_00, 2, date(2027, 1, 29))
    assert plan[0].due_on == date(2027, 3, 1)  # 28/02/2027 is a Sunday


@pytest.mark.parametrize("count", [1, 7, 0, -2])
def test_count_outside_two_to_six_names_the_field(count: int) -> None:
    with pytest.raises(PlanRefused) as err:
        check_count(1000_00, count)
    assert err.value.field == "count" and "entre 2 et 6" in err.value.message_fr


def test_minimum_instalment_limits_the_count() -> None:
    assert max_instalments(45_00) == 3 and max_instalments(1000_00) == MAX_INSTALMENTS
    with pytest.raises(PlanRefused) as err:
        check_count(45_00, 4)
    assert err.value.field == "count" and "3 échéances au plus" in err.value.message_fr


def test_who_may_ask() -> None:
    assert check_request(remaining_cents=120_00, count=3, **OK) == (3, OK["reason"])
    for change, field in [
        ({"payable": False}, "invoice"),
        ({"plan_in_progress": True}, "invoice"),
        ({"defaulted_before": True}, "invoice"),
        ({"reason": "court"}, "reason"),
    ]:
        with pytest.raises(PlanRefused) as err:
            check_request(remaining_cents=120_00, count=3, **{**OK, **change})  # type: ignore[arg-type]
        assert err.value.field == field
    with pytest.raises(PlanRefused) as err:
        check_request(remaining_cents=29_99, count=2, **OK)  # type: ignore[arg-type]
    assert err.value.field == "invoice" and "30,00" in err.value.message_fr


def test_coverage_is_cumulative_and_a_catch_up_counts() -> None:
    plan = schedule(90_00, 3, date(2026, 11, 3))
    assert missing(plan, 1, covered(90_00, 90_00)) == 30_00
    # nothing paid for the first, the second asks for both
    assert missing(plan, 2, 0) == 60_00
    assert statuses(plan, 1, 0) == [InstalmentStatus.MISSED, InstalmentStatus.UPCOMING, InstalmentStatus.UPCOMING]
    # caught up: 60 € paid before the second check
    assert statuses(plan, 2, 60_00) == [InstalmentStatus.PAID, InstalmentStatus.PAID, InstalmentStatus.UPCOMING]
    assert ended(statuses(plan, 1, 30_00))[2] is InstalmentStatus.CANCELLED
    assert not defaults(1) and defaults(2)
    assert paid_early(0) and not paid_early(1)
    assert catch_up_deadline(date(2027, 2, 10)) == date(2027, 2, 24)


def test_open_contest_leaves_the_end_of_the_schedule() -> None:
    plan = schedule(90_00, 3, date(2026, 11, 3))
    # 40 € contested: the first instalment is asked in full, the second only up to the uncontested 50 €
    assert due_through(plan, 1, 40_00) == 30_00
    assert due_through(plan, 2, 40_00) == 50_00 and due_through(plan, 3, 40_00) == 50_00
    assert missing(plan, 2, 30_00, 40_00) == 20_00
    # accepted: the 40 € credit note covers like a payment, nothing more is held
    assert missing(plan, 3, 30_00 + 20_00 + 40_00, 0) == 0


def test_decision_rules() -> None:
    answer = "Accordé au vu de votre situation."
    assert check_decision(3, DecisionKind.APPROVE, None, answer).count == 3
    adjusted = check_decision(3, DecisionKind.ADJUST, 5, answer)
    assert adjusted.count == 5 and adjusted.status is PlanStatus.APPROVED
    assert check_decision(3, DecisionKind.REFUSE, None, answer).status is PlanStatus.REFUSED
    with pytest.raises(PlanRefused) as err:
        check_decision(3, DecisionKind.ADJUST, 9, answer)
    assert err.value.field == "count"
    with pytest.raises(PlanRefused) as err:
        check_decision(3, DecisionKind.REFUSE, None, "non")
    assert err.value.field == "answer"


def test_notice_says_debit_or_card() -> None:
    first = schedule(90_00, 3, date(2026, 11, 3))[0]
    assert "prélevé" in notice_message("FF-1", first, 30_00, True)[1]
    assert "carte bancaire" in notice_message("FF-1", first, 30_00, False)[1]
    assert "30,00" in notice_message("FF-1", first, 30_00, False)[1]


def test_next_due_is_the_first_instalment_not_covered() -> None:
    plan = schedule(90_00, 3, date(2026, 11, 3))
    assert next_due(plan, 0) == (plan[0], 30_00)
    assert next_due(plan, 40_00) == (plan[1], 20_00)
    assert next_due(plan, 90_00) is None


def test_an_unanswered_request_is_granted_as_asked_after_fifteen_business_days() -> None:
    # 11 November and Christmas are holidays; weekends do not count
    assert decision_deadline(date(2026, 11, 2)) == date(2026, 11, 24)
    assert decision_deadline(date(2026, 12, 14)) == date(2027, 1, 6)
    granted = silent_decision(4, approval_failed=False)
    assert (granted.kind, granted.count, granted.status) == (DecisionKind.APPROVE, 4, PlanStatus.APPROVED)
    assert granted.answer == SILENCE_ANSWER
    refused = silent_decision(4, approval_failed=True)
    assert (refused.kind, refused.count, refused.status) == (DecisionKind.REFUSE, 0, PlanStatus.REFUSED)
