"""A billing operator previews a period in the console, starts its cycle with a reason, and meets the refusals."""

from __future__ import annotations

import contextlib

from playwright.async_api import Page, expect
from sqlmodel import col, select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.cycle_start import paris_today
from domain.periods import period_for, period_from_key
from tests.e2e.conftest import check_page
from tests.e2e.test_operator_console import sign_in_operator
from tests.workflows.conftest import BillingWorld, running_worker
from ville.ids import billing_cycle_id
from ville.models.people import OperatorAuditLog, Role, UserAccount

PERIOD = period_from_key("2026-05")  # ended, billed by no other browser test (they share the dev server)
CANTINE: dict[str, tuple[int, ...]] = {"cantine": (0, 1, 3, 4)}
EMAIL = "facturation-cycle@paris.example"


async def test_operator_previews_then_starts_a_cycle_and_sees_the_refusals(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, site: str, page: Page, axe_source: str
) -> None:
    """Preview (families, totals per tranche), start with a motif, see it running; future period and rerun refused."""
    world, client = billing_world, local_env.client
    world.add_family("Lune", CANTINE, PERIOD, qf_cents=60_000)
    world.add_family("Soleil", CANTINE, PERIOD, qf_cents=60_000)
    world.add_family("Etoile", {"creche": (0, 1, 2, 3, 4)}, PERIOD, qf_cents=20_000)
    with world.sessions() as s:
        s.add(UserAccount(email=EMAIL, display_name="Camille Facturation", role=Role.billing_operator))
        s.commit()
    problems: dict[str, object] = {}
    motif = "Facturation mai–juin après contrôle des pointages"

    await sign_in_operator(page, site, EMAIL)
    await page.get_by_role("link", name="Lancer un cycle de facturation").click()
    await page.wait_for_url(f"{site}/operateur/cycles/nouveau")

    # --- a period not ended: refused with the reason, in French -----------------------------------------
    current = period_for(paris_today())
    await page.get_by_label("Période").select_option(current.key)
    await page.get_by_role("button", name="Voir l'aperçu").click()
    await expect(page.get_by_role("alert")).to_contain_text(f"La période {current.label_fr} n'est pas terminée")
    await expect(page.get_by_role("button", name="Lancer le cycle")).to_have_count(0)

    # --- preview: families and totals per tranche, in French money format -------------------------------
    await page.get_by_label("Période").select_option(PERIOD.key)
    await page.get_by_role("button", name="Voir l'aperçu").click()
    await expect(page.locator("#apercu-familles")).to_have_text("3")
    rows = page.locator("#apercu-tranches tbody tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#apercu-du")).to_contain_text(",")
    await expect(page.locator("#apercu-du")).to_contain_text("€")
    problems["apercu"] = await check_page(page, axe_source, "operateur-cycle-apercu")

    async with running_worker(client, world):
        try:
            # --- start: the reason is required, then the cycle runs ------------------------------------
            await page.get_by_role("button", name="Lancer le cycle").click()
            assert await page.locator("#motif-lancement:invalid").count() == 1  # the browser asks for it first
            await page.locator("#motif-lancement").fill(motif)
            await page.get_by_role("button", name="Lancer le cycle").click()
            await page.wait_for_url(f"{site}/operateur?cycle={PERIOD.key}&fait=lancement")
            await expect(page.get_by_role("status").first).to_contain_text("Cycle de facturation lancé")
            await expect(page.get_by_text(f"Cycle {PERIOD.label_fr}")).to_be_visible()
            await expect(page.locator("#cycle-phase")).not_to_be_empty()

            # --- the same period again: the page says the cycle already runs, nothing journalled -------
            await page.goto(f"{site}/operateur/cycles/nouveau?periode={PERIOD.key}")
            await page.locator("#motif-lancement").fill("Deuxième lancement")
            await page.get_by_role("button", name="Lancer le cycle").click()
            await expect(page.get_by_role("alert")).to_contain_text(f"Le cycle de {PERIOD.label_fr} est déjà")
            problems["refus"] = await check_page(page, axe_source, "operateur-cycle-refus")
        finally:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(billing_cycle_id(PERIOD.key)).terminate("fin du test")

    with world.sessions() as s:
        journal = s.execute(
            select(OperatorAuditLog.action, OperatorAuditLog.reason).where(
                col(OperatorAuditLog.target) == billing_cycle_id(PERIOD.key)
            )
        ).all()
    assert [tuple(r) for r in journal] == [("cycle.start", motif)]
    assert not page.csp_violations, page.csp_violations  # type: ignore[attr-defined]
    assert problems == {k: [] for k in problems}, problems
