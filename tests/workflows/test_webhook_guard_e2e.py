"""Webhooks cannot block a payment, end to end: live API (uvicorn), dev server, real worker, localstripe.

Before: a signed `payment_intent.succeeded` naming a real invoice and an intent Stripe does not know started the
invoice's payment workflow, whose look-up retried for ever; the family's card payment then hung, and the console
showed nothing wrong (issue 16, point 3).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from datetime import date

import httpx
import pytest
from sqlalchemy import insert
from sqlmodel import select
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.security import SESSION_COOKIE, Principal
from contracts.billing import STRIPE_NOT_FOUND, CardPaymentRequest, PaymentAttemptResult
from domain.dunning import InvoiceStatus
from domain.payments import PaymentMethod
from domain.periods import period_from_key
from services.payments import PaymentStore
from tests.api.test_operator_pages import CSRF
from tests.workflows.conftest import BillingWorld, Family, running_worker
from ville.ids import invoice_payment_id
from ville.models.billing import Invoice
from ville.models.people import OperatorAuditLog, Role, UserAccount
from workflows.clients import pay_invoice_by_card

SEPT = period_from_key("2026-09")
BOUND = 90.0  # seconds: a payment or a run that has not ended by then is blocked


def _invoice(world: BillingWorld, family: Family, amount: int = 4_200) -> str:
    number = f"FF-2026-{600_000 + uuid.uuid4().int % 99_999:06d}"
    with world.engine.begin() as c:
        c.execute(
            insert(Invoice).values(
                number=number, account_id=family.account_id, period_key="2026-09", period_start=date(2026, 9, 1),
                period_end=date(2026, 10, 31), issue_date=date(2026, 11, 2), due_date=date(2026, 12, 28), tranche=3,
                lines_total_cents=amount, amount_due_cents=amount, status=InvoiceStatus.ISSUED,
            )
        )  # fmt: skip
    return number


def _post(api: str, world: BillingWorld, pi_id: str, number: str) -> httpx.Response:
    """A correctly signed `payment_intent.succeeded`, as Stripe would send it."""
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": pi_id, "object": "payment_intent", "metadata": {"invoice_number": number}}},
        }
    ).encode()
    t = int(time.time())
    secret = world.settings.stripe_webhook_secret.get_secret_value().encode()
    sig = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"stripe-signature": f"t={t},v1={sig}", "content-type": "application/json"}
    return httpx.post(f"{api}/webhooks/stripe", content=body, headers=headers, timeout=30)


async def _pay(client: Client, world: BillingWorld, number: str, family: Family, amount: int) -> PaymentAttemptResult:
    assert family.card_pm
    request = CardPaymentRequest(family.card_pm, amount)
    return await asyncio.wait_for(pay_invoice_by_card(client, world.settings.task_queue, number, request), BOUND)


def _operator(world: BillingWorld) -> Principal:
    with world.sessions() as s:
        user = UserAccount(email=f"op-{uuid.uuid4().hex[:8]}@paris.example", display_name="Exploitation",
                           role=Role.operator)  # fmt: skip
        s.add(user)
        s.commit()
        s.refresh(user)
        return Principal.of(user)


async def test_an_unknown_intent_starts_nothing_and_the_family_pays(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, live_api: str
) -> None:
    world, client = billing_world, local_env.client
    family = world.add_family("Inconnu", {"cantine": (0, 1)}, SEPT)
    world.save_card(family)
    number = _invoice(world, family)
    async with running_worker(client, world):
        r = _post(live_api, world, "pi_stripe_never_heard_of_it", number)
        assert (r.status_code, r.json()) == (200, {"status": "ignored"})
        with pytest.raises(RPCError) as missing:
            await client.get_workflow_handle(invoice_payment_id(number)).describe()
        assert missing.value.status is RPCStatusCode.NOT_FOUND
        paid = await _pay(client, world, number, family, 4_200)
        assert paid.status == "succeeded", paid


async def test_a_not_found_from_stripe_ends_the_run_the_console_lists_it_and_the_family_pays(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, live_api: str
) -> None:
    world, client = billing_world, local_env.client
    family = world.add_family("Fantome", {"cantine": (0, 1)}, SEPT)
    world.save_card(family)
    number = _invoice(world, family)
    # one of our payments names a PaymentIntent Stripe does not know (another account, a key swapped by mistake)
    store = PaymentStore(world.sessions)
    ghost = f"pi_ghost_{uuid.uuid4().hex[:12]}"
    store.new_payment(f"card:{number}:ghost", number, PaymentMethod.CARD, 100)
    store.attach_intent(f"card:{number}:ghost", ghost)
    app = create_app(world.settings, temporal=client)
    operator = _operator(world)
    token = app.state.signer.session_token(operator)
    async with (
        running_worker(client, world),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                          headers={"Authorization": f"Bearer {token}"}) as api,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                          cookies={SESSION_COOKIE: token}) as console,
    ):  # fmt: skip
        assert _post(live_api, world, ghost, number).json() == {"status": "accepted"}
        handle = client.get_workflow_handle(invoice_payment_id(number))
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), BOUND)
        cause = failed.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == STRIPE_NOT_FOUND

        listed = (await api.get("/api/operator/payments/incidents")).json()
        [row] = [i for i in listed if i["invoice_number"] == number]
        assert (row["state"], row["action"]) == ("En échec", "classement") and "inconnu de Stripe" in row["detail"]
        page = await console.get("/operateur/paiements")
        assert page.status_code == 200 and f"Classer l'incident de la facture {number}" in page.text

        # the invoice is free: the family pays by card (a new run of the same workflow id)
        paid = await _pay(client, world, number, family, 4_200)
        assert paid.status == "succeeded", paid

        found = CSRF.search(page.text)
        assert found is not None
        form = {"csrf": found.group(1), "run_id": row["run_id"], "motif": "Intention Stripe fantôme vérifiée"}
        done = await console.post(f"/operateur/paiements/{number}/classer", data=form)
        assert done.status_code == 303 and done.headers["location"] == "/operateur/paiements?fait=classement"
        listed = (await api.get("/api/operator/payments/incidents")).json()
        assert number not in {i["invoice_number"] for i in listed}
    with world.sessions() as s:
        [entry] = s.exec(select(OperatorAuditLog).where(OperatorAuditLog.action == "payment.file")).all()
        assert (entry.target, entry.actor_user_id) == (f"{handle.id}/{row['run_id']}", operator.user_id)
