"""Money rules of the one-writer guard: overpayment cap, bounds of a paid amount, credit notes, key fingerprints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.money_guard import (
    MAX_CARRIED_CREDIT_CENTS,
    CreditNoteRefused,
    IdempotencyConflict,
    LineAmount,
    allocation_fits,
    check_credit_note,
    check_overpayment,
    check_same_operation,
    fingerprint,
)
from domain.payments import OverpaymentRefused


def test_overpayment_up_to_the_cap_is_credit_and_beyond_is_refused_in_french() -> None:
    assert check_overpayment(23_100, 23_100) == 0
    assert check_overpayment(23_100 + MAX_CARRIED_CREDIT_CENTS, 23_100) == MAX_CARRIED_CREDIT_CENTS
    with pytest.raises(OverpaymentRefused, match="dépasse le reste à payer"):
        check_overpayment(23_101 + MAX_CARRIED_CREDIT_CENTS, 23_100)
    assert check_overpayment(500, 0) == 500  # nothing due: all of it is credit


@given(st.integers(0, 10**7), st.integers(0, 10**7), st.integers(-(10**7), 10**7))
def test_a_paid_amount_stays_between_zero_and_the_own_due(own_due: int, paid: int, delta: int) -> None:
    assert allocation_fits(own_due, paid, delta) == (0 <= paid + delta <= own_due)


def test_credit_notes_only_on_billed_activities_within_what_is_left() -> None:
    lines = [LineAmount("cantine", 3_000), LineAmount("cantine", 1_000), LineAmount("creche", 20_000)]
    check_credit_note(lines, {"cantine": 1_000}, {"cantine": 3_000, "creche": 20_000})
    with pytest.raises(CreditNoteRefused) as absent:
        check_credit_note(lines, {}, {"conservatoire": 100})
    assert absent.value.field == "body.amounts_by_activity.conservatoire" and "ne figure pas" in absent.value.message_fr
    with pytest.raises(CreditNoteRefused) as above:
        check_credit_note(lines, {"cantine": 1_000}, {"cantine": 3_001})
    assert above.value.field == "body.amounts_by_activity.cantine" and "30,00" in above.value.message_fr


def test_a_key_is_bound_to_its_content() -> None:
    first = fingerprint("counter", "FF-2026-000031", "cheque", 23_100, "CHQ-SEC-1")
    assert first == fingerprint("counter", "FF-2026-000031", "cheque", 23_100, "CHQ-SEC-1")
    check_same_operation(first, first)
    for other in (
        fingerprint("counter", "FF-2026-000032", "cheque", 23_100, "CHQ-SEC-1"),
        fingerprint("counter", "FF-2026-000031", "cash_counter", 23_100, "CHQ-SEC-1"),
        fingerprint("counter", "FF-2026-000031", "cheque", 23_101, "CHQ-SEC-1"),
    ):
        with pytest.raises(IdempotencyConflict, match="clé"):
            check_same_operation(first, other)
