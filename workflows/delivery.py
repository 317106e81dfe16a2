"""Rhythm-aware delivery: one durable timer per distinct instant at which deferred messages may go.

The notifier (an activity) decides each message's instant with `domain.rhythm.next_allowed`; the messages it
may not send yet are stored, and it starts (or signals) the workflow of their instant. That workflow sleeps
until the instant, then sends every message due by then in batches. A billing cycle of 100,000 families
thus costs a handful of timers (one per distinct instant: 08:00 for most, a few preferred windows), not one
per family, and the calling workflows keep their own deadlines instead of blocking on a message.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from contracts.delivery import (
        DELIVER_DUE,
        DELIVERY_WORKFLOW,
        DeliverDueRequest,
        DeliverDueResult,
        NotificationDeliveryInput,
        NotificationDeliveryResult,
    )

# bounded (~3 h at the 2 min cap): a step that still fails then fails the run, which the console lists
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=2), maximum_attempts=100)
_TIMEOUT = timedelta(minutes=10)


@workflow.defn(name=DELIVERY_WORKFLOW)
class NotificationDeliveryWorkflow:
    """Waits durably until `due_at`, then sends every message waiting for that moment (and any late one)."""

    @workflow.init
    def __init__(self, inp: NotificationDeliveryInput) -> None:
        self.due_at = inp.due_at
        self.more = False
        self.sent = 0
        self.failed = 0

    @workflow.run
    async def run(self, inp: NotificationDeliveryInput) -> NotificationDeliveryResult:
        """Sleep until the instant, send in batches, and loop while senders signal new messages."""
        if self.due_at > workflow.now():
            await workflow.sleep(self.due_at - workflow.now())
        while True:
            # cleared before the call: a message stored while this batch is sent signals again
            self.more = False
            done = await workflow.execute_activity(
                DELIVER_DUE,
                DeliverDueRequest(inp.due_at, workflow.now()),
                result_type=DeliverDueResult,
                start_to_close_timeout=_TIMEOUT,
                retry_policy=_RETRY,
            )
            self.sent += done.sent
            self.failed += done.failed
            if done.remaining == 0 and not self.more:
                break
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(inp)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return NotificationDeliveryResult(inp.due_at, self.sent, self.failed)

    @workflow.signal
    def more_waiting(self) -> None:
        """A sender stored another message for this instant (also the start signal of signal-with-start)."""
        self.more = True

    @workflow.query
    def delivered(self) -> NotificationDeliveryResult:
        """Messages sent so far by this run."""
        return NotificationDeliveryResult(self.due_at, self.sent, self.failed)
