"""`make run` on PostgreSQL: scripts/local-postgres.sh, then `ville dev` with its DATABASE_URL, and a card payment."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import select
from sqlmodel import col

from api.security import SESSION_COOKIE
from domain.dunning import InvoiceStatus
from stack.cli import PORTS
from tests.workflows.conftest import GOOD_CARD, eventually
from ville.db import SessionFactory, make_engine
from ville.models.billing import FamilyAccount, Invoice, Payment, PaymentStatus
from ville.settings import DEV_STRIPE_KEY

ROOT = Path(__file__).resolve().parents[2]
FAMILY_EMAIL = "famille1@demo.paris.fr"  # a demo account (stack/demo.py)


def _free_offset() -> int:
    """A port offset under which every fixed dev port is free (the dev stack itself may run on the machine)."""
    for _ in range(50):
        # below Linux's ephemeral range (32768 and up): a port the OS hands to another socket meanwhile cannot be ours
        offset = random.randrange(10_000, 22_000, 10)
        with socket.socket() as probe:
            if all(probe.connect_ex(("127.0.0.1", p + offset)) != 0 for p in PORTS.values()):
                return offset
    raise AssertionError("no free port range for a second dev stack")


@pytest.fixture
def local_postgres() -> Iterator[str]:
    """The documented one-liner's cluster in a scratch directory; yields the DATABASE_URL it prints."""
    base = Path(tempfile.mkdtemp(prefix="ville-localpg-"))
    base.chmod(0o755)  # the cluster runs as the postgres user, under this directory
    env = {**os.environ, "PG_DIR": str(base / "pg"), "PG_PORT": str(_free_offset() + 5432)}
    out = subprocess.run(
        [str(ROOT / "scripts" / "local-postgres.sh")], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert out.startswith("export DATABASE_URL=postgresql+psycopg://"), out
    try:
        yield out.strip().removeprefix("export DATABASE_URL=")
    finally:
        subprocess.run([str(ROOT / "scripts" / "local-postgres.sh"), "stop"], env=env, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


async def test_dev_stack_on_postgres_takes_a_card_payment(local_postgres: str, tmp_path: Path) -> None:
    """`ville dev` migrates, seeds and bills the demo on PostgreSQL; a family pays by card (4242) via the API."""
    offset = _free_offset()
    api = f"http://127.0.0.1:{PORTS['api'] + offset}"
    log = (tmp_path / "dev.log").open("w")
    data = str(tmp_path / "data")
    dev = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "ville"),
            "dev",
            "--data-dir",
            data,
            "--families",
            "20",
            "--port-offset",
            str(offset),
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": local_postgres},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    engine = make_engine(local_postgres)
    try:
        async with httpx.AsyncClient(base_url=api, timeout=30) as http:

            async def api_up() -> bool:
                assert dev.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(api_up, timeout=300)
            link = (await http.post("/auth/magic-link", json={"email": FAMILY_EMAIL})).json()["dev_link"]
            signed_in = await http.get(link.removeprefix(f"{api}"))
            token = signed_in.cookies[SESSION_COOKIE]
            http.headers["Authorization"] = f"Bearer {token}"
            http.cookies.clear()

            payable: list[dict[str, object]] = []

            async def invoice_issued() -> bool:  # the demo period's cycle, started by `ville dev`, issues it
                answer = await http.get("/api/family/invoices")
                assert answer.status_code == 200, answer.text
                payable[:] = [i for i in answer.json() if int(i["remaining_cents"]) > 0]
                return bool(payable)

            await eventually(invoice_issued, timeout=300)
            number, amount = str(payable[0]["number"]), int(payable[0]["remaining_cents"])  # type: ignore[call-overload]
            assert (await http.post(f"/api/family/invoices/{number}/card/setup")).status_code == 200
            with SessionFactory(engine)() as db:
                invoice = db.execute(select(Invoice).where(col(Invoice.number) == number)).scalar_one()
                customer = db.get_one(FamilyAccount, invoice.account_id).stripe_customer_id
            assert customer, "the card setup creates the family's Stripe customer"
            stripe_client = stripe.StripeClient(
                DEV_STRIPE_KEY, base_addresses={"api": f"http://127.0.0.1:{PORTS['stripe'] + offset}"}
            )
            card: Any = {"number": GOOD_CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
            pm = stripe_client.v1.payment_methods.create(params={"type": "card", "card": card})
            stripe_client.v1.payment_methods.attach(pm.id, params={"customer": customer})
            paid = await http.post(
                f"/api/family/invoices/{number}/card", json={"payment_method_id": pm.id, "amount_cents": amount}
            )
            assert paid.status_code == 200, paid.text
            assert paid.json()["status"] == "succeeded", paid.json()

            def recorded_paid() -> bool:
                with SessionFactory(engine)() as db:
                    invoice = db.execute(select(Invoice).where(col(Invoice.number) == number)).scalar_one()
                    payments = db.execute(select(Payment).where(col(Payment.invoice_id) == invoice.id)).scalars().all()
                return (
                    invoice.status is InvoiceStatus.PAID
                    and invoice.remaining_cents == 0
                    and [(p.status, p.amount_cents) for p in payments] == [(PaymentStatus.succeeded, amount)]
                )

            await eventually(recorded_paid, timeout=60)
            assert engine.dialect.name == "postgresql"
    finally:
        engine.dispose()
        dev.send_signal(signal.SIGINT)
        try:
            dev.wait(timeout=60)
        finally:
            if dev.poll() is None:
                dev.kill()
            log.close()
