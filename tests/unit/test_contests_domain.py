"""Contest rules: deadline in French business days, reminder and escalation dates, decisions, held-back amounts."""

from __future__ import annotations

from datetime import date

import pytest

from domain.calendar import business_days_between, is_business_day
from domain.contests import (
    REASON_LABEL,
    ContestReason,
    ContestRefused,
    ContestStatus,
    DecisionKind,
    check_decision,
    contested_lines,
    escalation_date,
    family_decision_message,
    family_opened_message,
    held_back,
    operator_escalation_message,
    reminder_date,
    resume_transfer_on,
    review_deadline,
)

ANSWER = "Absence justifiée par le certificat médical joint."


def test_deadline_counts_fifteen_business_days_skipping_french_holidays() -> None:
    # opened Friday 4 Dec 2026: Christmas (Fri 25 Dec) is not counted
    opened = date(2026, 12, 4)
    deadline = review_deadline(opened)
    assert deadline == date(2026, 12, 28)
    assert business_days_between(opened, deadline) == 15
    assert reminder_date(opened) == date(2026, 12, 22)  # three business days before, over Christmas
    assert escalation_date(opened) == date(2026, 12, 29)
    assert all(is_business_day(d) for d in (deadline, reminder_date(opened), escalation_date(opened)))


def test_every_reason_has_a_french_label() -> None:
    assert set(REASON_LABEL) == set(ContestReason)
    assert REASON_LABEL[ContestReason.WRONG_TARIFF] == "Erreur de tarif ou de tranche"


def test_contested_lines_must_be_on_the_invoice_and_not_already_contested() -> None:
    lines = {"cantine": 1_200, "creche": 30_000, "gouter": 0}
    assert contested_lines(lines, ["cantine", "cantine"], []) == {"cantine": 1_200}
    with pytest.raises(ContestRefused, match="au moins une ligne"):
        contested_lines(lines, [], [])
    with pytest.raises(ContestRefused, match=r"inconnue.*piscine"):
        contested_lines(lines, ["piscine"], [])
    with pytest.raises(ContestRefused, match=r"déjà en cours.*cantine"):
        contested_lines(lines, ["cantine", "creche"], ["cantine"])
    with pytest.raises(ContestRefused, match="sans montant"):
        contested_lines(lines, ["gouter"], [])


def test_decisions_partial_within_the_contested_amount_and_a_written_answer() -> None:
    contested = {"cantine": 1_200, "creche": 30_000}
    partial = check_decision(contested, DecisionKind.ACCEPT_PARTIAL, {"cantine": 500}, ANSWER)
    assert partial.credited == {"cantine": 500} and partial.credited_cents == 500
    assert partial.status is ContestStatus.PARTIALLY_ACCEPTED
    full = check_decision(contested, DecisionKind.ACCEPT_FULL, {}, ANSWER)
    assert full.credited_cents == 31_200 and full.status is ContestStatus.ACCEPTED
    # a "partial" granting everything is a full acceptance
    assert check_decision(contested, DecisionKind.ACCEPT_PARTIAL, contested, ANSWER).status is ContestStatus.ACCEPTED
    refused = check_decision(contested, DecisionKind.REFUSE, {"cantine": 500}, ANSWER)
    assert refused.credited == {} and refused.status is ContestStatus.REFUSED
    with pytest.raises(ContestRefused, match="entre 0 et 12,00"):
        check_decision(contested, DecisionKind.ACCEPT_PARTIAL, {"cantine": 1_201}, ANSWER)
    with pytest.raises(ContestRefused, match="non contestée"):
        check_decision(contested, DecisionKind.ACCEPT_PARTIAL, {"gouter": 1}, ANSWER)
    with pytest.raises(ContestRefused, match="indiquez un montant"):
        check_decision(contested, DecisionKind.ACCEPT_PARTIAL, {"cantine": 0}, ANSWER)
    with pytest.raises(ContestRefused, match="entre 10 et 2000") as short:
        check_decision(contested, DecisionKind.REFUSE, {}, "  non     ")
    assert short.value.field == "answer"
    with pytest.raises(ContestRefused):
        check_decision(contested, DecisionKind.REFUSE, {}, "x" * 2001)


def test_dunning_asks_only_for_the_uncontested_rest() -> None:
    assert held_back(31_200, 1_200) == 30_000
    assert held_back(1_000, 1_200) == 0  # partly paid: nothing left to remind
    assert held_back(5_000, 0) == 5_000


def test_a_held_invoice_resumes_its_transfer_after_a_grace() -> None:
    transfer = date(2027, 2, 11)
    assert resume_transfer_on(transfer, date(2027, 1, 4)) == transfer
    assert resume_transfer_on(transfer, date(2027, 3, 1)) == date(2027, 3, 15)


def test_messages_are_french_and_carry_no_free_text() -> None:
    subject, body = family_opened_message("FF-2026-000123", 1_200, date(2026, 12, 29))
    assert "FF-2026-000123" in subject and "12,00" in body and "29/12/2026" in body
    decision = check_decision({"cantine": 1_200}, DecisionKind.ACCEPT_PARTIAL, {"cantine": 500}, ANSWER)
    subject, body = family_decision_message("FF-2026-000123", decision)
    assert "acceptée en partie" in body and "5,00" in body and ANSWER not in body
    refused = check_decision({"cantine": 1_200}, DecisionKind.REFUSE, {}, ANSWER)
    assert "n'a pas été retenue" in family_decision_message("FF-2026-000123", refused)[1]
    assert "29/12/2026" in operator_escalation_message("contest-FF-2026-000123-1", date(2026, 12, 29))[1]
