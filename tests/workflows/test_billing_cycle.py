"""The billing cycle end to end: every way to pay on a real server, then dunning on a skipped clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import col, select
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from activities.payments import PaymentActivities
from contracts.billing import (
    BillingCycleInput,
    CardPaymentRequest,
    CyclePhase,
    InvoicePaymentInput,
    PaymentAttemptResult,
)
from domain.dunning import InvoiceStatus
from domain.numbering import check_gapless
from domain.payments import PaymentMethod
from domain.periods import period_from_key
from services.payments import PaymentStore
from services.stripe_client import metadata_value
from tests.workflows.conftest import (
    BAD_IBAN,
    DECLINED_CARD,
    BillingWorld,
    Family,
    eventually,
    running_worker,
)
from ville.aws import aws_client
from ville.ids import billing_cycle_id, invoice_payment_id
from ville.models.billing import FamilyAccount, MandateStatus, Notification
from workflows.billing import BillingCycleWorkflow
from workflows.clients import pay_invoice_by_card
from workflows.payment import InvoicePaymentWorkflow

SEPT = period_from_key("2026-09")
NOV = period_from_key("2026-11")
CANTINE = {"cantine": (0, 1, 3, 4)}
CRECHE_AND_CANTINE = {"creche": (0, 1, 2, 3, 4), "cantine": (0, 1, 3, 4)}


async def pay_card(
    client: Client, world: BillingWorld, number: str, family: Family, amount: int
) -> PaymentAttemptResult:
    """What the page does, through the same client helper as the API."""
    assert family.card_pm
    request = CardPaymentRequest(family.card_pm, amount)
    return await pay_invoice_by_card(client, world.settings.task_queue, number, request)


async def _phase_is(client: Client, period_key: str, expected: CyclePhase) -> bool:
    handle = client.get_workflow_handle_for(BillingCycleWorkflow.run, billing_cycle_id(period_key))
    return (await handle.query(BillingCycleWorkflow.progress)).phase == expected


async def issue(client: Client, world: BillingWorld, period_key: str, issue_date: str) -> None:
    """Start the period's cycle and wait until its invoices are issued and delivered."""
    await client.start_workflow(
        BillingCycleWorkflow.run,
        BillingCycleInput(period_key, batch_size=3, parallelism=2, issue_date=date.fromisoformat(issue_date)),
        id=billing_cycle_id(period_key),
        task_queue=world.settings.task_queue,
        # tests share one dev server: a cycle left by another test's world is ended, not reused
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
    )
    await eventually(lambda: _phase_is(client, period_key, CyclePhase.AWAITING_DUE_DATE))


def notification_keys(world: BillingWorld, prefix: str) -> list[str]:
    with world.sessions() as s:
        return list(s.exec(select(Notification.key).where(col(Notification.key).startswith(prefix))).all())


def account(world: BillingWorld, family: Family) -> FamilyAccount:
    with world.sessions() as s:
        return s.get_one(FamilyAccount, family.account_id)


async def test_every_way_to_pay(billing_world: BillingWorld, local_env: WorkflowEnvironment, live_api: str) -> None:
    """Card, declined card, CESU + card, overpayment + refund, credit note, SEPA ok, SEPA rejected twice."""
    world, client = billing_world, local_env.client
    card = world.add_family("Carte", CANTINE, SEPT)
    cesu = world.add_family("Cesu", CRECHE_AND_CANTINE, SEPT)
    over = world.add_family("TropPercu", CANTINE, SEPT)
    avoir = world.add_family("Avoir", CANTINE, SEPT, qf_cents=None)
    sepa = world.add_family("Sepa", CANTINE, SEPT)
    sepa_bad = world.add_family("SepaRejet", CANTINE, SEPT)
    for fam in (card, cesu, over, avoir):
        world.save_card(fam)
    world.sepa_mandate(sepa)
    world.sepa_mandate(sepa_bad, BAD_IBAN)

    async with running_worker(client, world):
        await issue(client, world, "2026-09", "2026-11-02")
        invoices = world.invoices("2026-09")
        assert len(invoices) == 6 and len({i.account_id for i in invoices}) == 6
        assert check_gapless([i.number for i in invoices]) == []
        assert {i.due_date for i in invoices} == {date(2026, 12, 28)}  # 25/12 is Christmas, then a weekend
        assert world.invoice_of(avoir, "2026-09").tranche == 10  # no QF file: tranche 10
        assert len(notification_keys(world, "invoice-issued:")) == 6
        world.assert_ledger_consistent()

        # starting the same period again changes nothing
        again = await client.start_workflow(
            BillingCycleWorkflow.run,
            BillingCycleInput("2026-09", issue_date=date(2026, 11, 2)),
            id=billing_cycle_id("2026-09"),
            task_queue=world.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        assert again.id == billing_cycle_id("2026-09")
        assert len(world.invoices("2026-09")) == 6

        # a declined card gets the bank's refusal in French; nothing is recorded as paid
        card_inv = world.invoice_of(card, "2026-09")
        good_pm = card.card_pm
        world.save_card(card, DECLINED_CARD)
        refusal = await pay_card(client, world, card_inv.number, card, card_inv.amount_due_cents)
        assert refusal.status == "declined" and "refusée" in refusal.message_fr
        assert world.invoice_of(card, "2026-09").paid_cents == 0

        # then a good card: paid, and the localstripe webhook reaches the workflow through the API
        card.card_pm = good_pm
        paid = await pay_card(client, world, card_inv.number, card, card_inv.amount_due_cents)
        assert paid.status == "succeeded", paid
        assert world.invoice_of(card, "2026-09").status is InvoiceStatus.PAID
        handle = client.get_workflow_handle(invoice_payment_id(card_inv.number))
        await eventually(lambda: _saw_webhook(handle, paid.payment_intent_id or ""))
        world.assert_ledger_consistent()

        # the same event again, then an older "processing" event arriving late: nothing changes
        pi_id = paid.payment_intent_id or ""
        for event_id, kind in (
            ("evt_dup_1", "payment_intent.succeeded"),
            ("evt_dup_1", "payment_intent.succeeded"),
            ("evt_late_1", "payment_intent.processing"),
        ):
            answer = _post_event(live_api, world, event_id, kind, pi_id, card_inv.number)
            assert answer in ("accepted", "duplicate")
        await eventually(lambda: _workflow_closed_or_idle(client, card_inv.number))
        assert world.invoice_of(card, "2026-09").paid_cents == card_inv.amount_due_cents
        assert _succeeded_intents(world).count(pi_id) == 1
        world.assert_ledger_consistent()

        # CESU at the counter for the crèche share, then the rest by card
        cesu_inv = world.invoice_of(cesu, "2026-09")
        store = PaymentStore(world.sessions)
        store.new_payment("counter:cesu-0001", cesu_inv.number, PaymentMethod.CESU, 2_000, "CESU-778899")
        store.settle("counter:cesu-0001")
        store.settle("counter:cesu-0001")  # recorded twice by mistake: settled once
        assert world.invoice_of(cesu, "2026-09").status is InvoiceStatus.PARTIALLY_PAID
        rest = await pay_card(client, world, cesu_inv.number, cesu, cesu_inv.amount_due_cents - 2_000)
        assert rest.status == "succeeded"
        assert world.invoice_of(cesu, "2026-09").status is InvoiceStatus.PAID
        world.assert_ledger_consistent()

        # 150 € too much is kept as credit; 50 € of it refunded through Stripe, once per key
        over_inv = world.invoice_of(over, "2026-09")
        paid = await pay_card(client, world, over_inv.number, over, over_inv.amount_due_cents + 15_000)
        assert paid.status == "succeeded" and world.credit_of(over) == 15_000
        payments = PaymentActivities(world.stripe, store)
        card_payment = store.by_intent(paid.payment_intent_id or "")
        assert card_payment is not None and card_payment.id is not None
        payments.refund(card_payment.id, 5_000, "credit-over-1")
        payments.refund(card_payment.id, 5_000, "credit-over-1")
        refunds = world.stripe.v1.refunds.list(params={"payment_intent": paid.payment_intent_id}).data
        assert [r.amount for r in refunds] == [5_000]
        assert world.credit_of(over) == 10_000
        world.assert_ledger_consistent()

        # a credit note (avoir) of 5 €, then the card pays the rest
        avoir_inv = world.invoice_of(avoir, "2026-09")
        store.credit_note("credit-note:geste-001", avoir_inv.number, {"cantine": 500})
        store.credit_note("credit-note:geste-001", avoir_inv.number, {"cantine": 500})
        assert world.invoice_of(avoir, "2026-09").paid_cents == 500
        rest = await pay_card(client, world, avoir_inv.number, avoir, avoir_inv.amount_due_cents - 500)
        assert rest.status == "succeeded"
        world.assert_ledger_consistent()

        # SEPA: the bank answers asynchronously (webhook); one debit succeeds, the other is rejected
        # twice, the mandate is suspended, the family is told, and pays by card
        # a due date already passed: the debit goes at once, whatever the hour the test runs at
        due = datetime.now(UTC).date() - timedelta(days=1)
        for fam in (sepa, sepa_bad):
            number = world.invoice_of(fam, "2026-09").number
            await client.start_workflow(
                InvoicePaymentWorkflow.run,
                InvoicePaymentInput(number, sepa_debit_on=due, sepa_retry_business_days=0),
                id=invoice_payment_id(number),
                task_queue=world.settings.task_queue,
            )
        await eventually(lambda: world.invoice_of(sepa, "2026-09").status is InvoiceStatus.PAID)
        bad_number = world.invoice_of(sepa_bad, "2026-09").number
        await eventually(lambda: account(world, sepa_bad).mandate_status is MandateStatus.suspended)
        assert account(world, sepa_bad).sepa_rejections == 2
        await eventually(lambda: bool(notification_keys(world, f"sepa-fallback:{bad_number}")))
        world.save_card(sepa_bad)
        bad_inv = world.invoice_of(sepa_bad, "2026-09")
        assert (await pay_card(client, world, bad_number, sepa_bad, bad_inv.amount_due_cents)).status == "succeeded"
        world.assert_ledger_consistent()

        # each charge happened once: our succeeded payments match Stripe's succeeded PaymentIntents
        ours = {p for p in _succeeded_intents(world)}
        theirs = {
            pi.id
            for pi in world.stripe.v1.payment_intents.list(params={"limit": 100}).data
            if pi.status == "succeeded" and (metadata_value(pi, "invoice_number") or "").startswith("FF-")
        }
        assert ours <= theirs and len(ours) == 6  # card, CESU rest, overpayment, avoir rest, SEPA, fallback card


def _post_event(api: str, world: BillingWorld, event_id: str, kind: str, pi_id: str, number: str) -> str:
    """A correctly signed Stripe event posted to the live API, as Stripe would."""
    import hashlib
    import hmac
    import json
    import time

    import httpx

    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "data": {"object": {"id": pi_id, "object": "payment_intent", "metadata": {"invoice_number": number}}},
        }
    ).encode()
    t = int(time.time())
    secret = world.settings.stripe_webhook_secret.get_secret_value().encode()
    sig = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    r = httpx.post(
        f"{api}/webhooks/stripe",
        content=body,
        timeout=10,
        headers={"stripe-signature": f"t={t},v1={sig}", "content-type": "application/json"},
    )
    r.raise_for_status()
    return str(r.json()["status"])


async def _workflow_closed_or_idle(client: Client, number: str) -> bool:
    state = await client.get_workflow_handle(invoice_payment_id(number)).query(InvoicePaymentWorkflow.state)
    return not state.busy


async def _saw_webhook(handle: object, pi_id: str) -> bool:
    state = await handle.query(InvoicePaymentWorkflow.state)  # type: ignore[attr-defined]
    return pi_id in state.webhook_intents


def _succeeded_intents(world: BillingWorld) -> list[str]:
    from ville.models.billing import Payment, PaymentStatus

    with world.sessions() as s:
        rows = s.exec(select(Payment.stripe_payment_intent_id).where(Payment.status == PaymentStatus.succeeded))
        return [r for r in rows if r]


async def _until(env: WorkflowEnvironment, iso: str) -> timedelta:
    """How far the test server's clock must jump to reach `iso` (UTC)."""
    delta = datetime.fromisoformat(iso).replace(tzinfo=UTC) - await env.get_current_time()
    assert delta > timedelta(0), f"the clock is already past {iso}"
    return delta


async def test_unpaid_is_reminded_recalled_then_transferred(
    billing_world: BillingWorld, billing_env: WorkflowEnvironment
) -> None:
    """Reminder at due+10 (e-mail and SMS), recall on the next invoice, credit used, transfer at due+45."""
    world, client = billing_world, billing_env.client
    unpaid = world.add_family("Impaye", CANTINE, SEPT, sms=True)
    over = world.add_family("TropPercu", CANTINE, SEPT)
    paid = world.add_family("Paye", CANTINE, SEPT)
    for fam in (unpaid, over):
        world.add_attendance(fam, CANTINE, NOV)

    async with running_worker(client, world):
        await issue(client, world, "2026-09", "2026-11-02")
        store = PaymentStore(world.sessions)
        over_inv = world.invoice_of(over, "2026-09")
        store.new_payment("counter:over-1", over_inv.number, PaymentMethod.CHEQUE, over_inv.amount_due_cents + 4_000)
        store.settle("counter:over-1")
        paid_inv = world.invoice_of(paid, "2026-09")
        store.new_payment("counter:paid-1", paid_inv.number, PaymentMethod.CASH_COUNTER, paid_inv.amount_due_cents)
        store.settle("counter:paid-1")
        assert world.credit_of(over) == 4_000
        world.assert_ledger_consistent()

        await billing_env.sleep(await _until(billing_env, "2027-01-07T09:00"))
        number = world.invoice_of(unpaid, "2026-09").number
        await eventually(lambda: world.invoice_of(unpaid, "2026-09").status is InvoiceStatus.OVERDUE)
        reminders = notification_keys(world, "reminder_email:")
        assert sorted(reminders) == sorted([f"reminder_email:{number}", f"reminder_email:{number}:sms"])

        await issue(client, world, "2026-11", "2027-01-08")
        first, second = world.invoice_of(unpaid, "2026-09"), world.invoice_of(unpaid, "2026-11")
        assert second.previous_unpaid_cents == first.remaining_cents > 0
        assert second.amount_due_cents == second.lines_total_cents + first.remaining_cents
        assert first.recalled_on_invoice_id == second.id
        assert world.invoice_of(over, "2026-11").credit_applied_cents == 4_000
        assert world.credit_of(over) == 0
        world.assert_ledger_consistent()

        await billing_env.sleep(await _until(billing_env, "2027-02-12T09:00"))
        await eventually(lambda: world.invoice_of(unpaid, "2026-09").status is InvoiceStatus.TRANSFERRED)
        export = aws_client(world.settings, "s3").get_object(
            Bucket=world.settings.s3_bucket, Key="tresor/2026-09/titres-de-recettes.csv"
        )
        rows = export["Body"].read().decode().splitlines()
        assert rows[1:] == [f"{number};{unpaid.ref};{first.remaining_cents};2026-12-28"]
        assert world.invoice_of(paid, "2026-09").status is InvoiceStatus.PAID
        world.assert_ledger_consistent()
