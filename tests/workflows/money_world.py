"""A billing world on SQLite or PostgreSQL with issued invoices, the real API over HTTP, and concurrent senders."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import stripe
from sqlalchemy import func, insert, select

from api.security import Principal, TokenSigner
from domain import ledger
from domain.due_dates import due_date
from services.billing import BillingStore, credit_balances
from stack.billing_demo import CATALOGUE, GRIDS_FILE, _grid_row
from stack.bootstrap import migrate
from tests.workflows.conftest import BillingWorld
from ville.db import SessionFactory, make_engine
from ville.models.billing import (
    Activity,
    FamilyAccount,
    Invoice,
    LedgerEntry,
    LedgerPosting,
    Payment,
    PaymentAllocation,
    PaymentStatus,
    TariffGridVersion,
)
from ville.models.people import OperatorAuditLog, Role, UserAccount
from ville.settings import Settings

ISSUE_DATE = date(2026, 11, 2)


def make_world(url: str, settings: Settings, stripe_client: stripe.StripeClient) -> BillingWorld:
    """The migrated database with the catalogue and tariff grids."""
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(
            insert(Activity),
            [dict(zip(("code", "label", "family", "cesu_eligible"), a, strict=True)) for a in CATALOGUE],
        )
        c.execute(insert(TariffGridVersion), [_grid_row(g) for g in json.loads(GRIDS_FILE.read_text())])
    world_settings = settings.model_copy(update={"database_url": url, "task_queue": f"money-{uuid.uuid4().hex[:8]}"})
    return BillingWorld(world_settings, SessionFactory(engine), engine, stripe_client)


def issue_all(world: BillingWorld, period: Any) -> None:
    """Issue the period's invoices of every family (the cycle's batch step, without the workflow)."""
    with world.sessions() as s:
        hi = int(s.execute(select(func.max(FamilyAccount.id))).scalar_one())
    BillingStore(world.sessions).issue_batch(period, 0, hi, ISSUE_DATE, due_date(ISSUE_DATE))


def operator_token(world: BillingWorld) -> str:
    """A signed-in billing operator (a real user row), as a bearer token."""
    with world.sessions() as s:
        user = UserAccount(
            email=f"op-{uuid.uuid4().hex[:8]}@paris.example", display_name="Guichet", role=Role.billing_operator
        )
        s.add(user)
        s.commit()
        s.refresh(user)
        principal = Principal.of(user)
    return TokenSigner(world.settings.session_keys).session_token(principal)


@dataclass(frozen=True)
class Sent:
    """One request's answer."""

    status: int
    body: Any


def send_together(base: str, token: str, requests: list[tuple[str, dict[str, Any]]]) -> list[Sent]:
    """POST every request from its own thread, released at once by a barrier: they overlap in the server."""
    barrier = threading.Barrier(len(requests))

    def post(req: tuple[str, dict[str, Any]]) -> Sent:
        path, body = req
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            c.get("/healthz")  # connection open before the barrier: the POSTs leave together
            barrier.wait(timeout=60)
            r = c.post(path, json=body)
            return Sent(r.status_code, r.json())

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(post, requests))


@dataclass(frozen=True)
class Money:
    """What the database says about one invoice's money."""

    paid_cents: int
    allocated_cents: int
    own_due_cents: int
    succeeded_payments: int
    credit_cents: int
    journal_lines: int


def money_of(world: BillingWorld, number: str, account_ref: str, action: str = "") -> Money:
    """The invoice's paid amount, its allocations, succeeded payments, the family's credit, journal lines."""
    with world.sessions() as s:
        inv = s.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        allocated = s.execute(
            select(func.coalesce(func.sum(PaymentAllocation.amount_cents), 0)).where(
                PaymentAllocation.invoice_id == inv.id
            )
        ).scalar_one()
        succeeded = s.execute(
            select(func.count()).where(Payment.invoice_id == inv.id, Payment.status == PaymentStatus.succeeded)
        ).scalar_one()
        journal = s.execute(
            select(func.count()).where(OperatorAuditLog.target == number, OperatorAuditLog.action.startswith(action))
        ).scalar_one()
        credit = credit_balances(s, [account_ref]).get(account_ref, 0)
    return Money(inv.paid_cents, int(allocated), inv.own_due_cents, int(succeeded), credit, int(journal))


def revenue_accounts(world: BillingWorld) -> set[str]:
    """Every revenue account the ledger knows."""
    with world.sessions() as s:
        return set(
            s.execute(select(LedgerPosting.account).where(LedgerPosting.account.startswith("revenue:"))).scalars()
        )


def entry_count(world: BillingWorld) -> int:
    """Journal entries in the ledger."""
    with world.sessions() as s:
        return int(s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one())


def credit_account_balance(world: BillingWorld, ref: str) -> int:
    """Debits minus credits on the family's credit account (never positive: the City owes, never the reverse)."""
    with world.sessions() as s:
        return int(
            s.execute(
                select(func.coalesce(func.sum(LedgerPosting.debit_cents - LedgerPosting.credit_cents), 0)).where(
                    LedgerPosting.account == ledger.credit_account(ref)
                )
            ).scalar_one()
        )
