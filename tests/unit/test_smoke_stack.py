"""The test stack itself: emulators, database and Temporal servers answer."""

from __future__ import annotations

import stripe
from sqlalchemy import inspect
from temporalio.testing import WorkflowEnvironment

from ville.db import SessionFactory


async def test_dev_server_answers(local_env: WorkflowEnvironment) -> None:
    assert await local_env.client.service_client.check_health()


def test_localstripe_creates_a_customer(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create(params={"description": "FA-000001"})
    assert customer.id.startswith("cus_")


def test_database_is_migrated(sessions: SessionFactory) -> None:
    tables = set(inspect(sessions.engine).get_table_names())  # SQLite or PostgreSQL, as DB says
    assert {"invoice", "ledger_entry", "attendance"} <= tables
