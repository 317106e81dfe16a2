"""A family sets up a SEPA mandate with the keyboard alone, then downloads its yearly statement (PDF)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from playwright.async_api import Locator, Page, expect
from sqlalchemy import insert
from sqlmodel import col

from domain.dunning import InvoiceStatus
from domain.payments import PaymentMethod
from domain.periods import period_from_key
from domain.sepa import mandate_reference
from tests.e2e.conftest import add_user, check_page, sign_in
from tests.workflows.conftest import GOOD_IBAN, BillingWorld, Family
from ville.models.billing import FamilyAccount, Invoice, InvoiceLine, MandateStatus, Payment, PaymentAllocation

MAX_TABS = 80


async def tab_to(page: Page, target: Locator) -> None:
    """Press Tab until `target` has the focus (as a keyboard user would), or fail."""
    for _ in range(MAX_TABS):
        await page.keyboard.press("Tab")
        if await target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{target} never received the focus")


def paid_in_2025(world: BillingWorld, family: Family) -> None:
    """A crèche + canteen invoice of 2025 paid by card in 2025 (90 € over 150 €: 60 € are childcare)."""
    child_ref = f"EN-{family.children[0][0]:07d}"
    with world.engine.begin() as c:
        invoice_id = c.execute(
            insert(Invoice)
            .values(number=f"FF-2025-E{family.account_id:05d}", account_id=family.account_id, period_key="2025-09",
                    period_start=date(2025, 9, 1), period_end=date(2025, 10, 31), issue_date=date(2025, 11, 3),
                    due_date=date(2025, 12, 26), tranche=4, lines_total_cents=15_000, amount_due_cents=15_000,
                    paid_cents=9_000, status=InvoiceStatus.PARTIALLY_PAID)
            .returning(col(Invoice.id))
        ).scalar_one()  # fmt: skip
        for code, cents in (("creche", 12_500), ("cantine", 2_500)):
            c.execute(insert(InvoiceLine).values(invoice_id=invoice_id, child_ref=child_ref, child_first_name="Léo",
                                                 activity_code=code, label=code, quantity=1, unit_price_cents=cents,
                                                 amount_cents=cents))  # fmt: skip
        payment_id = c.execute(
            insert(Payment)
            .values(key=f"e2e:{invoice_id}", invoice_id=invoice_id, account_id=family.account_id,
                    method=PaymentMethod.CARD, amount_cents=9_000, status="succeeded",
                    settled_at=datetime(2025, 12, 10, 9, tzinfo=UTC))
            .returning(col(Payment.id))
        ).scalar_one()  # fmt: skip
        c.execute(insert(PaymentAllocation).values(payment_id=payment_id, invoice_id=invoice_id, amount_cents=9_000))


async def test_family_sets_up_a_mandate_by_keyboard_and_downloads_its_statement(
    billing_world: BillingWorld, site: str, page: Page, axe_source: str, tmp_path: Path
) -> None:
    """Keyboard only: a bad IBAN is explained next to the field, the signed mandate shows its RUM, IBAN masked."""
    world = billing_world
    family = world.add_family("Sepa", {"creche": (0, 2)}, period_from_key("2026-09"))
    add_user(world, family, "sepa@familles.example")
    paid_in_2025(world, family)
    problems: dict[str, object] = {}

    await sign_in(page, site, "sepa@familles.example")
    await tab_to(page, page.get_by_role("link", name="Prélèvement", exact=True))
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{site}/famille/mandat")
    await expect(page.locator("#etat-mandat")).to_have_text("Aucun mandat")

    holder, iban = page.get_by_label("Titulaire du compte"), page.get_by_label("IBAN")
    await tab_to(page, holder)
    await page.keyboard.press("Control+A")
    await page.keyboard.type("Camille TestSepa")
    await page.keyboard.press("Tab")
    await expect(iban).to_be_focused()
    await page.keyboard.type("FR14 2004 1010 0505 0001 3M02 607")  # last digit wrong
    await page.keyboard.press("Enter")
    await expect(page.locator("#iban-erreur")).to_have_text(
        "Cet IBAN n'est pas valide (clé de contrôle incorrecte) : vérifiez-le sur votre RIB."
    )
    await expect(iban).to_have_attribute("aria-describedby", "iban-erreur")
    problems["mandat-erreur"] = await check_page(page, axe_source, "famille-mandat-erreur")

    await tab_to(page, iban)
    await page.keyboard.press("Control+A")
    await page.keyboard.type(GOOD_IBAN)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Signer le mandat de prélèvement SEPA")
    await expect(page.locator("#iban-a-signer")).to_have_text("FR•• •••• •••• •••• 2606")
    sign_button = page.get_by_role("button", name="Signer le mandat")
    await expect(sign_button).to_be_enabled()  # Stripe.js loaded
    problems["mandat-signature"] = await check_page(page, axe_source, "famille-mandat-signature")
    await tab_to(page, sign_button)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{site}/famille/mandat?enregistre=1")

    with world.sessions() as s:
        account = s.get_one(FamilyAccount, family.account_id)
        assert account.mandate_status is MandateStatus.active and account.stripe_payment_method_id
        reference = mandate_reference(account.ref, account.stripe_payment_method_id)
    await expect(page.get_by_role("status")).to_contain_text("Mandat de prélèvement enregistré")
    await expect(page.locator("#etat-mandat")).to_have_text("Mandat actif")
    await expect(page.locator("#reference-mandat")).to_have_text(reference)
    await expect(page.locator("#iban-masque")).to_have_text("•••• •••• •••• 2606")
    assert "3M02606" not in await page.content()
    problems["mandat-actif"] = await check_page(page, axe_source, "famille-mandat-actif")
    # the SEPA debit of the billing cycle uses the payment method the bank confirmed
    pm = world.stripe.v1.payment_methods.retrieve(account.stripe_payment_method_id)
    assert pm.type == "sepa_debit" and pm.sepa_debit is not None and pm.sepa_debit.last4 == "2606"

    await tab_to(page, page.get_by_role("link", name="Attestations annuelles"))
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{site}/famille/attestations")
    await tab_to(page, page.get_by_role("link", name="Année 2025"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Attestation annuelle 2025")
    row = page.get_by_role("table", name="Sommes payées en 2025, par enfant").get_by_role("row").filter(has_text="Léo")
    await expect(row).to_contain_text("90,00")
    await expect(row).to_contain_text("75,00")  # the crèche's share of the 90 € paid
    await expect(row).to_contain_text("Oui (moins de 6 ans au 01/01/2025)")
    await expect(page.locator("#total-garde")).to_contain_text("75,00")

    link = page.get_by_role("link", name="Télécharger l'attestation 2025 (PDF)")
    await tab_to(page, link)
    async with page.expect_download() as downloading:
        await page.keyboard.press("Enter")
    download = await downloading.value
    assert download.suggested_filename == "attestation-frais-de-garde-2025.pdf"
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")

    assert not page.csp_violations, page.csp_violations  # type: ignore[attr-defined]
    assert problems == {k: [] for k in problems}, problems
