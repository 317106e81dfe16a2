"""The batch issue path on PostgreSQL (production's database): COPY seeding, numbering, ledger."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, text

from domain.due_dates import due_date
from domain.numbering import check_gapless
from services.billing import BillingStore
from stack.billing_demo import billing_period_to_seed
from stack.bootstrap import migrate
from stack.demo import seed_demo
from stack.pgcluster import ThrowawayCluster
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


def test_the_cycle_plans_with_fresh_statistics(pg_cluster: ThrowawayCluster) -> None:
    """A bulk load leaves PostgreSQL without statistics: billing one family then read the whole unbilled index."""
    today, url = date(2026, 11, 25), pg_cluster.create_empty("statistics")
    migrate(url)
    engine = make_engine(url)
    seed_demo(Settings(database_url=url, _env_file=None), families=60, today=today, force=True)
    account = "SELECT min(account_id) FROM attendance WHERE invoice_id IS NULL"
    update = "EXPLAIN UPDATE attendance SET invoice_id = NULL WHERE account_id = ({}) AND invoice_id IS NULL"
    with engine.connect() as c:
        before = c.execute(text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'attendance'")).scalar()
        plan = "\n".join(c.execute(text(update.format(account))).scalars())
    assert before is not None, "seed_demo analyses what it loaded"
    assert "ix_attendance_invoice_id" not in plan, plan

    BillingStore(SessionFactory(engine)).batch_bounds(billing_period_to_seed(today), 50)
    with engine.connect() as c:
        after = c.execute(text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'attendance'")).scalar()
    assert after is not None and after > before, "planning the cycle refreshes the statistics of the period's imports"
    engine.dispose()
