"""A family asks for a payment plan from its invoice page; a billing operator grants it from the console."""

from __future__ import annotations

import contextlib

from playwright.async_api import Browser, Page, expect
from sqlmodel import select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.periods import period_from_key
from tests.e2e.conftest import add_user, check_page, issue, sign_in
from tests.e2e.test_operator_console import sign_in_operator
from tests.workflows.conftest import BillingWorld, running_worker
from ville.models.payment_plans import PaymentPlan
from ville.models.people import OperatorAuditLog, Role, UserAccount

PERIOD = "2027-11"  # a period no other browser test bills: they share the dev server
ISSUE_DATE = "2028-01-03"
FAMILY_EMAIL = "echeancier@familles.example"
OPERATOR_EMAIL = "facturation-echeanciers@paris.example"
REASON = "Perte d'emploi en décembre : nous ne pouvons pas tout payer d'un coup."
ANSWER = "Échéancier accordé en trois mensualités, au vu de votre situation."


def _plan(world: BillingWorld) -> PaymentPlan | None:
    with world.sessions() as s:
        return s.exec(select(PaymentPlan)).first()


async def test_family_asks_for_a_plan_and_a_billing_operator_grants_it(
    billing_world: BillingWorld,
    local_env: WorkflowEnvironment,
    site: str,
    page: Page,
    browser: Browser,
    axe_source: str,
) -> None:
    """The request form on the invoice page, the console's decision form, the schedule on « Mes paiements »."""
    world, client = billing_world, local_env.client
    family = world.add_family(
        "Echeancier", {"creche": (0, 1, 2, 3, 4), "cantine": (0, 1, 3, 4)}, period_from_key(PERIOD)
    )
    add_user(world, family, FAMILY_EMAIL)
    with world.sessions() as s:
        s.add(UserAccount(email=OPERATOR_EMAIL, display_name="Dominique Facturation", role=Role.billing_operator))
        s.commit()
    problems: dict[str, object] = {}

    async with running_worker(client, world):
        await issue(client, world, PERIOD, ISSUE_DATE)
        invoice = world.invoice_of(family, PERIOD)
        number = invoice.number
        try:
            # --- the family asks for three instalments -------------------------------------------------------
            await sign_in(page, site, FAMILY_EMAIL)
            await page.goto(f"{site}/famille/factures/{number}")
            await expect(page.get_by_role("heading", name="Paiement en plusieurs fois")).to_be_visible()
            problems["facture"] = await check_page(page, axe_source, "famille-facture-echeancier")
            await page.get_by_label("Nombre d'échéances mensuelles").select_option("3")
            await page.get_by_label("Votre situation").fill(REASON)
            await page.get_by_role("button", name="Demander un échéancier").click()
            await page.wait_for_url(f"{site}/famille/factures/{number}?echeancier=1#echeancier")
            await expect(page.locator("#echeancier-envoye")).to_contain_text("Demande d'échéancier envoyée")
            await expect(page.locator("#demande-echeancier")).to_have_count(0)  # not asked twice
            await expect(page.get_by_text("Demande en cours d'examen")).to_be_visible()
            problems["envoyee"] = await check_page(page, axe_source, "famille-echeancier-envoye")
            plan = _plan(world)
            assert plan is not None and plan.asked_count == 3 and plan.reason == REASON

            # --- the billing operator grants it from the console ----------------------------------------------
            staff_context = await browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
            staff = await staff_context.new_page()
            staff.set_default_timeout(30_000)
            await sign_in_operator(staff, site, OPERATOR_EMAIL)
            await staff.get_by_role("link", name="Échéanciers").first.click()
            await staff.wait_for_url(f"{site}/operateur/echeanciers")
            card = staff.locator("#demandes-echeancier li", has_text=number)
            await expect(card).to_contain_text(REASON)
            problems["console"] = await check_page(staff, axe_source, "operateur-echeanciers")
            await card.get_by_label("Accorder le nombre demandé").check()
            await card.get_by_label("Réponse écrite à la famille").fill(ANSWER)
            await card.get_by_label("Motif").fill("Situation vérifiée")
            await card.get_by_role("button", name=f"Enregistrer la décision sur {plan.ref}").click()
            await staff.wait_for_url(f"{site}/operateur/echeanciers?fait=1")
            await expect(staff.locator("#demandes-echeancier li", has_text=number)).to_have_count(0)
            await staff_context.close()
            granted = _plan(world)
            assert granted is not None and granted.status == "approved" and len(granted.instalments) == 3
            assert granted.total_cents == invoice.remaining_cents
            with world.sessions() as s:
                journal = s.exec(select(OperatorAuditLog).where(OperatorAuditLog.target == plan.ref)).one()
                assert journal.action == "payment_plan.decide"

            # --- the family sees the schedule on « Mes paiements », and the card asks for the first instalment ---
            await page.goto(f"{site}/famille/paiements")
            await expect(page.get_by_role("heading", name="Mes échéanciers")).to_be_visible()
            table = page.get_by_role("table", name=f"Échéances de l'échéancier de la facture {number}")
            await expect(table.get_by_role("row")).to_have_count(4)
            await expect(table).to_contain_text("À venir")
            problems["paiements"] = await check_page(page, axe_source, "famille-paiements-echeancier")
            await page.goto(f"{site}/famille/factures/{number}")
            first = granted.instalments[0]["amount_cents"]
            await expect(page.locator("#paiement-carte")).to_have_attribute("data-amount", str(first))
            await expect(page.locator("#echeancier-" + plan.ref)).to_contain_text(ANSWER)
        finally:
            plan = _plan(world)
            if plan is not None:
                with contextlib.suppress(RPCError):
                    await client.get_workflow_handle(plan.ref).terminate("fin du test")
    assert all(v == [] for v in problems.values()), problems
    assert page.csp_violations == []  # type: ignore[attr-defined]
