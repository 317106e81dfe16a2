"""The Temporal UI of `make run` decodes encrypted payloads for a signed-in operator, and for no one else.

The dev server, its UI and the codec proxy are started by `devstack.temporal_with_ui`, the helper `ville dev`
uses; the API runs on a free port. A payment workflow is started with our encrypting converter (no worker
needed: its input sits encrypted in the history), then the UI's workflow page is opened in chromium.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest
from playwright.async_api import Browser, Page
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from contracts.billing import InvoicePaymentInput
from domain.periods import period_from_key
from stack import devstack
from tests.e2e.conftest import add_user, sign_in
from tests.e2e.test_operator_console import sign_in_operator
from tests.workflows.conftest import BillingWorld, serve_api
from ville.ids import invoice_payment_id
from ville.models.people import Role, UserAccount
from ville.temporal import data_converter
from workflows.payment import InvoicePaymentWorkflow

INVOICE = "FF-2026-004242"
OPERATOR = Role.operator
SEPA_DAY = "2031-05-17"  # a field only the decoded input shows (the workflow id already names the invoice)


@dataclass
class Stack:
    """The API and the Temporal UI's public address, as `ville dev` wires them."""

    api: str
    ui: str
    workflow_url: str


@pytest.fixture
async def stack(billing_world: BillingWorld, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """Dev server + UI behind the codec proxy, the API in ENV=dev, one encrypted payment workflow."""
    api_port, ui_port, grpc_port = devstack.free_port(), devstack.free_port(), devstack.free_port()
    api = f"http://127.0.0.1:{api_port}"
    services = devstack.temporal_with_ui(None, grpc_port, ui_port, api)
    logs = tmp_path_factory.mktemp("temporal-ui-logs")
    started: list[devstack.Service] = []
    try:
        for s in services:
            s.log_file = logs / f"{s.name}.log"
            started.append(s.start())
        client = await Client.connect(f"127.0.0.1:{grpc_port}", data_converter=data_converter(billing_world.settings))
        wf_id = invoice_payment_id(INVOICE)
        await client.start_workflow(
            InvoicePaymentWorkflow.run,
            InvoicePaymentInput(INVOICE, sepa_debit_on=date.fromisoformat(SEPA_DAY)),
            id=wf_id,
            task_queue=billing_world.settings.task_queue,
        )
        ui = f"http://127.0.0.1:{ui_port}"
        with serve_api(
            billing_world,
            WorkflowEnvironment.from_client(client),
            port=api_port,
            ENV="dev",
            LOG_LEVEL="WARNING",
            TEMPORAL_UI_URL=ui,
        ):
            yield Stack(api, ui, f"{ui}/namespaces/default/workflows/{wf_id}")
    finally:
        for s in reversed(started):
            s.stop()


async def _open_workflow(page: Page, stack: Stack) -> int:
    """Open the workflow's page in the UI; the status of the UI's first codec call."""
    async with page.expect_response(lambda r: "/codec/decode" in r.url) as decoded:
        await page.goto(stack.workflow_url)
    return (await decoded.value).status


async def test_operator_reads_the_payment_input_in_clear(billing_world: BillingWorld, stack: Stack, page: Page) -> None:
    with billing_world.sessions() as s:
        s.add(
            UserAccount(email="exploitation@paris.example", display_name="Dominique Exploitation", role=Role.operator)
        )
        s.commit()
    await sign_in_operator(page, stack.api, "exploitation@paris.example")
    assert await _open_workflow(page, stack) == 200
    # the input's field only exists in the decrypted payload: the page shows it once the codec answered
    await page.get_by_text(SEPA_DAY).first.wait_for()
    assert "Codec Server could not connect" not in await page.content()


async def test_anonymous_and_family_get_no_clear_payload(
    billing_world: BillingWorld, stack: Stack, browser: Browser, page: Page
) -> None:
    assert await _open_workflow(page, stack) == 401
    # the UI has handled the refusal (its codec banner is in the page) and shows no decrypted field
    await page.get_by_text("Codec Server could not connect").first.wait_for(state="attached")
    assert SEPA_DAY not in await page.content()

    family = billing_world.add_family("Curieuse", {"cantine": (0,)}, period_from_key("2026-09"))
    add_user(billing_world, family, "camille@example.org")
    context = await browser.new_context(locale="fr-FR")
    family_page = await context.new_page()
    try:
        await sign_in(family_page, stack.api, "camille@example.org")
        assert await _open_workflow(family_page, stack) == 403
        assert SEPA_DAY not in await family_page.content()
    finally:
        await context.close()
