"""Billing-area contracts typed `date | None` read the `""` older histories wrote for "unset" as None."""

from datetime import date

import pytest
from temporalio.converter import DataConverter

from contracts.billing import (
    BatchRequest,
    BatchTotalsView,
    CyclePhase,
    CycleProgress,
    CycleState,
    PaymentState,
    PlanResult,
)
from contracts.contests import ContestView, LineContestInput
from contracts.payment_plans import PaymentPlanInput, PlanOutcome
from ville.temporal import PayloadConverter

BEFORE = DataConverter.default.payload_converter  # how the str-typed contracts were written


def test_an_empty_string_reads_as_none_for_an_optional_date() -> None:
    [payload] = BEFORE.to_payloads([{"period_key": "2026-09", "lo": 0, "hi": 500, "issue_date": "", "due_date": ""}])
    [req] = PayloadConverter().from_payloads([payload], [BatchRequest])
    assert req == BatchRequest("2026-09", 0, 500, None, None)


def test_a_recorded_cycle_state_reads_back_typed() -> None:
    [payload] = BEFORE.to_payloads([{"phase": "issuing", "issue_date": "2026-11-02", "due_date": ""}])
    [state] = PayloadConverter().from_payloads([payload], [CycleState])
    assert (state.issue_date, state.due_date) == (date(2026, 11, 2), None)


def test_an_empty_string_is_still_refused_for_a_required_date() -> None:
    [payload] = BEFORE.to_payloads([{"bounds": [], "families": 0, "issue_date": "", "due_date": "", "dunning": []}])
    with pytest.raises(TypeError, match="field issue_date"):
        PayloadConverter().from_payloads([payload], [PlanResult])


def test_dates_write_the_iso_strings_the_str_contracts_wrote() -> None:
    typed = [
        BatchRequest("2026-09", 0, 500, date(2026, 11, 2), date(2026, 12, 28)),
        LineContestInput("contest-FF-1-1", "FF-1", 7, {"cantine": 1200}, date(2027, 1, 4)),
        PaymentPlanInput("payment-plan-FF-1-1", "FF-1", 7, 3, date(2027, 1, 4)),
        PlanOutcome("payment-plan-FF-1-1", "approved", "ok", 3, date(2027, 1, 5), [(date(2027, 2, 5), 100)]),
    ]
    before = [
        {"period_key": "2026-09", "lo": 0, "hi": 500, "issue_date": "2026-11-02", "due_date": "2026-12-28"},
        {
            "contest_id": "contest-FF-1-1",
            "invoice_number": "FF-1",
            "account_id": 7,
            "lines": {"cantine": 1200},
            "opened_on": "2027-01-04",
        },
        {
            "plan_id": "payment-plan-FF-1-1",
            "invoice_number": "FF-1",
            "account_id": 7,
            "asked_count": 3,
            "requested_on": "2027-01-04",
        },
        {
            "plan_id": "payment-plan-FF-1-1",
            "status": "approved",
            "answer": "ok",
            "operator_user_id": 3,
            "decided_on": "2027-01-05",
            "instalments": [["2027-02-05", 100]],
        },
    ]
    ours = PayloadConverter().to_payloads(typed)
    assert ours == BEFORE.to_payloads(before)
    assert PayloadConverter().from_payloads(ours, [type(t) for t in typed]) == typed


def test_query_answers_carry_dates_and_none() -> None:
    converter = PayloadConverter()
    view = ContestView("contest-FF-1-1", "open", date(2027, 1, 4), date(2027, 1, 18), False, False)
    state = PaymentState(1, False, "open", None, [])
    progress = CycleProgress("2026-09", CyclePhase.PLANNING, False, False, 0, 0, [], 0, BatchTotalsView(), None, [])
    payloads = converter.to_payloads([view, state, progress])
    assert converter.from_payloads(payloads, [ContestView, PaymentState, CycleProgress]) == [view, state, progress]
