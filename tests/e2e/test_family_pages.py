"""A family signs in by magic link, opens its invoice and pays it by card through the fake Stripe.js."""

from __future__ import annotations

from playwright.async_api import Page, expect
from temporalio.testing import WorkflowEnvironment

from domain.dunning import InvoiceStatus
from domain.money import format_eur
from domain.periods import period_from_key
from tests.e2e.conftest import add_user, check_page, issue, sign_in
from tests.workflows.conftest import DECLINED_CARD, GOOD_CARD, BillingWorld, running_worker
from ville.models.billing import Invoice

SEPT = period_from_key("2026-09")
NOV = period_from_key("2026-11")
CANTINE = {"cantine": (0, 1, 3, 4)}


async def fill_card(page: Page, number: str) -> None:
    """Type a test card in the (fake) Stripe card element."""
    element = page.locator("#carte-element")
    for field, value in (("number", number), ("exp_month", "12"), ("exp_year", "30"), ("cvc", "123")):
        await element.locator(f"input[placeholder={field}]").fill(value)
    await element.locator("input[placeholder=postal_code]").fill("75004")


async def test_family_pays_an_invoice_by_card(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, site: str, page: Page, axe_source: str
) -> None:
    """Sign in, see the invoice, a declined card gets the French refusal, then 4242 pays it."""
    world, client = billing_world, local_env.client
    payer = world.add_family("Payeuse", CANTINE, SEPT)
    tresor = world.add_family("Tresor", CANTINE, SEPT)
    add_user(world, payer, "payeuse@familles.example")
    add_user(world, tresor, "tresor@familles.example")

    async with running_worker(client, world):
        await issue(client, world, "2026-09", "2026-11-02")
        invoice = world.invoice_of(payer, "2026-09")
        other = world.invoice_of(tresor, "2026-09")
        problems: dict[str, object] = {}

        await sign_in(page, site, "payeuse@familles.example")
        row = page.get_by_role("row").filter(has_text=invoice.number)
        await expect(row).to_contain_text("À payer")
        await expect(row).to_contain_text(format_eur(invoice.remaining_cents))
        await expect(row).to_contain_text("28/12/2026")

        await row.get_by_role("link", name=invoice.number).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Facture {invoice.number}")
        await expect(page.get_by_role("table", name="Léo")).to_be_visible()
        payer_button = page.get_by_role("button", name=f"Payer {format_eur(invoice.remaining_cents)}")
        await expect(payer_button).to_be_enabled()

        await fill_card(page, DECLINED_CARD)
        await payer_button.click()
        await expect(page.locator("#paiement-message")).to_contain_text("refusée")
        await expect(page.locator("#paiement-message")).to_have_class("pay-message is-error")
        # the focus goes to the refusal (not lost to <body>), read out as an alert
        assert await page.evaluate("document.activeElement.id") == "paiement-message"
        await expect(page.locator("#paiement-message")).to_have_attribute("role", "alert")
        await check_page(page, axe_source, "famille-facture-refus", exclude=["#carte-element"])
        assert world.invoice_of(payer, "2026-09").paid_cents == 0

        await expect(payer_button).to_be_enabled()
        await fill_card(page, GOOD_CARD)
        await payer_button.click()
        await page.wait_for_url(f"{site}/famille/factures/{invoice.number}?paye=1")
        await expect(page.locator("#etat-facture")).to_have_text("Payée")
        await expect(page.get_by_role("status").first).to_contain_text("Paiement accepté")
        await expect(page.locator("#paiement-carte")).to_have_count(0)
        problems["facture-payee"] = await check_page(page, axe_source, "famille-facture-payee")
        assert world.invoice_of(payer, "2026-09").status is InvoiceStatus.PAID

        await page.get_by_role("link", name="Mes paiements").click()
        paid_row = page.get_by_role("row").filter(has_text=invoice.number).filter(has_text="Accepté")
        await expect(paid_row).to_contain_text("Carte bancaire")
        await expect(page.get_by_role("row").filter(has_text="Refusé")).to_have_count(1)

        await page.get_by_role("link", name="Mes préférences").click()
        await page.get_by_label("Par courrier postal").check()
        await page.get_by_label("Recevoir les rappels d'échéance par SMS").check()
        await page.get_by_role("button", name="Enregistrer").click()
        await expect(page.get_by_role("status")).to_contain_text("Préférences enregistrées")
        await expect(page.get_by_label("Par courrier postal")).to_be_checked()
        problems["preferences"] = await check_page(page, axe_source, "famille-preferences")

        # another family's invoice is not found (never shown)
        response = await page.goto(f"{site}/famille/factures/{other.number}")
        assert response is not None and response.status == 404
        await expect(page.get_by_role("heading", level=1)).to_have_text("Page introuvable")
        assert not page.csp_violations, page.csp_violations  # type: ignore[attr-defined]
        assert problems == {k: [] for k in problems}, problems


async def test_transferred_invoice_cannot_be_paid_online(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, site: str, page: Page, axe_source: str
) -> None:
    """An invoice transferred to the Trésor Public says where to pay, with no card form; forms need CSRF."""
    world, client = billing_world, local_env.client
    # the dev server is shared by the session: another period than the first test's cycle
    family = world.add_family("Transfert", CANTINE, NOV)
    add_user(world, family, "transfert@familles.example")
    async with running_worker(client, world):
        await issue(client, world, "2026-11", "2027-01-08")
    number = world.invoice_of(family, "2026-11").number
    with world.sessions() as s:
        row = s.get_one(Invoice, world.invoice_of(family, "2026-11").id)
        row.status = InvoiceStatus.TRANSFERRED
        s.add(row)
        s.commit()

    anonymous = await page.goto(f"{site}/famille/factures/{number}")
    assert anonymous is not None and page.url.startswith(f"{site}/connexion")
    await sign_in(page, site, "transfert@familles.example")
    await expect(page.get_by_role("row").filter(has_text=number)).to_contain_text("Transmise au Trésor Public")
    await page.goto(f"{site}/famille/factures/{number}")
    await expect(page.locator("#non-payable")).to_contain_text("transmise au Trésor Public")
    await expect(page.locator("#paiement-carte")).to_have_count(0)
    assert await check_page(page, axe_source, "famille-facture-tresor") == []

    forged = await page.request.post(
        f"{site}/famille/preferences", form={"csrf": "forged", "delivery_channel": "post"}, max_redirects=0
    )
    assert forged.status == 403
    assert not page.csp_violations  # type: ignore[attr-defined]
