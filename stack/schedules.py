"""Temporal Schedules of the platform, created or updated at deploy time (safe to run twice)."""

from __future__ import annotations

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from contracts.billing import BillingCycleInput, BillingWorkflow
from ville.settings import Settings

log = structlog.get_logger(__name__)
BILLING_SCHEDULE_ID = "billing-cycle-schedule"


def billing_schedule(settings: Settings) -> Schedule:
    """Every period (two months by default), on the 3rd at 06:00 UTC, bill the period that just closed."""
    months = settings.billing_period_months
    starts = [ScheduleRange(m) for m in range(1, 13) if (m - 1) % months == 0]
    return Schedule(
        action=ScheduleActionStartWorkflow(
            BillingWorkflow.CYCLE,
            # an empty period means "the last closed period" (computed by the workflow from its clock)
            BillingCycleInput(period_key="", period_months=months, batch_size=settings.billing_batch_size),
            id="billing-cycle-scheduled",
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(month=starts, day_of_month=[ScheduleRange(3)], hour=[ScheduleRange(6)])]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
    )


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Create the schedules, or bring existing ones up to date."""
    schedule = billing_schedule(settings)
    try:
        await client.create_schedule(BILLING_SCHEDULE_ID, schedule)
        log.info("schedule.created", schedule_id=BILLING_SCHEDULE_ID)
    except ScheduleAlreadyRunningError:

        def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(BILLING_SCHEDULE_ID).update(update)
        log.info("schedule.updated", schedule_id=BILLING_SCHEDULE_ID)
