"""Double-entry ledger."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.ledger import (
    CASH_CESU,
    CASH_COUNTER,
    CASH_STRIPE,
    TRESOR_TRANSFER,
    EntryKind,
    JournalEntry,
    Posting,
    UnbalancedEntry,
    balance,
    balances,
    cash_account_for,
    credit_account,
    entry_for_credit_application,
    entry_for_credit_note,
    entry_for_invoice,
    entry_for_overpayment_credit,
    entry_for_payment,
    entry_for_refund,
    entry_for_transfer,
    receivable_account,
    revenue_account,
)
from domain.payments import OverpaymentRefused, PaymentMethod, apply_payment

ACC = "FA-000001"
RECEIVABLE, CREDIT = receivable_account(ACC), credit_account(ACC)


def test_invoice_entry() -> None:
    entry = entry_for_invoice("FF-2026-000001", ACC, {"creche": 24_000, "cantine": 1_000, "etude": 0})
    assert entry.key == "invoice:FF-2026-000001" and entry.kind is EntryKind.INVOICE
    assert entry.postings == (
        Posting(RECEIVABLE, debit_cents=25_000),
        Posting("revenue:cantine", credit_cents=1_000),
        Posting("revenue:creche", credit_cents=24_000),
    )


def test_a_family_lifecycle_balances_out() -> None:
    inv1 = entry_for_invoice("FF-2026-000001", ACC, {"cantine": 10_000})
    outcome = apply_payment(10_000, 0, 12_000)
    pay = entry_for_payment("pi_1", ACC, PaymentMethod.CARD, 12_000)
    over = entry_for_overpayment_credit("pi_1", ACC, outcome.overpayment_credit_cents)
    inv2 = entry_for_invoice("FF-2026-000002", ACC, {"creche": 30_000})
    used = entry_for_credit_application("FF-2026-000002", ACC, 2_000)
    note = entry_for_credit_note("AV-1", ACC, {"creche": 5_000})
    cheque = entry_for_payment("chq-1", ACC, PaymentMethod.CHEQUE, 3_000)
    transfer = entry_for_transfer("FF-2026-000002", ACC, 20_000)
    entries = [inv1, pay, over, inv2, used, note, cheque, transfer]
    assert balance(entries, RECEIVABLE) == 0
    assert balance(entries, CREDIT) == 0
    assert balance(entries, CASH_STRIPE) == 12_000
    assert balance(entries, CASH_COUNTER) == 3_000
    assert balance(entries, TRESOR_TRANSFER) == 20_000
    assert balance(entries, revenue_account("creche")) == -25_000
    assert sum(balances(entries).values()) == 0
    assert len({e.key for e in entries}) == len(entries)


def test_refunds_from_receivable_or_credit() -> None:
    refund = entry_for_refund("re_1", ACC, PaymentMethod.CARD, 500)
    assert refund.postings == (Posting(RECEIVABLE, debit_cents=500), Posting(CASH_STRIPE, credit_cents=500))
    refund = entry_for_refund("re_2", ACC, PaymentMethod.CASH_COUNTER, 500, from_credit=True)
    assert refund.postings == (Posting(CREDIT, debit_cents=500), Posting(CASH_COUNTER, credit_cents=500))


def test_cash_accounts() -> None:
    assert cash_account_for(PaymentMethod.SEPA_DEBIT) == CASH_STRIPE
    assert cash_account_for(PaymentMethod.CESU) == CASH_CESU
    with pytest.raises(ValueError):
        cash_account_for(PaymentMethod.CREDIT_NOTE)


@pytest.mark.parametrize(
    "postings",
    [
        (Posting("a", debit_cents=100),),
        (Posting("a", debit_cents=100), Posting("b", credit_cents=99)),
        (Posting("a", debit_cents=100, credit_cents=100), Posting("b", debit_cents=0, credit_cents=0)),
        (Posting("a", debit_cents=-100), Posting("b", credit_cents=-100)),
        (Posting("a"), Posting("b")),
    ],
)
def test_validate_rejects_broken_entries(postings: tuple[Posting, ...]) -> None:
    with pytest.raises(UnbalancedEntry):
        JournalEntry("k", EntryKind.PAYMENT, postings).validate()


def test_builders_refuse_empty_or_negative_amounts() -> None:
    with pytest.raises(UnbalancedEntry):
        entry_for_invoice("FF-2026-000001", ACC, {"cantine": 0})
    with pytest.raises(UnbalancedEntry):
        entry_for_invoice("FF-2026-000001", ACC, {"cantine": -5})
    with pytest.raises(UnbalancedEntry):
        entry_for_payment("p", ACC, PaymentMethod.CARD, 0)
    with pytest.raises(UnbalancedEntry):
        JournalEntry("", EntryKind.PAYMENT, (Posting("a", 1), Posting("b", credit_cents=1))).validate()


_amount = st.integers(min_value=1, max_value=10**7)
_activities = st.dictionaries(st.sampled_from(["cantine", "creche", "etude"]), _amount, min_size=1)
_methods = st.sampled_from([m for m in PaymentMethod if m is not PaymentMethod.CREDIT_NOTE])
_entries = st.one_of(
    st.builds(entry_for_invoice, st.just("FF-2026-000001"), st.just(ACC), _activities),
    st.builds(entry_for_credit_note, st.just("AV-1"), st.just(ACC), _activities),
    st.builds(entry_for_payment, st.just("p"), st.just(ACC), _methods, _amount),
    st.builds(entry_for_refund, st.just("r"), st.just(ACC), _methods, _amount, from_credit=st.booleans()),
    st.builds(entry_for_overpayment_credit, st.just("p"), st.just(ACC), _amount),
    st.builds(entry_for_credit_application, st.just("FF-2026-000001"), st.just(ACC), _amount),
    st.builds(entry_for_transfer, st.just("FF-2026-000001"), st.just(ACC), _amount),
)


@given(st.lists(_entries, max_size=30))
def test_ledger_is_always_balanced(entries: list[JournalEntry]) -> None:
    for e in entries:
        assert e.validate() is e
        assert sum(p.debit_cents for p in e.postings) == sum(p.credit_cents for p in e.postings)
    assert sum(balances(entries).values()) == 0
    for account, value in balances(entries).items():
        assert balance(entries, account) == value


@given(_amount, st.lists(st.integers(min_value=1, max_value=200_000), max_size=8))
def test_payments_and_credit_conserve_money(due: int, payments: list[int]) -> None:
    entries = [entry_for_invoice("FF-2026-000001", ACC, {"cantine": due})]
    paid = 0
    for i, amount in enumerate(payments):
        try:
            outcome = apply_payment(due, paid, amount)
        except OverpaymentRefused:
            continue
        paid += outcome.applied_cents
        entries.append(entry_for_payment(f"p{i}", ACC, PaymentMethod.CARD, amount))
        if outcome.overpayment_credit_cents:
            entries.append(entry_for_overpayment_credit(f"p{i}", ACC, outcome.overpayment_credit_cents))
    assert balance(entries, RECEIVABLE) == due - paid
    assert balance(entries, CASH_STRIPE) == -balance(entries, CREDIT) + paid
