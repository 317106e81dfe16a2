"""The family's invoice pages read with no transaction around the reads (`SessionFactory.reading`): on PostgreSQL
that is no BEGIN and no ROLLBACK round trip per page. Real API (ASGI) on the test stack's database."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event

from api.security import Principal
from tests.api.conftest import ClientFactory
from tests.api.test_billing_api import _account_with_invoice
from ville.db import SessionFactory
from ville.models.people import Role


def _in_transaction(dbapi_connection: Any) -> bool:
    """Whether the driver's connection has a transaction open (sqlite3 or psycopg)."""
    info = getattr(dbapi_connection, "info", None)
    if info is not None and hasattr(info, "transaction_status"):
        from psycopg.pq import TransactionStatus

        return bool(info.transaction_status != TransactionStatus.IDLE)
    return bool(dbapi_connection.in_transaction)


async def test_the_invoice_pages_read_with_no_transaction_open(
    client_for: ClientFactory, app: FastAPI, sessions: SessionFactory
) -> None:
    number = f"FF-2026-{700_000 + uuid.uuid4().int % 99_999:06d}"
    account_id = _account_with_invoice(sessions, number)
    family = client_for(Principal(user_id=900_000 + account_id, role=Role.family, family_account_id=account_id))
    seen: list[tuple[str, bool]] = []

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((statement.split(None, 1)[0].upper(), _in_transaction(conn.connection.dbapi_connection)))

    engine = app.state.sessions.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        page = await family.get(f"/famille/factures/{number}")
        listing = await family.get("/famille/factures")
    finally:
        event.remove(engine, "before_cursor_execute", before)

    assert page.status_code == 200 and number in page.text
    assert listing.status_code == 200 and number in listing.text
    # the sign-in check, then the invoice, its balance, lines, contests and plans; then the list's check and read
    assert [kind for kind, _ in seen] == ["SELECT"] * 8
    assert not [kind for kind, in_transaction in seen if in_transaction], seen
