"""Billing fixtures: a fresh database per module, a world of families with Stripe methods, invariants."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import stripe
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.registry import build_activities
from domain import ledger
from domain.calendar import PARIS, is_business_day
from domain.dunning import PAYABLE_STATUSES
from domain.periods import BillingPeriod
from stack.billing_demo import CATALOGUE, GRIDS_FILE, _grid_row
from tests.conftest import Databases
from ville.db import SessionFactory, make_engine
from ville.models.billing import (
    Activity,
    Attendance,
    Child,
    DeliveryChannel,
    FamilyAccount,
    Invoice,
    LedgerPosting,
    MandateStatus,
    Payer,
    Registration,
    TariffGridVersion,
)
from ville.models.referrals import ReferralCaseCounter
from ville.settings import Settings
from ville.temporal import data_converter, register_search_attributes
from workflows.registry import WORKFLOWS

BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
GOOD_IBAN = "FR1420041010050500013M02606"
BAD_IBAN = "DE62370400440532013001"  # localstripe rejects debits on this one, asynchronously
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"


@dataclass
class Family:
    """One family of the test world."""

    account_id: int
    ref: str
    children: list[tuple[int, str]] = field(default_factory=list)
    card_pm: str | None = None


@dataclass
class BillingWorld:
    """A database, a task queue and a Stripe emulator shared by one module's billing tests."""

    settings: Settings
    sessions: SessionFactory
    engine: Engine
    stripe: stripe.StripeClient
    families: dict[str, Family] = field(default_factory=dict)

    def add_family(
        self,
        name: str,
        activities: dict[str, tuple[int, ...]],
        period: BillingPeriod,
        qf_cents: int | None = 60_000,
        channel: DeliveryChannel = DeliveryChannel.email,
        sms: bool = False,
        email: str | None = None,
    ) -> Family:
        """A family with one child attending `activities` (weekdays) over `period`."""
        with self.engine.begin() as c:
            acc_id = (c.execute(select(func.max(FamilyAccount.id))).scalar() or 0) + 1
            ref = f"FA-{acc_id:06d}"
            c.execute(
                insert(FamilyAccount).values(
                    id=acc_id,
                    ref=ref,
                    arrondissement=12,
                    qf_cents=qf_cents,
                    qf_valid_until=date(period.end.year + 1, 12, 31) if qf_cents else None,
                    delivery_channel=channel,
                    sms_opt_in=sms,
                )
            )
            c.execute(
                insert(Payer).values(
                    account_id=acc_id,
                    first_name="Camille",
                    last_name=f"Test{name}",
                    email=email or f"{name.lower()}@familles.example",
                    phone="+33612345678",
                    address="1 place de l'Hôtel de Ville, 75004 Paris",
                )
            )
            child_id = acc_id * 10
            c.execute(
                insert(Child).values(
                    id=child_id,
                    account_id=acc_id,
                    ref=f"EN-{child_id:07d}",
                    first_name="Léo",
                    last_name=f"Test{name}",
                    birth_date=date(2019, 3, 1),
                )
            )
        family = Family(acc_id, ref, [(child_id, "Léo")])
        self.families[name] = family
        self.add_attendance(family, activities, period)
        return family

    def add_attendance(
        self, family: Family, activities: dict[str, tuple[int, ...]], period: BillingPeriod, registered: bool = True
    ) -> int:
        """Attendance of the family's child on the given weekdays of the period's business days.

        `registered`: the child is also registered for these activities over the period (no surcharge).
        """
        rows = []
        d = period.start
        while d <= period.end:
            for code, weekdays in activities.items():
                if is_business_day(d) and d.weekday() in weekdays:
                    rows.append(
                        {
                            "child_id": family.children[0][0],
                            "account_id": family.account_id,
                            "activity_code": code,
                            "day": d,
                            "registered": True,
                            "source": "test",
                        }
                    )
            d += timedelta(days=1)
        with self.engine.begin() as c:
            c.execute(insert(Attendance), rows)
            if registered:
                c.execute(
                    insert(Registration),
                    [
                        {"child_id": family.children[0][0], "activity_code": code, "start": period.start,
                         "end": period.end}
                        for code in activities
                    ],
                )  # fmt: skip
        return len(rows)

    def customer(self, family: Family) -> str:
        """The family's Stripe customer (created like the activities do)."""
        from activities.payments import PaymentActivities
        from services.payments import PaymentStore

        return PaymentActivities(self.stripe, PaymentStore(self.sessions)).ensure_customer(family.account_id)

    def save_card(self, family: Family, number: str = GOOD_CARD) -> str:
        """A card payment method attached to the family's customer (what confirmCardSetup leaves)."""
        pm = self.stripe.v1.payment_methods.create(
            params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
        )
        self.stripe.v1.payment_methods.attach(pm.id, params={"customer": self.customer(family)})
        family.card_pm = pm.id
        return str(pm.id)

    def sepa_mandate(self, family: Family, iban: str = GOOD_IBAN) -> str:
        """An active SEPA mandate (what confirmSepaDebitSetup leaves), recorded on the account."""
        pm = self.stripe.v1.payment_methods.create(params={"type": "sepa_debit", "sepa_debit": {"iban": iban}})
        self.stripe.v1.payment_methods.attach(pm.id, params={"customer": self.customer(family)})
        with self.sessions() as s:
            acc = s.get_one(FamilyAccount, family.account_id)
            acc.stripe_payment_method_id = pm.id
            acc.mandate_status = MandateStatus.active
            s.add(acc)
            s.commit()
        return str(pm.id)

    def invoices(self, period_key: str | None = None) -> list[Invoice]:
        """Invoices, by number."""
        with self.sessions() as s:
            q = select(Invoice).order_by(Invoice.number)
            if period_key:
                q = q.where(Invoice.period_key == period_key)
            return list(s.execute(q).scalars())

    def invoice_of(self, family: Family, period_key: str) -> Invoice:
        """The family's invoice for a period."""
        return next(i for i in self.invoices(period_key) if i.account_id == family.account_id)

    def assert_ledger_consistent(self) -> None:
        """Every entry balances, and each family's receivable equals what its open invoices still owe."""
        with self.sessions() as s:
            debit, credit = s.execute(
                select(func.sum(LedgerPosting.debit_cents), func.sum(LedgerPosting.credit_cents))
            ).one()
            assert debit == credit, f"ledger unbalanced: {debit} != {credit}"
            unbalanced = s.execute(
                select(LedgerPosting.entry_id)
                .group_by(LedgerPosting.entry_id)
                .having(func.sum(LedgerPosting.debit_cents) != func.sum(LedgerPosting.credit_cents))
            ).all()
            assert not unbalanced
            for fam in self.families.values():
                receivable = s.execute(
                    select(func.coalesce(func.sum(LedgerPosting.debit_cents - LedgerPosting.credit_cents), 0)).where(
                        LedgerPosting.account == ledger.receivable_account(fam.ref)
                    )
                ).scalar_one()
                open_due = sum(
                    i.remaining_cents
                    for i in s.execute(select(Invoice).where(Invoice.account_id == fam.account_id)).scalars()
                    if i.status in PAYABLE_STATUSES
                )
                assert receivable == open_due, f"{fam.ref}: receivable {receivable} != open invoices {open_due}"

    def credit_of(self, family: Family) -> int:
        """The family's carried-forward credit."""
        from services.billing import credit_balances

        with self.sessions() as s:
            return credit_balances(s, [family.ref]).get(family.ref, 0)


@pytest.fixture
def billing_world(
    settings: Settings, stripe_client: stripe.StripeClient, databases: Databases
) -> Iterator[BillingWorld]:
    """A fresh migrated database (SQLite or PostgreSQL, as DB says) with the catalogue and grids; same emulators."""
    url = databases.create("billing")
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(
            insert(Activity),
            [dict(zip(("code", "label", "family", "cesu_eligible"), a, strict=True)) for a in CATALOGUE],
        )
        c.execute(insert(TariffGridVersion), [_grid_row(g) for g in json.loads(GRIDS_FILE.read_text())])
        # RIF case refs name workflows on the dev server all tests share: each world starts its own range
        year = datetime.now(PARIS).year
        c.execute(insert(ReferralCaseCounter).values(year=year, next_seq=1 + uuid.uuid4().int % 900_000))
    world_settings = settings.model_copy(update={"database_url": url, "task_queue": f"billing-{uuid.uuid4().hex[:8]}"})
    yield BillingWorld(world_settings, SessionFactory(engine), engine, stripe_client)
    engine.dispose()
    databases.drop(url)


@pytest.fixture(scope="module")
async def billing_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of this module's own: its clock jumps months without touching other tests."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=data_converter(settings)
    )
    await register_search_attributes(env.client, "default")
    yield env
    await env.shutdown()


@asynccontextmanager
async def running_worker(
    client: Client, world: BillingWorld, max_cached_workflows: int = 1000
) -> AsyncIterator[Worker]:
    """The real workflows and activities on the world's database and the emulators.

    `max_cached_workflows=0` replays every workflow from its history on each task (determinism check).
    """
    executor = ThreadPoolExecutor(max_workers=16)
    worker = Worker(
        client,
        task_queue=world.settings.task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(world.settings, client),
        activity_executor=executor,
        max_cached_workflows=max_cached_workflows,
    )
    async with worker:
        yield worker
    executor.shutdown()


@contextmanager
def serve_api(
    world: BillingWorld, env: WorkflowEnvironment, port: int | None = None, **overrides: str
) -> Iterator[str]:
    """The real API (uvicorn) on the world's database and the dev server, receiving localstripe's webhooks."""
    import httpx

    from stack import devstack

    port = port or devstack.free_port()
    s = world.settings
    variables = {
        "ENV": "test",
        "DATABASE_URL": s.database_url,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TASK_QUEUE": s.task_queue,
        "STRIPE_API_BASE": s.stripe_api_base or "",
        "STRIPE_JS_URL": s.stripe_js_url,
        "AWS_ENDPOINT_URL": s.aws_endpoint_url or "",
        "S3_BUCKET": s.s3_bucket,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **overrides,
    }
    api = devstack.Service(
        "api",
        devstack.api_command(port),
        port=port,
        env={**{k: v for k, v in os.environ.items() if k.startswith("AWS_")}, **variables},
    )
    api.log_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"api-{port}.log"
    api.start()
    httpx.post(
        f"{s.stripe_api_base}/_config/webhooks/tests",
        data={"url": f"http://127.0.0.1:{port}/webhooks/stripe", "secret": s.stripe_webhook_secret.get_secret_value()},
        timeout=10,
    ).raise_for_status()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        api.stop()


@pytest.fixture
def live_api(billing_world: BillingWorld, local_env: WorkflowEnvironment) -> Iterator[str]:
    """The real API in ENV=test for the world's tests."""
    with serve_api(billing_world, local_env) as url:
        yield url


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 30.0) -> None:
    """Wait until `check` holds (polling a condition, bounded), or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await asyncio.wait_for(result, timeout=max(0.1, deadline - loop.time()))
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


@pytest.fixture
def client(billing_env: WorkflowEnvironment) -> Client:
    """The module's Temporal client."""
    return billing_env.client


def sent_emails(settings: Settings) -> list[dict[str, Any]]:
    """Messages moto's SES accepted (sent alone or in bulk)."""
    from tests.ses_mailbox import ses_messages

    return ses_messages(settings.aws_endpoint_url)
