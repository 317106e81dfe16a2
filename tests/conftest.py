"""Shared fixtures: real Temporal servers, localstripe, moto and databases, all offline and on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import stripe
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from ville import devstack
from ville.bootstrap import ensure_aws_resources, migrate
from ville.db import SessionFactory, make_engine
from ville.settings import Settings
from ville.temporal import ALL_SEARCH_ATTRIBUTE_KEYS, data_converter, register_search_attributes

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


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
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database file for the session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'ville.db'}"
    migrate(url)
    return url


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
        _env_file=None,  # type: ignore[call-arg]
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
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway PostgreSQL cluster (started as the postgres user); fails, never skips, if it cannot."""
    initdb = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))), None) or shutil.which("initdb")
    if initdb is None:
        pytest.fail("PostgreSQL is not installed: run `make test` (it installs the postgresql package)")
    bindir = Path(initdb).parent
    # not under pytest's tmp dir: it is private to root and the cluster runs as the postgres user
    base = Path(tempfile.mkdtemp(prefix="ville-pg-"))
    datadir = base / "data"
    shutil.chown(base, "postgres", "postgres")
    port = devstack.free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [*as_pg, str(bindir / "initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [*as_pg, str(bindir / "pg_ctl"), "-D", str(datadir), "-o", opts, "-w", "start", "-l", str(base / "pg.log")],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [*as_pg, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "ville"],
            check=True,
            capture_output=True,
        )
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/ville"
        migrate(url)
        yield url
    finally:
        subprocess.run(
            [*as_pg, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)
