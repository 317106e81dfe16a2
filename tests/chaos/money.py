"""The money invariant of the chaos runs: per invoice, allocations bounded; the ledger balanced per account."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from domain import ledger
from domain.dunning import PAYABLE_STATUSES, own_due, remaining
from ville.models.billing import FamilyAccount, Invoice, LedgerPosting, PaymentAllocation


def check_money(engine: Engine) -> str:
    """Per invoice allocations == paid <= its own amount due (any excess is carried credit, booked in the
    ledger); per family the receivable equals what its open invoices still owe and its credit is never owed by
    the family; every entry balances."""
    with engine.connect() as c:
        allocated = dict(
            c.execute(
                select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount_cents)).group_by(
                    PaymentAllocation.invoice_id
                )
            ).all()
        )
        invoices = c.execute(
            select(
                Invoice.id,
                Invoice.account_id,
                Invoice.amount_due_cents,
                Invoice.previous_unpaid_cents,
                Invoice.paid_cents,
                Invoice.status,
            )
        ).all()
        refs = dict(c.execute(select(FamilyAccount.id, FamilyAccount.ref)).all())
        balances = dict(
            c.execute(
                select(LedgerPosting.account, func.sum(LedgerPosting.debit_cents - LedgerPosting.credit_cents))
                .where(LedgerPosting.account.startswith("receivable:") | LedgerPosting.account.startswith("credit:"))
                .group_by(LedgerPosting.account)
            ).all()
        )
        unbalanced = c.execute(
            select(LedgerPosting.entry_id)
            .group_by(LedgerPosting.entry_id)
            .having(func.sum(LedgerPosting.debit_cents) != func.sum(LedgerPosting.credit_cents))
        ).all()
    over = [
        (i.id, allocated.get(i.id, 0), i.paid_cents, own_due(i.amount_due_cents, i.previous_unpaid_cents))
        for i in invoices
        if not allocated.get(i.id, 0) == i.paid_cents <= own_due(i.amount_due_cents, i.previous_unpaid_cents)
    ]
    assert not over, f"invoices allocated beyond their due (id, allocated, paid, own due): {over[:5]}"
    owed: dict[int, int] = defaultdict(int)
    for i in invoices:
        if i.status in PAYABLE_STATUSES:
            owed[i.account_id] += remaining(i.amount_due_cents, i.previous_unpaid_cents, i.paid_cents)
    wrong = [
        (ref, balances.get(ledger.receivable_account(ref), 0), owed.get(acc, 0))
        for acc, ref in refs.items()
        if balances.get(ledger.receivable_account(ref), 0) != owed.get(acc, 0)
    ]
    assert not wrong, f"receivable != open invoices (ref, receivable, owed): {wrong[:5]}"
    negative_credit = [a for a, b in balances.items() if a.startswith("credit:") and b > 0]
    assert not negative_credit and not unbalanced, (negative_credit[:5], unbalanced[:5])
    credit = -sum(b for a, b in balances.items() if a.startswith("credit:"))
    return (
        f"per invoice, allocations == paid <= amount due, excess carried as credit ({len(invoices)} invoices, "
        f"{credit} cents of credit); ledger balanced per account ({len(refs)} receivables == open invoices)"
    )
