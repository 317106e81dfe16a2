"""Payment rules: settlement, overpayment tolerance, refunds, CESU share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.dunning import InvoiceStatus
from domain.invoicing import AttendanceItem, FamilySnapshot, compute_invoice
from domain.money import NBSP
from domain.payments import (
    CesuRefused,
    OverpaymentRefused,
    PaymentOutcome,
    PaymentRefused,
    RefundOutcome,
    RefundRefused,
    apply_payment,
    apply_refund,
    cesu_eligible_cents,
    check_cesu_payment,
)
from domain.periods import period_from_key
from domain.tariffs import default_grids


def test_full_and_partial_payments() -> None:
    assert apply_payment(10_000, 0, 10_000) == PaymentOutcome(10_000, 0, InvoiceStatus.PAID)
    assert apply_payment(10_000, 0, 4_000) == PaymentOutcome(4_000, 0, InvoiceStatus.PARTIALLY_PAID)
    assert apply_payment(10_000, 4_000, 6_000) == PaymentOutcome(6_000, 0, InvoiceStatus.PAID)


def test_overpayment_up_to_500_euros_becomes_credit() -> None:
    assert apply_payment(10_000, 0, 60_000) == PaymentOutcome(10_000, 50_000, InvoiceStatus.PAID)
    assert apply_payment(10_000, 10_000, 2_000) == PaymentOutcome(0, 2_000, InvoiceStatus.PAID)
    with pytest.raises(OverpaymentRefused) as refused:
        apply_payment(10_000, 0, 60_001)
    assert refused.value.message_fr == str(refused.value)
    assert f"600,01{NBSP}€" in refused.value.message_fr and f"500,00{NBSP}€" in refused.value.message_fr
    assert apply_payment(10_000, 0, 10_100, tolerance_cents=100).overpayment_credit_cents == 100
    with pytest.raises(OverpaymentRefused):
        apply_payment(10_000, 0, 10_101, tolerance_cents=100)


@pytest.mark.parametrize(("due", "paid", "payment"), [(100, 0, 0), (100, 0, -5), (-1, 0, 5), (100, -1, 5)])
def test_invalid_payments(due: int, paid: int, payment: int) -> None:
    with pytest.raises(ValueError):
        apply_payment(due, paid, payment)


@given(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=1, max_value=10**7),
)
def test_payments_conserve_money(due: int, already: int, payment: int) -> None:
    outstanding = max(0, due - already)
    try:
        outcome = apply_payment(due, already, payment)
    except OverpaymentRefused:
        assert payment - outstanding > 50_000
        return
    assert outcome.applied_cents + outcome.overpayment_credit_cents == payment
    assert 0 <= outcome.applied_cents <= outstanding
    assert 0 <= outcome.overpayment_credit_cents <= 50_000
    assert outcome.overpayment_credit_cents == 0 or outcome.new_status is InvoiceStatus.PAID


def test_refunds_never_exceed_what_was_paid() -> None:
    assert apply_refund(10_000, 0, 3_000) == RefundOutcome(3_000, 7_000)
    assert apply_refund(10_000, 3_000, 7_000) == RefundOutcome(10_000, 0)
    with pytest.raises(RefundRefused) as refused:
        apply_refund(10_000, 3_000, 7_001)
    assert "70,00" in refused.value.message_fr
    with pytest.raises(ValueError):
        apply_refund(10_000, 0, 0)
    with pytest.raises(ValueError):
        apply_refund(10_000, 10_001, 1)


@given(
    st.integers(min_value=0, max_value=10**6),
    st.lists(st.integers(min_value=1, max_value=10**5), max_size=20),
)
def test_successive_refunds_stay_within_paid(paid: int, refunds: list[int]) -> None:
    refunded = 0
    for amount in refunds:
        try:
            outcome = apply_refund(paid, refunded, amount)
        except RefundRefused:
            assert refunded + amount > paid
            continue
        refunded = outcome.refunded_total_cents
        assert outcome.refunded_total_cents + outcome.refundable_left_cents == paid
    assert 0 <= refunded <= paid


@dataclass(frozen=True)
class Row:
    activity_code: str
    amount_cents: int


def test_cesu_share_of_an_invoice() -> None:
    rows = [Row("creche", 24_000), Row("cantine", 3_000), Row("gouter", 450), Row("centre_loisirs", 640)]
    assert cesu_eligible_cents(rows) == 24_000 + 450 + 640
    assert cesu_eligible_cents(rows, allowed={"cantine"}) == 3_000
    items = [
        AttendanceItem("C1", "Léa", "creche", date(2026, 9, 7), True),
        AttendanceItem("C1", "Léa", "cantine", date(2026, 9, 7), True),
    ]
    draft = compute_invoice(period_from_key("2026-09"), FamilySnapshot("FA-1", 5), items, default_grids())
    assert cesu_eligible_cents(draft.lines) == 24_000


def test_cesu_payment_limited_to_the_eligible_share() -> None:
    check_cesu_payment(10_000, 4_000, 6_000)
    with pytest.raises(CesuRefused) as refused:
        check_cesu_payment(10_000, 4_000, 6_001)
    assert isinstance(refused.value, PaymentRefused)
    assert "CESU" in refused.value.message_fr
