"""Privacy canary: a family's personal data never reaches Temporal in clear, nor logs, nor metrics.

A family with unmistakable data (name, e-mail, phone, address, IBAN) is billed and pays by card on a dev
server of this module's own. Then the raw histories are read by a client WITHOUT our codec, with the
workflow ids, search attributes and memos, the captured log output and the Prometheus text: none may
contain any of the canary strings, and every payload must be AES-GCM ciphertext (`binary/encrypted`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest
from google.protobuf.message import Message
from prometheus_client import REGISTRY, generate_latest
from sqlalchemy import update
from structlog.testing import capture_logs
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowExecution
from temporalio.testing import WorkflowEnvironment

from contracts.billing import BillingCycleInput, CyclePhase
from tests.workflows.conftest import GOOD_IBAN, BillingWorld, eventually, running_worker
from tests.workflows.test_billing_cycle import CRECHE_AND_CANTINE, SEPT, _phase_is, pay_card
from ville.codec import ENCODING
from ville.ids import billing_cycle_id
from ville.models.billing import Payer
from ville.settings import Settings
from ville.temporal import ALL_SEARCH_ATTRIBUTE_KEYS, data_converter
from workflows.billing import BillingCycleWorkflow
from workflows.payment import OUTCOME_EVENTS_ONLY, RECEIPT_AFTER_ANSWER

BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
FIRST, LAST = "Zéphyrine", "Canari-Témoin"
EMAIL, PHONE = "canari.temoin@exemple.fr", "+33699887766"
ADDRESS = "17 rue des Mésanges-Témoins, 75019 Paris"
IBAN_LAST4 = GOOD_IBAN[-4:]
# Every fragment someone could log or copy: exact values, halves, ASCII and JSON-escaped spellings.
CANARIES = [
    FIRST, LAST, f"{FIRST} {LAST}", "Canari", "canari", "Zephyrine", "Témoin", "Mésanges", "Mesanges",
    EMAIL, "canari.temoin", "exemple.fr", PHONE, "699887766", "06 99 88 77 66", ADDRESS, "rue des M",
    GOOD_IBAN, GOOD_IBAN[4:],
]  # fmt: skip
# IBAN last4 are four digits: hex run ids can contain them by chance, so they are looked for in text only.
TEXT_ONLY_CANARIES = [IBAN_LAST4]


def _spellings(s: str) -> list[bytes]:
    return [s.encode(), json.dumps(s).strip('"').encode(), s.encode("latin-1", "ignore")]


def _leaks(blob: bytes, canaries: list[str] = CANARIES) -> list[str]:
    low = blob.lower()
    return [c for c in canaries for b in _spellings(c) if b and b.lower() in low]


# Every `workflow.patched` id of the workflows: a marker carries one of them, in clear.
KNOWN_PATCH_IDS = {RECEIPT_AFTER_ANSWER, OUTCOME_EVENTS_ONLY}


def _payloads(msg: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload inside a protobuf message, with the field path that leads to it."""
    if isinstance(msg, Payload):
        yield path, msg
        return
    for field, value in msg.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for k, v in value.items():
                if isinstance(v, Message):
                    yield from _payloads(v, f"{path}.{field.name}[{k}]")
        elif isinstance(value, Message):
            yield from _payloads(value, f"{path}.{field.name}")
        else:
            for i, v in enumerate(value):
                yield from _payloads(v, f"{path}.{field.name}[{i}]")


@pytest.fixture(scope="module")
async def dev_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this module's own (its workflows are the only ones the canary inspects)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=data_converter(settings),
        search_attributes=ALL_SEARCH_ATTRIBUTE_KEYS,
    )
    yield env
    await env.shutdown()


async def test_no_personal_data_in_temporal_logs_or_metrics(
    billing_world: BillingWorld,
    dev_env: WorkflowEnvironment,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Billing cycle + card payment of the canary family; then every surface outside the database is scanned."""
    world, client = billing_world, dev_env.client
    canary = world.add_family("Canari", CRECHE_AND_CANTINE, SEPT, email=EMAIL)
    world.add_family("Voisin", CRECHE_AND_CANTINE, SEPT)
    with world.engine.begin() as c:
        c.execute(
            update(Payer)
            .where(Payer.account_id == canary.account_id)  # type: ignore[arg-type]
            .values(first_name=FIRST, last_name=LAST, phone=PHONE, address=ADDRESS, iban_last4=IBAN_LAST4)
        )
    world.sepa_mandate(canary)  # the full IBAN goes to Stripe, never to Temporal
    world.save_card(canary)

    caplog.set_level(logging.INFO)
    with capture_logs() as structured:
        async with running_worker(client, world):
            await client.start_workflow(
                BillingCycleWorkflow.run,
                BillingCycleInput("2026-09", batch_size=1, parallelism=2, issue_date=date(2026, 11, 2)),
                id=billing_cycle_id("2026-09"),
                task_queue=world.settings.task_queue,
            )
            await eventually(lambda: _phase_is(client, "2026-09", CyclePhase.AWAITING_DUE_DATE), timeout=60)
            invoice = world.invoice_of(canary, "2026-09")
            paid = await pay_card(client, world, invoice.number, canary, invoice.amount_due_cents)
            assert paid.status == "succeeded"

    # --- Temporal, read raw: a client with the default converter sees what the server stores ---------
    raw = await Client.connect(client.service_client.config.target_host, namespace="default")
    expected = {billing_cycle_id("2026-09"), f"invoice-payment-{invoice.number}"}
    executions: list[WorkflowExecution] = []

    async def listed() -> bool:
        executions[:] = [e async for e in raw.list_workflows()]
        return expected <= {e.id for e in executions}

    await eventually(listed)  # visibility is eventually consistent
    checked_payloads = 0
    for e in executions:
        assert not _leaks(e.id.encode() + e.workflow_type.encode() + (e.task_queue or "").encode()), e.id
        desc = await raw.get_workflow_handle(e.id, run_id=e.run_id).describe()
        info = desc.raw_description.workflow_execution_info
        assert not _leaks(info.search_attributes.SerializeToString()), f"{e.id}: search attributes"
        assert not _leaks(info.memo.SerializeToString()), f"{e.id}: memo"
        history = await raw.get_workflow_handle(e.id, run_id=e.run_id).fetch_history()
        for event in history.events:
            assert not _leaks(event.SerializeToString()), f"{e.id}: event {event.event_id} {event.event_type}"
            for path, payload in _payloads(event):
                if "search_attributes" in path or ".header" in path:
                    continue  # indexed in clear by design: business keys only, checked above
                if "[patch-data]" in path:
                    # the SDK writes a `workflow.patched` marker's id in clear: our patch ids, nothing else
                    assert json.loads(payload.data)["id"] in KNOWN_PATCH_IDS, f"{e.id}: unknown marker at {path}"
                    continue
                assert payload.metadata.get("encoding") == ENCODING, f"{e.id}: clear payload at {path}"
                checked_payloads += 1
    assert checked_payloads > 20

    # --- logs (structlog events, stdlib records, anything printed) and metrics ------------------------
    out, err = capfd.readouterr()
    # record messages, not their numeric fields: a pid or a `created` timestamp may contain the IBAN's 4 digits
    log_text = "\n".join([repr(structured), caplog.text, *(r.getMessage() for r in caplog.records), out, err])
    assert "billing.batch_issued" in log_text  # the capture did see the activities' logs
    leaked = _leaks(log_text.encode(), CANARIES + TEXT_ONLY_CANARIES)
    assert not leaked, [line for line in log_text.splitlines() if any(c in line for c in leaked)][:3]
    metrics = generate_latest(REGISTRY)
    assert b"ville_invoices_issued" in metrics
    assert not _leaks(metrics, CANARIES + TEXT_ONLY_CANARIES)
