"""Browser fixtures: the real API (uvicorn) on a billing world, a worker, Debian chromium, axe-core."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import insert
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from contracts.billing import BillingCycleInput, CyclePhase
from tests.workflows.conftest import BIN, BillingWorld, Family, billing_world, eventually, serve_api  # noqa: F401
from ville.ids import billing_cycle_id
from ville.models.people import Role, UserAccount
from workflows.billing import BillingCycleWorkflow

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "e2e" / "vendor" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WIDTHS = (360, 1280)


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core, vendored on first use by scripts/fetch-axe.sh (npm registry)."""
    if not AXE.is_file() or AXE.stat().st_size == 0:
        subprocess.run([str(ROOT / "scripts" / "fetch-axe.sh")], check=True, timeout=120)
    return AXE.read_text()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium driven by Playwright (no downloaded browser)."""
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        yield b
        await b.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) per test; CSP stays enforced, violations are recorded."""
    context = await browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    p = await context.new_page()
    # 2 shared cores run Temporal, the API, the worker, the emulators and chromium: leave room for a slow step
    p.set_default_timeout(30_000)
    violations: list[str] = []
    p.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    p.csp_violations = violations  # type: ignore[attr-defined]
    yield p
    await context.close()


@pytest.fixture
def site(billing_world: BillingWorld, local_env: WorkflowEnvironment) -> Iterator[str]:  # noqa: F811
    """The real API in ENV=dev (sign-in links shown on the page) on the world's database, with webhooks."""
    with serve_api(billing_world, local_env, ENV="dev", LOG_LEVEL="WARNING") as url:
        yield url


def add_user(world: BillingWorld, family: Family, email: str) -> None:
    """A family user who signs in by magic link."""
    with world.engine.begin() as c:
        c.execute(
            insert(UserAccount).values(
                email=email, display_name="Camille Test", role=Role.family, family_account_id=family.account_id
            )
        )


async def issue(client: Client, world: BillingWorld, period_key: str, issue_date: str) -> None:
    """Run the period's billing cycle until its invoices are issued and delivered."""

    async def issued() -> bool:
        handle = client.get_workflow_handle_for(BillingCycleWorkflow.run, billing_cycle_id(period_key))
        return (await handle.query(BillingCycleWorkflow.progress)).phase == CyclePhase.AWAITING_DUE_DATE

    await client.start_workflow(
        BillingCycleWorkflow.run,
        BillingCycleInput(period_key, batch_size=10, parallelism=2, issue_date=date.fromisoformat(issue_date)),
        id=billing_cycle_id(period_key),
        task_queue=world.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,  # tests share one dev server
    )
    await eventually(issued)


async def sign_in(page: Page, base: str, email: str) -> None:
    """Ask for a link on /connexion and follow the dev link shown on the page."""
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_role("button", name="Recevoir un lien de connexion").click()
    await page.get_by_role("heading", name="Lien envoyé").wait_for()
    await page.locator("#dev-link").click()
    await page.wait_for_url(f"{base}/famille/factures")


async def check_page(page: Page, axe: str, name: str, exclude: list[str] | None = None) -> list[dict[str, Any]]:
    """Run axe-core on the page, save screenshots at 360 and 1280 px, return serious/critical violations."""
    # page.evaluate runs through the DevTools protocol, outside the page's CSP: no bypass_csp needed
    await page.evaluate(axe)
    violations: list[dict[str, Any]] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:  # narrow screens reveal other problems (scrolling regions, reflow)
        await page.set_viewport_size({"width": width, "height": 900})
        result = await page.evaluate(
            "async (exclude) => await axe.run({include: [document], exclude: exclude.map(s => [s])}, "
            "{resultTypes: ['violations']})",
            exclude or [],
        )
        violations += result["violations"]
        await page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
