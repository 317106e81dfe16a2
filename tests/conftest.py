"""Shared fixtures: real Temporal servers, localstripe, moto and databases, all offline and on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import stripe
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from stack import devstack
from stack.bootstrap import ensure_aws_resources, migrate
from stack.pgcluster import ThrowawayCluster
from ville.db import SessionFactory, make_engine
from ville.settings import Settings
from ville.temporal import ALL_SEARCH_ATTRIBUTE_KEYS, data_converter, register_search_attributes

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
# The database switch: `DB=postgresql pytest ...` runs the same suites on a throwaway PostgreSQL cluster.
DB = os.environ.get("DB", "sqlite")
if DB not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"DB={DB!r}: expected sqlite or postgresql")


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM (`kill`, a CI time limit) ends the run as Ctrl-C does, every fixture torn down: the throwaway
    PostgreSQL cluster is a daemon (pg_ctl) that outlives this process unless its fixture stops it."""
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class SqliteFiles:
    """Fresh SQLite files, each migrated from empty."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp = tmp_path_factory

    def create(self, hint: str) -> str:
        """A new migrated database file."""
        url = f"sqlite:///{self.tmp.mktemp(hint) / 'ville.db'}"
        migrate(url)
        return url

    def drop(self, url: str) -> None:
        """Nothing to do: pytest's tmp dirs go away on their own."""


class PostgresCluster(ThrowawayCluster):
    """The throwaway cluster; a world's database is dropped with this process's pool on it."""

    def drop(self, url: str) -> None:
        """Close the activities' cached engine on `url`, then drop the database."""
        from ville.db import engine_for

        engine_for(url).dispose()
        super().drop(url)


Databases = SqliteFiles | PostgresCluster


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """localstripe and moto servers for the whole session; yields the environment pointing at them."""
    stripe_port, moto_port = devstack.free_port(), devstack.free_port()
    logs = tmp_path_factory.mktemp("emulator-logs")
    services = [
        devstack.localstripe(stripe_port),
        devstack.moto(moto_port),
    ]
    for s in services:
        s.log_file = logs / f"{s.name}.log"
        s.start()
    try:
        yield devstack.emulator_env(0, stripe_port, moto_port)
    finally:
        for s in services:
            s.stop()


@pytest.fixture(scope="session")
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Databases:
    """Fresh migrated databases on the engine the `DB` switch names (SQLite files, or the PostgreSQL cluster)."""
    if DB == "postgresql":
        return request.getfixturevalue("pg_cluster")
    return SqliteFiles(tmp_path_factory)


@pytest.fixture(scope="session")
def db_url(databases: Databases) -> str:
    """A migrated database for the session (SQLite file, or a database on the cluster with DB=postgresql)."""
    return databases.create("session")


@pytest.fixture(scope="session")
def settings(emulators: dict[str, str], db_url: str) -> Settings:
    """Settings of the test stack (emulators, session database, test keys)."""
    for k, v in emulators.items():
        if k.startswith("AWS_"):
            os.environ[k] = v
    s = Settings(
        env="test",
        database_url=db_url,
        stripe_api_base=emulators["STRIPE_API_BASE"],
        stripe_js_url=emulators["STRIPE_JS_URL"],
        aws_endpoint_url=emulators["AWS_ENDPOINT_URL"],
        s3_bucket=f"test-{uuid.uuid4().hex[:8]}",
        task_queue="test",
        # the suites run on the real clock at any hour: only tests/workflows/test_rhythm_delivery.py (virtual
        # time) turns rhythm-aware delivery on, so that e-mails expected "now" are not held until 08:00
        rhythm_delivery=False,
        _env_file=None,
    )
    ensure_aws_resources(s)
    return s


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Engine:
    """The session database's engine."""
    return make_engine(settings.database_url)


@pytest.fixture(scope="session")
def sessions(engine: Engine) -> SessionFactory:
    """Session factory on the session database."""
    return SessionFactory(engine)


@pytest.fixture(scope="session")
async def time_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (offline binary), with our encrypted data converter."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=data_converter(settings),
    )
    await register_search_attributes(env.client, "default")
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def local_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server (offline binary, in memory) with our search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=data_converter(settings),
        search_attributes=ALL_SEARCH_ATTRIBUTE_KEYS,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def temporal_client(local_env: WorkflowEnvironment) -> Client:
    """A client of the dev server."""
    return local_env.client


@pytest.fixture(scope="session")
def stripe_client(settings: Settings) -> stripe.StripeClient:
    """A Stripe client pointed at localstripe."""
    from services.stripe_client import make_stripe_client

    return make_stripe_client(settings)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster (started as the postgres user); fails, never skips, if it cannot."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and shutil.which("initdb") is None:
        pytest.fail("PostgreSQL is not installed: run `make test` (it installs the postgresql package)")
    cluster = PostgresCluster().start()  # in /tmp, not pytest's tmp dir: private to root, unreadable to postgres
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(pg_cluster: PostgresCluster) -> str:
    """A database on the cluster migrated from empty by itself (the schema comparison checks it), whatever DB says."""
    url = pg_cluster.create_empty("ville")
    migrate(url)
    return url
