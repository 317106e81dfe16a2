"""Client-side calls into the billing workflows, shared by the API, the activities and the tests."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from contracts.billing import CardPaymentRequest, InvoicePaymentInput, PaymentAttemptResult, StripeEventSignal
from ville.ids import invoice_payment_id
from workflows.payment import InvoicePaymentWorkflow


async def pay_invoice_by_card(
    client: Client, task_queue: str, invoice_number: str, request: CardPaymentRequest
) -> PaymentAttemptResult:
    """Start the invoice's payment workflow if needed, then run the card attempt and wait for its outcome."""
    handle = await client.start_workflow(
        InvoicePaymentWorkflow.run,
        InvoicePaymentInput(invoice_number),
        id=invoice_payment_id(invoice_number),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return await handle.execute_update(InvoicePaymentWorkflow.pay_by_card, request)


async def signal_stripe_event(client: Client, task_queue: str, invoice_number: str, event: StripeEventSignal) -> None:
    """Hand a verified Stripe event to the invoice's payment workflow, starting it if it is not running."""
    await client.start_workflow(
        InvoicePaymentWorkflow.run,
        InvoicePaymentInput(invoice_number),
        id=invoice_payment_id(invoice_number),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=InvoicePaymentWorkflow.stripe_event.__name__,
        start_signal_args=[event],
    )
