"""The test stack itself: emulators, database and Temporal servers answer."""

from __future__ import annotations

import stripe
from sqlmodel import text
from temporalio.testing import WorkflowEnvironment

from ville.db import SessionFactory


async def test_dev_server_answers(local_env: WorkflowEnvironment) -> None:
    assert await local_env.client.service_client.check_health()


def test_localstripe_creates_a_customer(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create(params={"description": "FA-000001"})
    assert customer.id.startswith("cus_")


def test_database_is_migrated(sessions: SessionFactory) -> None:
    with sessions() as s:
        tables = {r[0] for r in s.exec(text("SELECT name FROM sqlite_master WHERE type='table'")).all()}  # type: ignore[call-overload]
    assert {"invoice", "ledger_entry", "attendance"} <= tables
