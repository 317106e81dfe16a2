"""A family contests an invoice line from its invoice page; a billing operator decides from the queue."""

from __future__ import annotations

import contextlib

from playwright.async_api import Browser, Page, expect
from sqlmodel import select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.periods import period_from_key
from tests.e2e.conftest import add_user, check_page, issue, sign_in
from tests.e2e.test_operator_console import sign_in_operator
from tests.workflows.conftest import BillingWorld, eventually, running_worker
from ville.models.billing import Invoice, Notification, Payment
from ville.models.contests import InvoiceContest
from ville.models.people import OperatorAuditLog, Role, UserAccount

PERIOD = "2027-07"  # a period no other browser test bills: they share the dev server
ISSUE_DATE = "2027-09-01"
FAMILY_EMAIL = "reclamation@familles.example"
OPERATOR_EMAIL = "facturation-reclamations@paris.example"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256
ANSWER = "Deux repas facturés pendant l'absence : ils vous sont remboursés par un avoir."


def _contest(world: BillingWorld) -> InvoiceContest | None:
    with world.sessions() as s:
        return s.exec(select(InvoiceContest)).first()


async def test_family_contests_a_line_and_a_billing_operator_decides(
    billing_world: BillingWorld,
    local_env: WorkflowEnvironment,
    site: str,
    page: Page,
    browser: Browser,
    axe_source: str,
) -> None:
    """The contest form on the invoice page, the queue with its decision form, the answer back on the invoice."""
    world, client = billing_world, local_env.client
    family = world.add_family("Reclame", {"creche": (0, 2), "cantine": (0, 1, 3, 4)}, period_from_key(PERIOD))
    add_user(world, family, FAMILY_EMAIL)
    with world.sessions() as s:
        s.add(UserAccount(email=OPERATOR_EMAIL, display_name="Camille Facturation", role=Role.billing_operator))
        s.commit()
    problems: dict[str, object] = {}

    async with running_worker(client, world):
        await issue(client, world, PERIOD, ISSUE_DATE)
        number = world.invoice_of(family, PERIOD).number
        try:
            # --- the family contests the canteen line, with a photo ----------------------------------------
            await sign_in(page, site, FAMILY_EMAIL)
            await page.goto(f"{site}/famille/factures/{number}")
            await expect(page.get_by_role("heading", name="Réclamations")).to_be_visible()
            problems["facture"] = await check_page(page, axe_source, "famille-facture-reclamation")
            await page.locator("#ligne-cantine").check()
            await page.get_by_label("Motif").select_option("absence_enfant")
            await page.get_by_label("Explication").fill("Léo était malade du 14 au 18 : il n'a pas déjeuné.")
            await page.get_by_label("Justificatif").set_input_files(
                {"name": "certificat.png", "mimeType": "image/png", "buffer": PNG}
            )
            await page.get_by_role("button", name="Envoyer la réclamation").click()
            await page.wait_for_url(f"{site}/famille/factures/{number}?reclamation=1#reclamations")
            await expect(page.locator("#reclamation-envoyee")).to_contain_text("Réclamation envoyée")
            await expect(page.locator("#mes-reclamations")).to_contain_text("En cours d'examen")
            await expect(page.locator("#ligne-cantine")).to_have_count(0)  # not contested twice
            problems["envoyee"] = await check_page(page, axe_source, "famille-reclamation-envoyee")
            contest = _contest(world)
            assert contest is not None and contest.lines.keys() == {"cantine"} and contest.document_key

            # --- the billing operator sees it in the queue and accepts part of it -------------------------
            # the operator works in a browser context of its own (the family stays signed in on `page`)
            staff_context = await browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
            staff = await staff_context.new_page()
            staff.set_default_timeout(30_000)
            await sign_in_operator(staff, site, OPERATOR_EMAIL)
            await staff.get_by_role("link", name="Réclamations").first.click()
            await staff.wait_for_url(f"{site}/operateur/reclamations")
            card = staff.locator("#file-reclamations li", has_text=number)
            await expect(card).to_contain_text("Absence de l'enfant")
            await expect(card).to_contain_text("justificatif joint")
            problems["file"] = await check_page(staff, axe_source, "operateur-reclamations")
            granted = contest.contested_cents // 2
            await card.get_by_label("Accepter en partie").check()
            await card.get_by_label("Montant accordé pour cantine").fill(f"{granted // 100},{granted % 100:02d}")
            await card.get_by_label("Réponse écrite à la famille").fill(ANSWER)
            await card.get_by_label("Motif").fill("Absence justifiée par certificat")
            await card.get_by_role("button", name=f"Enregistrer la décision sur {contest.ref}").click()
            await staff.wait_for_url(f"{site}/operateur/reclamations?fait=1")
            await expect(staff.get_by_role("status").first).to_contain_text("Décision enregistrée")
            await expect(staff.locator("#file-reclamations li", has_text=number)).to_have_count(0)
            await staff_context.close()

            decided = _contest(world)
            assert decided is not None and decided.status == "partially_accepted" and decided.credited_cents == granted
            with world.sessions() as s:
                note = s.exec(select(Payment).where(Payment.key == f"credit-note:{contest.ref}")).one()
                assert note.amount_cents == granted
                assert s.exec(select(Invoice.paid_cents).where(Invoice.number == number)).one() == granted
                journal = s.exec(select(OperatorAuditLog).where(OperatorAuditLog.target == contest.ref)).one()
                assert journal.action == "contest.decide" and journal.reason == "Absence justifiée par certificat"
            world.assert_ledger_consistent()

            # --- the family reads the answer on its invoice page ------------------------------------------
            await page.goto(f"{site}/famille/factures/{number}")
            await expect(page.locator("#mes-reclamations")).to_contain_text("Acceptée en partie")
            await expect(page.locator("#mes-reclamations")).to_contain_text(ANSWER)
            problems["reponse"] = await check_page(page, axe_source, "famille-reclamation-reponse")
            await eventually(lambda: _decided_mail_sent(world, contest.ref))
        finally:
            contest = _contest(world)
            if contest is not None:
                with contextlib.suppress(RPCError):
                    await client.get_workflow_handle(contest.ref).terminate("fin du test")
    assert all(v == [] for v in problems.values()), problems
    assert page.csp_violations == []  # type: ignore[attr-defined]


def _decided_mail_sent(world: BillingWorld, ref: str) -> bool:
    with world.sessions() as s:
        return s.exec(select(Notification).where(Notification.key == f"contest-decided:{ref}")).first() is not None
