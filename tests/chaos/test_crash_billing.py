"""Crash test: the worker is SIGKILLed twice mid-issue and Temporal restarts once; nothing is lost or doubled.

Real processes: a Temporal dev server on a SQLite file, the worker as a subprocess (`python worker.py`),
localstripe and moto. 300 demo families are billed in batches of 20; after the faults the cycle must reach
`awaiting_due_date` with exactly one invoice per family, gapless numbers, a balanced ledger and one e-mail
per invoice. Then a card payment is interrupted by a kill: one PaymentIntent charged, one Payment recorded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import stripe

from activities.payments import PaymentActivities
from contracts.billing import BillingCycleInput, CardPaymentRequest, CyclePhase
from services.payments import PaymentStore
from tests.chaos.money import check_money
from tests.chaos.stack import (
    Stack,
    check_cycle,
    check_payment,
    invoice_count,
    invoices,
    payments_of,
    print_table,
    seed_world,
    ses_count,
)
from tests.workflows.conftest import GOOD_CARD, eventually
from ville.ids import billing_cycle_id
from ville.settings import Settings
from ville.temporal import connect
from workflows.billing import BillingCycleWorkflow
from workflows.clients import pay_invoice_by_card

FAMILIES, BATCH = 300, 20


async def test_billing_survives_worker_and_server_crashes(
    settings: Settings, stripe_client: stripe.StripeClient, tmp_path: Path, chaos_db: str
) -> None:
    """Two worker SIGKILLs mid-issue, one Temporal restart, one kill during a card payment: invariants hold."""
    world = seed_world(settings, chaos_db, FAMILIES)
    s, engine, sessions, period = world.settings, world.engine, world.sessions, world.period
    stack = Stack(s, tmp_path)
    stack.start()
    ses_before = ses_count(s)
    try:
        client = await connect(s.model_copy(update={"temporal_address": stack.address}))
        handle = await client.start_workflow(
            BillingCycleWorkflow.run,
            BillingCycleInput(period.key, batch_size=BATCH, parallelism=2, issue_date=world.today),
            id=billing_cycle_id(period.key),
            task_queue=s.task_queue,
        )
        await eventually(lambda: invoice_count(engine, period.key) >= BATCH, timeout=60)
        first = invoice_count(engine, period.key)
        stack.kill_worker(f"issuing, {first} invoices in the database")
        await eventually(lambda: invoice_count(engine, period.key) >= first + BATCH, timeout=60)
        second = invoice_count(engine, period.key)
        stack.kill_worker(f"issuing, {second} invoices in the database")
        stack.restart_temporal(f"after the second worker restart, {invoice_count(engine, period.key)} invoices")

        async def phase() -> bool:
            return (await handle.query(BillingCycleWorkflow.progress)).phase is CyclePhase.AWAITING_DUE_DATE

        await eventually(phase, timeout=90)
        invariants = check_cycle(engine, sessions, s, period.key, ses_before, FAMILIES, stack.in_flight)
        invariants.append(f"cycle reached awaiting_due_date at {stack.t()}")

        # a card payment in flight when the worker dies
        invoice = next(i for i in invoices(sessions, period.key) if i.amount_due_cents > 0)
        payments = PaymentActivities(stripe_client, PaymentStore(sessions))
        pm = stripe_client.v1.payment_methods.create(
            params={"type": "card", "card": {"number": GOOD_CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
        )
        stripe_client.v1.payment_methods.attach(
            pm.id, params={"customer": payments.ensure_customer(invoice.account_id)}
        )
        request = CardPaymentRequest(str(pm.id), invoice.amount_due_cents)
        attempt = asyncio.create_task(pay_invoice_by_card(client, s.task_queue, invoice.number, request))
        await eventually(lambda: bool(payments_of(sessions, invoice.number)), timeout=30)
        stack.kill_worker(f"card payment of {invoice.number} in flight")
        result = await asyncio.wait_for(attempt, timeout=180)  # a loaded machine restarts the worker slowly
        assert result.status == "succeeded", result
        invariants += check_payment(sessions, stripe_client, invoice.number)
        invariants.append(check_money(engine))
        invariants.append(f"payment outcome known at {stack.t()}")
    finally:
        stack.stop()
        engine.dispose()

    print_table(stack.faults, invariants)
