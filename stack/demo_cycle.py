"""The demo's first billing cycle: `ville dev` issues the seeded period's invoices through the real workflow."""

from __future__ import annotations

from datetime import date, datetime

import structlog
from sqlalchemy import func, select
from sqlmodel import col
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from contracts.billing import BillingCycleInput, BillingWorkflow
from domain.calendar import PARIS
from stack.billing_demo import billing_period_to_seed
from ville.db import engine_for
from ville.ids import billing_cycle_id
from ville.models.billing import Invoice
from ville.settings import Settings

log = structlog.get_logger(__name__)


async def start_demo_cycle(client: Client, settings: Settings, today: date | None = None) -> str | None:
    """Start the seeded period's cycle unless it has invoices already; the workflow id, or None if skipped.

    Harmless to call at every start: a period with invoices is left alone, and a cycle still running is kept
    (same workflow id, `USE_EXISTING`), so a restart in the middle of the issue phase does not start another.
    """
    period = billing_period_to_seed(today or datetime.now(PARIS).date(), settings.billing_period_months)
    with engine_for(settings.database_url).connect() as conn:
        issued = conn.execute(select(func.count()).select_from(Invoice).where(col(Invoice.period_key) == period.key))
        if issued.scalar_one() > 0:
            log.info("demo.cycle_skipped", period=period.key, reason="invoices_exist")
            return None
    wf_id = billing_cycle_id(period.key)
    await client.start_workflow(
        BillingWorkflow.CYCLE,
        BillingCycleInput(
            period.key,
            period_months=settings.billing_period_months,
            batch_size=50,  # a few batches for 100 families: the console shows the cycle progress
            parallelism=2 if settings.database_url.startswith("sqlite") else 4,
        ),
        id=wf_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    log.info("demo.cycle_started", period=period.key, workflow_id=wf_id)
    return wf_id
