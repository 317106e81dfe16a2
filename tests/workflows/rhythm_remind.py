"""A minimal sender for the rhythm tests, in its own module so the workflow sandbox imports only this."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from services.notifications import NotificationOutcome, NotificationRequest


@workflow.defn
class RemindWorkflow:
    """Stands for any process that sends a message: it calls the shared `send_notifications` activity."""

    @workflow.run
    async def run(self, requests: list[NotificationRequest]) -> NotificationOutcome:
        """Send the requests once, through the notifier (which may defer them)."""
        return await workflow.execute_activity(
            "send_notifications",
            requests,
            result_type=NotificationOutcome,
            start_to_close_timeout=timedelta(seconds=30),
        )
