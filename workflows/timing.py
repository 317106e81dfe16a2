"""Durable waits shared by the workflows."""

from __future__ import annotations

from datetime import date, datetime, time

from temporalio import workflow

# 07:00 UTC is the Paris morning (08:00 or 09:00): debits and messages never go out at midnight.
MORNING_UTC = time(7, 0)


async def sleep_until_morning(day: date) -> None:
    """Sleep until the morning of `day` (return at once if it has passed)."""
    target = datetime.combine(day, MORNING_UTC, tzinfo=workflow.now().tzinfo)
    if target > workflow.now():
        await workflow.sleep(target - workflow.now())
