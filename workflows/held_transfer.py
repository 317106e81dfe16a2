"""The step contests and payment plans share: an invoice they held back from its transfer follows the ladder again."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from contracts.contests import ContestActivity, HeldTransfer, HeldTransferQuery
    from workflows.timing import sleep_until_morning


async def transfer_if_held_back(invoice_number: str, call: timedelta, retry: RetryPolicy) -> None:
    """If the transfer day passed while the invoice was held, transfer it after its grace (the contests' activities)."""
    held = await workflow.execute_activity(
        ContestActivity.HELD_TRANSFER,
        HeldTransferQuery(invoice_number, workflow.now().date()),
        result_type=HeldTransfer,
        start_to_close_timeout=call,
        retry_policy=retry,
    )
    if held.transfer_on is None:
        return
    await sleep_until_morning(held.transfer_on)
    await workflow.execute_activity(
        ContestActivity.TRANSFER_HELD,
        invoice_number,
        result_type=bool,
        start_to_close_timeout=call,
        retry_policy=retry,
    )
