"""An operator follows a running billing cycle in the console: progress, pause, resume, a failed batch retried.

The failure is a real one: a payer's postal address imported with too many lines cannot be printed in the
envelope window, so the batch's archive step fails (and is retried by Temporal until the batch is marked
failed). A clerk corrects the address; the operator retries the failed batch from the console.
"""

from __future__ import annotations

from datetime import date

from playwright.async_api import Page, expect
from sqlalchemy import update
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from contracts.billing import BillingCycleInput, CyclePhase, CycleProgress
from domain.periods import period_from_key
from tests.e2e.conftest import check_page
from tests.workflows.conftest import BillingWorld, eventually, running_worker
from ville.ids import billing_cycle_id
from ville.models.billing import Payer
from ville.models.people import Role, UserAccount
from workflows.billing import BillingCycleWorkflow

PERIOD = "2027-01"  # not a period of the other browser tests: they share the dev server
CANTINE: dict[str, tuple[int, ...]] = {"cantine": (0, 1, 3, 4)}
GOOD_FAMILIES = 60  # one family per batch: enough batches for the operator to act while the cycle runs
BAD_ADDRESS = "\n".join(["Bâtiment B", "Escalier 3", "Étage 4", "Porte gauche", "Chez M. X", "1 rue Y", "75004 Paris"])
GOOD_ADDRESS = "1 place de l'Hôtel de Ville, 75004 Paris"


async def sign_in_operator(page: Page, base: str, email: str) -> None:
    """Ask for a link on /connexion and follow the dev link: staff land on the console."""
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_role("button", name="Recevoir un lien de connexion").click()
    await page.get_by_role("heading", name="Lien envoyé").wait_for()
    await page.locator("#dev-link").click()
    await page.wait_for_url(f"{base}/operateur")


async def batches_done(page: Page, base: str) -> int:
    """Reload the console and read the number of batches done."""
    await page.goto(f"{base}/operateur")
    return int(await page.locator("#lots-faits").inner_text())


async def progress(handle: WorkflowHandle[BillingCycleWorkflow, object]) -> CycleProgress:
    """The cycle's own progress query (what the page shows, read directly to check the page)."""
    return await handle.query(BillingCycleWorkflow.progress)


async def quiescent(client: Client, wf_id: str) -> bool:
    """Paused and settled: no batch activity in its first attempt (only the failing batch may still retry)."""
    desc = await client.get_workflow_handle(wf_id).describe()
    return all(a.attempt > 1 for a in desc.raw_description.pending_activities)


async def test_operator_pauses_resumes_and_retries_a_failed_batch(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, site: str, page: Page, axe_source: str
) -> None:
    """Progress moves, pause and resume act, a failed batch shows and is retried; the journal has it all."""
    world, client = billing_world, local_env.client
    period = period_from_key(PERIOD)
    bad = world.add_family("Adresse", CANTINE, period)  # lowest account id: the first batch
    with world.engine.begin() as c:
        c.execute(update(Payer).where(Payer.account_id == bad.account_id).values(address=BAD_ADDRESS))  # type: ignore[arg-type]
    for i in range(GOOD_FAMILIES):
        world.add_family(f"Famille{i:02d}", CANTINE, period)
    with world.sessions() as s:
        s.add(
            UserAccount(email="exploitation@paris.example", display_name="Dominique Exploitation", role=Role.operator)
        )
        s.commit()
    wf_id = billing_cycle_id(PERIOD)
    handle = client.get_workflow_handle_for(BillingCycleWorkflow.run, wf_id)
    problems: dict[str, object] = {}

    await sign_in_operator(page, site, "exploitation@paris.example")
    async with running_worker(client, world):
        await client.start_workflow(
            BillingCycleWorkflow.run,
            BillingCycleInput(PERIOD, batch_size=1, parallelism=2, issue_date=date(2027, 3, 2)),
            id=wf_id,
            task_queue=world.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,  # tests share one dev server
        )

        # --- the running cycle's progress moves ---------------------------------------------------------
        await eventually(lambda: _issuing(handle))
        await page.goto(f"{site}/operateur")
        await expect(page.get_by_text("Cycle janvier–février 2027")).to_be_visible()
        await expect(page.locator("#lots-total")).to_have_text(str(GOOD_FAMILIES + 1))
        await expect(page.locator("#cycle-phase")).to_contain_text("Émission des factures")
        first = await batches_done(page, site)

        async def moved() -> bool:
            return await batches_done(page, site) > first

        await eventually(moved)
        problems["accueil"] = await check_page(page, axe_source, "operateur-accueil")

        # --- pause: a motif is required, then no new batch starts ---------------------------------------
        await page.get_by_role("button", name="Mettre le cycle en pause").click()
        assert await page.locator("#motif-pause:invalid").count() == 1  # the browser asks for the motif first
        await page.locator("#motif-pause").fill("Contrôle des adresses importées")
        await page.get_by_role("button", name="Mettre le cycle en pause").click()
        await page.wait_for_url(f"{site}/operateur?fait=pause")
        await expect(page.get_by_role("status").first).to_contain_text("Cycle mis en pause")
        await expect(page.locator("#cycle-pause")).to_have_text("en pause")
        await eventually(lambda: quiescent(client, wf_id))
        paused = await progress(handle)
        assert paused.paused and paused.batches_done < GOOD_FAMILIES  # work is left for the resume to do
        assert await batches_done(page, site) == paused.batches_done
        problems["accueil-pause"] = await check_page(page, axe_source, "operateur-accueil-pause")

        # --- resume: batches start again ----------------------------------------------------------------
        await page.locator("#motif-reprise").fill("Adresses vérifiées")
        await page.get_by_role("button", name="Reprendre le cycle").click()
        await page.wait_for_url(f"{site}/operateur?fait=reprise")
        await expect(page.locator("#cycle-pause")).to_have_count(0)

        async def resumed() -> bool:
            return await batches_done(page, site) > paused.batches_done

        await eventually(resumed)

        # --- the bad batch fails after Temporal's retries; the console shows it ---------------------------
        async def failed_shown() -> bool:
            await page.goto(f"{site}/operateur")
            return await page.locator("#alerte-echec").count() == 1

        await eventually(failed_shown, timeout=120)
        await expect(page.locator("#lots-echec")).to_have_text("1")
        await expect(page.locator("#alerte-echec")).to_contain_text("n° 0")
        assert (await progress(handle)).failed_batches == [0]
        problems["accueil-echec"] = await check_page(page, axe_source, "operateur-accueil-echec")

        # a clerk corrects the address; the operator retries the failed batch
        with world.engine.begin() as c:
            c.execute(update(Payer).where(Payer.account_id == bad.account_id).values(address=GOOD_ADDRESS))  # type: ignore[arg-type]
        await eventually(lambda: _all_good_done(handle))
        await page.goto(f"{site}/operateur")
        await page.locator("#motif-relance").fill("Adresse du payeur corrigée")
        await page.get_by_role("button", name="Relancer les lots en échec").click()
        await page.wait_for_url(f"{site}/operateur?fait=relance")
        await expect(page.get_by_role("status").first).to_contain_text("Lots en échec relancés")

        async def issued() -> bool:
            p = await progress(handle)
            return p.phase is CyclePhase.AWAITING_DUE_DATE and not p.failed_batches

        await eventually(issued)
        await page.goto(f"{site}/operateur")
        await expect(page.locator("#cycle-phase")).to_contain_text("En attente de l'échéance")
        await expect(page.locator("#lots-faits")).to_have_text(str(GOOD_FAMILIES + 1))
        await expect(page.locator("#alerte-echec")).to_have_count(0)
        assert world.invoice_of(bad, PERIOD).number

    # --- drill-down lists, each item linked to its workflow in the Temporal UI ---------------------------
    await page.get_by_role("link", name="Workflows", exact=True).click()
    await page.get_by_label("Processus").select_option("BillingCycleWorkflow")
    await page.get_by_label("Période de facturation").fill(PERIOD)
    await page.get_by_role("button", name="Filtrer").click()
    link = page.get_by_role("link", name=wf_id)
    await expect(link).to_have_attribute(
        "href", f"{world.settings.temporal_ui_url}/namespaces/default/workflows/{wf_id}"
    )
    problems["workflows"] = await check_page(page, axe_source, "operateur-workflows")

    await page.goto(f"{site}/operateur/factures?periode={PERIOD}")
    await expect(page.get_by_role("row")).to_have_count(GOOD_FAMILIES + 2)  # header + one row per family
    problems["factures"] = await check_page(page, axe_source, "operateur-factures")

    # --- the journal records who did what, when and why -------------------------------------------------
    await page.get_by_role("link", name="Journal").click()
    journal = page.locator("#journal tbody tr")
    await expect(journal.filter(has_text="Pause du cycle")).to_contain_text("Contrôle des adresses importées")
    await expect(journal.filter(has_text="Reprise du cycle")).to_contain_text("Adresses vérifiées")
    await expect(journal.filter(has_text="Relance des lots en échec")).to_contain_text("Adresse du payeur corrigée")
    for row in ("Pause du cycle", "Reprise du cycle", "Relance des lots en échec"):
        await expect(journal.filter(has_text=row)).to_contain_text("Dominique Exploitation")
        await expect(journal.filter(has_text=row)).to_contain_text(wf_id)
    problems["journal"] = await check_page(page, axe_source, "operateur-journal")

    # a forged form is refused, and the console never answers other roles
    forged = await page.request.post(
        f"{site}/operateur/cycles/{PERIOD}/pause", form={"csrf": "forged", "motif": "essai"}, max_redirects=0
    )
    assert forged.status == 403
    assert not page.csp_violations, page.csp_violations  # type: ignore[attr-defined]
    assert problems == {k: [] for k in problems}, problems


async def _issuing(handle: WorkflowHandle[BillingCycleWorkflow, object]) -> bool:
    return (await progress(handle)).phase is CyclePhase.ISSUING


async def _all_good_done(handle: WorkflowHandle[BillingCycleWorkflow, object]) -> bool:
    return (await progress(handle)).batches_done == GOOD_FAMILIES
