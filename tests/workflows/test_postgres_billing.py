"""The batch issue path on PostgreSQL (production's database): COPY seeding, numbering, ledger."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, text

from domain.due_dates import due_date
from domain.numbering import check_gapless
from services.billing import BillingStore
from stack.billing_demo import billing_period_to_seed
from stack.demo import seed_demo
from ville.db import SessionFactory, make_engine
from ville.models.billing import Invoice, LedgerPosting
from ville.settings import Settings


def test_issue_batches_on_postgres(postgres_url: str) -> None:
    today = date(2026, 11, 25)
    seed_demo(Settings(database_url=postgres_url, _env_file=None), families=120, today=today, force=True)
    engine = make_engine(postgres_url)
    store = BillingStore(SessionFactory(engine))
    period = billing_period_to_seed(today)
    with engine.connect() as c:
        attending = c.execute(text("SELECT count(DISTINCT account_id) FROM attendance")).scalar_one()
    bounds, families = store.batch_bounds(period, 50)
    assert families == attending > 100 and len(bounds) == 3
    issue = date(2026, 11, 2)
    lo = 0
    for hi in bounds:
        store.issue_batch(period, lo, hi, issue, due_date(issue))
        again = store.issue_batch(period, lo, hi, issue, due_date(issue))  # a retried batch issues nothing
        assert again.invoices == 0 and again.already_issued > 0
        lo = hi
    with engine.connect() as c:
        numbers = list(c.execute(select(Invoice.number).where(Invoice.period_key == period.key)).scalars())
        assert len(numbers) == attending and check_gapless(numbers) == []
        debit, credit = c.execute(
            select(func.sum(LedgerPosting.debit_cents), func.sum(LedgerPosting.credit_cents))
        ).one()
        assert debit == credit > 0
        assert c.execute(text("SELECT count(*) FROM attendance WHERE invoice_id IS NULL")).scalar_one() == 0
    engine.dispose()
