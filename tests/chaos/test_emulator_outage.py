# SQLModel columns are typed as their Python values, so SQL expressions do not type-check (as in activities/).
# mypy: disable-error-code="arg-type,call-overload,var-annotated,union-attr"
"""Emulator outages: moto hangs then refuses while invoices are archived and e-mailed; localstripe refuses
while a card payment and a SEPA debit start. The worker reaches both emulators through fault proxies
(tests/chaos/faults.py); the test itself talks to them directly. Nothing may be lost or doubled.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import time, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import stripe
from sqlalchemy import insert, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.payments import PaymentActivities
from contracts.billing import (
    BillingCycleInput,
    CardPaymentRequest,
    CyclePhase,
    InvoicePaymentInput,
    StripeEventSignal,
)
from domain.dunning import InvoiceStatus
from services.payments import PaymentStore
from services.stripe_client import metadata_value
from tests.chaos.faults import FaultProxy, Mode
from tests.chaos.money import check_money
from tests.chaos.stack import (
    ChaosWorld,
    Stack,
    check_cycle,
    check_ledger,
    check_notifications,
    invoice_count,
    invoices,
    payments_of,
    print_table,
    seed_world,
    ses_count,
)
from tests.workflows.conftest import GOOD_CARD, GOOD_IBAN, eventually
from ville.ids import billing_cycle_id, invoice_payment_id
from ville.models.billing import FamilyAccount, Invoice, MandateStatus, Payment, PaymentStatus
from ville.models.rhythm import ContactRhythm
from ville.settings import Settings
from ville.temporal import connect
from workflows.billing import BillingCycleWorkflow
from workflows.clients import pay_invoice_by_card
from workflows.payment import InvoicePaymentWorkflow

FAMILIES, BATCH = 2_000, 100
MOTO_HANG_S, MOTO_REFUSE_S, STRIPE_REFUSE_S = 20, 10, 10


def _port(url: str | None) -> int:
    port = urlsplit(url or "").port
    assert port is not None, url
    return port


async def test_billing_survives_emulator_outages(
    settings: Settings, stripe_client: stripe.StripeClient, tmp_path: Path, chaos_db: str
) -> None:
    """moto hangs 20 s then refuses 10 s mid-cycle; localstripe refuses during a card and a SEPA payment."""
    world = seed_world(settings, chaos_db, FAMILIES)
    s, engine, sessions, period = world.settings, world.engine, world.sessions, world.period
    _reachable_at_any_hour(world)
    moto = FaultProxy("moto", _port(s.aws_endpoint_url)).start()
    local_stripe = FaultProxy("localstripe", _port(s.stripe_api_base)).start()
    stack = Stack(s, tmp_path, stripe_api_base=local_stripe.url, aws_endpoint_url=moto.url)
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
        # the first archives and e-mails are under way (the worker talks to moto) when moto stops answering
        await eventually(lambda: moto.stats["connections"] > 0, timeout=120)
        issued = invoice_count(engine, period.key)
        stack.record(
            f"moto hangs {MOTO_HANG_S} s (accepts, never answers)", f"archive/e-mail, {issued} invoices issued"
        )
        await moto.inject(Mode.HANG, MOTO_HANG_S)
        assert moto.stats["hung"] > 0, moto.stats  # the fault bit: S3/SES calls were left without an answer
        stack.record(f"moto refuses {MOTO_REFUSE_S} s (ECONNREFUSED, open connections RST)", "right after the hang")
        await moto.inject(Mode.REFUSE, MOTO_REFUSE_S)
        hung_calls = moto.stats["hung"]

        async def phase() -> bool:
            progress = await handle.query(BillingCycleWorkflow.progress)
            assert not progress.failed_batches, f"batches gave up: {progress.failed_batches}"
            return progress.phase is CyclePhase.AWAITING_DUE_DATE

        await eventually(phase, timeout=300)
        invariants = [f"cycle reached awaiting_due_date at {stack.t()} after {hung_calls} hung moto connection(s)"]
        invariants += check_cycle(engine, sessions, s, period.key, ses_before, FAMILIES, stack.in_flight)

        card_number, sepa_number = await _payments_under_stripe_outage(
            world, stack, local_stripe, stripe_client, client
        )
        invariants.append(f"card payment of {card_number} succeeded after the outage, SEPA debit of {sepa_number} paid")
        invariants += _check_charges(world, stripe_client)
        invariants.append(check_ledger(engine) + " (after the payments)")
        invariants.append(check_money(engine) + " (after the payments)")
        invariants += [
            f"{line} (after the payments)" for line in check_notifications(engine, s, ses_before, stack.in_flight)
        ]
    finally:
        stack.stop()
        moto.stop()
        local_stripe.stop()
        engine.dispose()

    print_table(stack.faults, invariants)


async def _payments_under_stripe_outage(
    world: ChaosWorld, stack: Stack, proxy: FaultProxy, stripe_client: stripe.StripeClient, client: Client
) -> tuple[str, str]:
    """A card payment, then a SEPA debit, each started while localstripe refuses connections."""
    s, sessions = world.settings, world.sessions
    card_inv, sepa_inv = [i for i in invoices(sessions, world.period.key) if i.amount_due_cents > 0][:2]
    payments = PaymentActivities(stripe_client, PaymentStore(sessions))  # the test's own, straight to localstripe
    pm = stripe_client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": GOOD_CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    stripe_client.v1.payment_methods.attach(pm.id, params={"customer": payments.ensure_customer(card_inv.account_id)})
    _sepa_mandate(world, payments, stripe_client, sepa_inv.account_id)

    # card: the PaymentIntent cannot be created while localstripe refuses; the attempt waits it out
    proxy.set_mode(Mode.REFUSE)
    stack.record(f"localstripe refuses {STRIPE_REFUSE_S} s", f"card payment of {card_inv.number} starting")
    request = CardPaymentRequest(str(pm.id), card_inv.amount_due_cents)
    attempt = asyncio.create_task(pay_invoice_by_card(client, s.task_queue, card_inv.number, request))
    await eventually(lambda: bool(payments_of(sessions, card_inv.number)), timeout=60)
    await asyncio.sleep(STRIPE_REFUSE_S)  # the outage's duration, not a synchronisation
    assert payments_of(sessions, card_inv.number)[0].stripe_payment_intent_id is None  # the fault bit
    proxy.set_mode(Mode.PASS)
    result = await asyncio.wait_for(attempt, timeout=180)
    assert result.status == "succeeded", result

    # SEPA: the debit day has come (yesterday); its PaymentIntent is created once localstripe answers again
    proxy.set_mode(Mode.REFUSE)
    stack.record(f"localstripe refuses {STRIPE_REFUSE_S} s", f"SEPA debit of {sepa_inv.number} starting")
    yesterday = world.today - timedelta(days=1)
    sepa = await client.start_workflow(
        InvoicePaymentWorkflow.run,
        InvoicePaymentInput(sepa_inv.number, sepa_debit_on=yesterday),
        id=invoice_payment_id(sepa_inv.number),
        task_queue=s.task_queue,
    )
    await eventually(lambda: bool(payments_of(sessions, sepa_inv.number)), timeout=60)
    await asyncio.sleep(STRIPE_REFUSE_S)  # the outage's duration, not a synchronisation
    assert payments_of(sessions, sepa_inv.number)[0].stripe_payment_intent_id is None  # the fault bit
    proxy.set_mode(Mode.PASS)
    await eventually(lambda: payments_of(sessions, sepa_inv.number)[0].stripe_payment_intent_id is not None, 60)
    pi_id = payments_of(sessions, sepa_inv.number)[0].stripe_payment_intent_id
    assert pi_id is not None
    # the bank's answer (localstripe settles SEPA after 0.5 s); its webhook delivered as the API's route does,
    # unless the workflow already learnt the outcome by asking Stripe
    await eventually(lambda: stripe_client.v1.payment_intents.retrieve(pi_id).status == "succeeded", timeout=60)
    if (await sepa.describe()).status is WorkflowExecutionStatus.RUNNING:
        event = StripeEventSignal(f"evt_chaos_{pi_id}", "payment_intent.succeeded", pi_id)
        try:
            await sepa.signal(InvoicePaymentWorkflow.stripe_event, event)
        except RPCError as err:  # it recorded the outcome on its own meanwhile: nothing left to tell it
            assert err.status is RPCStatusCode.NOT_FOUND, err
    await eventually(lambda: _status(world, sepa_inv.number) is InvoiceStatus.PAID, timeout=60)
    return card_inv.number, sepa_inv.number


def _reachable_at_any_hour(world: ChaosWorld) -> None:
    """Payers without quiet hours: the invoice e-mails go out during the outage whatever the hour of the run."""
    with world.engine.begin() as c:
        ids = c.execute(select(FamilyAccount.id)).scalars().all()
        c.execute(
            insert(ContactRhythm),
            [
                {
                    "person_kind": "payer",
                    "person_id": i,
                    "channel": "email",
                    "quiet_start": time(0),
                    "quiet_end": time(0),
                }
                for i in ids
            ],
        )


def _status(world: ChaosWorld, number: str) -> InvoiceStatus:
    with world.sessions() as db:
        return InvoiceStatus(db.execute(select(Invoice.status).where(Invoice.number == number)).scalar_one())


def _sepa_mandate(
    world: ChaosWorld, payments: PaymentActivities, stripe_client: stripe.StripeClient, account_id: int
) -> None:
    """An active SEPA mandate on the account (what confirmSepaDebitSetup leaves)."""
    pm = stripe_client.v1.payment_methods.create(params={"type": "sepa_debit", "sepa_debit": {"iban": GOOD_IBAN}})
    stripe_client.v1.payment_methods.attach(pm.id, params={"customer": payments.ensure_customer(account_id)})
    with world.sessions() as db:
        account = db.get_one(FamilyAccount, account_id)
        account.stripe_payment_method_id = pm.id
        account.mandate_status = MandateStatus.active
        db.add(account)
        db.commit()


def _check_charges(world: ChaosWorld, stripe_client: stripe.StripeClient) -> list[str]:
    """Each charge once: the succeeded PaymentIntents of our customers are exactly our succeeded Payments."""
    with world.sessions() as db:
        customers = set(
            db.execute(
                select(FamilyAccount.stripe_customer_id).where(FamilyAccount.stripe_customer_id.is_not(None))
            ).scalars()
        )
        payments = list(db.execute(select(Payment)).scalars())
    listed = stripe_client.v1.payment_intents.list(params={"limit": 100}).data
    assert len(listed) < 100  # one page holds every PaymentIntent of this session
    ours = [pi for pi in listed if pi.customer in customers]
    charged = [pi for pi in ours if pi.status == "succeeded"]
    recorded = {p.stripe_payment_intent_id for p in payments if p.status is PaymentStatus.succeeded}
    assert {pi.id for pi in charged} == recorded, ({pi.id for pi in charged}, recorded)
    per_key = Counter(metadata_value(pi, "payment_key") for pi in charged)
    assert per_key and max(per_key.values()) == 1, per_key
    assert len(recorded) == len(payments) == 2, payments
    # a PaymentIntent created twice by a retry (localstripe ignores idempotency keys) is never confirmed
    stray = [pi for pi in ours if pi.id not in {p.stripe_payment_intent_id for p in payments}]
    assert all(pi.status == "requires_confirmation" for pi in stray), [(pi.id, pi.status) for pi in stray]
    return [
        f"each charge once: {len(charged)} succeeded PaymentIntents == {len(recorded)} succeeded Payments, "
        f"one per payment key ({len(stray)} unconfirmed stray intents)"
    ]
