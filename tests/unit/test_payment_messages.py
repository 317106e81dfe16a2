"""What the payment workflow answers a family (domain.payment_messages) and when an invoice is settled."""

import pytest

from domain import payment_messages as msg
from domain.dunning import PAYABLE_STATUSES, SETTLED_STATUSES, InvoiceStatus


@pytest.mark.parametrize(
    ("busy", "settled", "amount", "method", "problem"),
    [
        (False, False, 1200, "pm_card_visa", None),
        (True, False, 1200, "pm_card_visa", msg.PAYMENT_IN_PROGRESS),
        (True, True, 1200, "pm_card_visa", msg.PAYMENT_IN_PROGRESS),  # the attempt in flight is named first
        (False, True, 1200, "pm_card_visa", msg.ALREADY_SETTLED),
        (False, False, 0, "pm_card_visa", msg.AMOUNT_NOT_POSITIVE),
        (False, False, -5, "pm_card_visa", msg.AMOUNT_NOT_POSITIVE),
        (False, False, 1200, "card_visa", msg.INVALID_PAYMENT_METHOD),
    ],
)
def test_card_request_problem(busy: bool, settled: bool, amount: int, method: str, problem: str | None) -> None:
    assert msg.card_request_problem(busy, settled, amount, method) == problem


def test_settled_invoices_are_no_longer_payable() -> None:
    assert {"paid", "transferred", "cancelled"} == set(SETTLED_STATUSES)
    assert not SETTLED_STATUSES & PAYABLE_STATUSES
    assert "paid" in SETTLED_STATUSES and InvoiceStatus.PARTIALLY_PAID not in SETTLED_STATUSES
