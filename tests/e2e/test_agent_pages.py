"""A RIF agent signs in, opens a case, finds a partner service by need and arrondissement, refers, follows it."""

from __future__ import annotations

import uuid

from playwright.async_api import Page, expect
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from domain.hsds import Directory, OrganizationRecord, ServiceRecord
from domain.referral_cases import NeedCategory
from domain.referrals import ReferralState
from services.referral_directory import load_directory
from tests.e2e.conftest import check_page
from tests.workflows.conftest import BillingWorld, eventually, running_worker
from ville.ids import referral_case_id
from ville.models.people import Role, UserAccount
from ville.models.referrals import PartnerService, RifRelay
from workflows.referrals import ReferralCaseWorkflow


def seed_relay(world: BillingWorld, email: str) -> dict[str, str]:
    """A relay with its agent, and three services: housing in the 12th and the 18th, health in the 12th."""
    tag = uuid.uuid4().hex[:6]
    with world.sessions() as s:
        relay = RifRelay(code=f"E-{tag}", name="Relais Informations Familles 12e", arrondissement=12,
                         email="rif12@paris.example", phone="01 00 00 00 12")  # fmt: skip
        s.add(relay)
        s.flush()
        s.add(UserAccount(email=email, display_name="Agent RIF", role=Role.rif_agent, relay_id=relay.id))
        orgs = (
            OrganizationRecord(f"o-{tag}-1", "Association Toit Commun", email=f"toit-{tag}@partenaires.example"),
            OrganizationRecord(f"o-{tag}-2", "Maison de santé Picpus", email=f"sante-{tag}@partenaires.example"),
            OrganizationRecord(f"o-{tag}-3", "Logis Nord", email=f"nord-{tag}@partenaires.example"),
        )
        services = (
            ServiceRecord(f"s-{tag}-1", orgs[0].id, "Accompagnement logement familles",
                          categories=(NeedCategory.HOUSING,), arrondissements=(12,)),
            ServiceRecord(f"s-{tag}-2", orgs[1].id, "Consultations pédiatriques",
                          categories=(NeedCategory.HEALTH,), arrondissements=(12,)),
            ServiceRecord(f"s-{tag}-3", orgs[2].id, "Hébergement d'urgence Nord",
                          categories=(NeedCategory.HOUSING,), arrondissements=(18,)),
        )  # fmt: skip
        load_directory(s, Directory(orgs, services, (), ()))
        s.commit()
        housing = s.exec(select(PartnerService).where(PartnerService.hsds_id == f"s-{tag}-1")).one()
        return {"housing_id": str(housing.id), "housing": housing.name}


async def sign_in_agent(page: Page, base: str, email: str) -> None:
    """Ask for a link on /connexion, follow the dev link: the agent lands on the relay's cases."""
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_role("button", name="Recevoir un lien de connexion").click()
    await page.locator("#dev-link").click()
    await page.wait_for_url(f"{base}/rif/dossiers")


async def test_agent_opens_a_case_and_refers_it(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, site: str, page: Page, axe_source: str
) -> None:
    """Open a case, search by need and arrondissement, refer; the history and the workflow both show it."""
    world, client = billing_world, local_env.client
    email = f"agent-{uuid.uuid4().hex[:6]}@demo.paris.fr"
    directory = seed_relay(world, email)
    problems: dict[str, object] = {}
    async with running_worker(client, world):
        await sign_in_agent(page, site, email)
        await expect(page.get_by_role("heading", level=1)).to_have_text("Dossiers du relais")

        await page.get_by_role("link", name="Ouvrir un dossier").first.click()
        await page.get_by_label("Nom de la personne reçue").fill("Awa Testnavigateur")
        await page.get_by_role("textbox", name="Courriel").fill("awa.testnavigateur@familles.example")
        await page.get_by_label("Arrondissement de résidence").select_option("12")
        await page.get_by_label("Logement").check()
        await page.get_by_label("Résumé pour les partenaires").fill("Mère de deux enfants, hébergée chez un tiers")
        await page.get_by_role("button", name="Ouvrir le dossier").click()
        # no consent ticked: the error is shown with the consent, nothing is opened
        await expect(page.locator("#consent-erreur")).to_contain_text("aucune orientation possible")
        await expect(page.get_by_label("Nom de la personne reçue")).to_have_value("Awa Testnavigateur")
        problems["nouveau-erreur"] = await check_page(page, axe_source, "rif-nouveau-dossier-erreur")
        await page.get_by_label("Partager sa demande avec les services partenaires").check()
        await page.get_by_role("button", name="Ouvrir le dossier").click()

        await expect(page.get_by_role("status")).to_contain_text("Dossier ouvert")
        heading = await page.get_by_role("heading", level=1).text_content()
        assert heading is not None and heading.startswith("Dossier RIF-")
        case_ref = heading.removeprefix("Dossier ").strip()
        problems["dossier"] = await check_page(page, axe_source, "rif-dossier")

        await page.get_by_label("Besoin", exact=True).select_option("housing")
        await page.get_by_label("Arrondissement", exact=True).select_option("12")
        await page.get_by_role("button", name="Chercher les services").click()
        results = page.locator("#resultats")
        await expect(results.get_by_role("heading", level=3)).to_have_text("1 service(s) trouvé(s)")
        # the health service and the 18th arrondissement's housing service are not offered
        await expect(results.get_by_role("heading", level=4)).to_have_text([directory["housing"]])
        problems["recherche"] = await check_page(page, axe_source, "rif-recherche")

        await results.get_by_role("button", name=f"Orienter la famille vers {directory['housing']}").click()
        referral_ref = f"{case_ref}-01"
        await expect(page.get_by_role("status")).to_contain_text(f"Orientation {referral_ref} créée")
        row = page.locator("#orientations").get_by_role("row").filter(has_text=referral_ref)
        await expect(row).to_contain_text(directory["housing"])
        await expect(row).to_contain_text("Logement")

        # the workflow notifies the partner: the referral opens, with its acknowledgement deadline
        handle = client.get_workflow_handle_for(ReferralCaseWorkflow.run, referral_case_id(case_ref))

        async def opened() -> bool:
            snapshot = await handle.query(ReferralCaseWorkflow.snapshot)
            return [(r.ref, r.state) for r in snapshot.referrals] == [(referral_ref, ReferralState.OPEN)]

        await eventually(opened)
        snapshot = await handle.query(ReferralCaseWorkflow.snapshot)
        assert snapshot.referrals[0].service_id == int(directory["housing_id"])
        assert snapshot.referrals[0].sla_deadline is not None

        await page.reload()
        await expect(row).to_contain_text("Ouverte")
        await expect(row).to_contain_text("En attente")
        history = page.locator("#historique")
        await expect(history.get_by_role("row").filter(has_text=referral_ref).first).to_be_visible()
        await expect(history).to_contain_text("Agent du relais")
        problems["dossier-oriente"] = await check_page(page, axe_source, "rif-dossier-oriente")

        # the JSON API (same session) agrees with the page
        api_case = await (await page.request.get(f"{site}/api/rif/cases/{case_ref}")).json()
        assert [(r["ref"], r["status"]) for r in api_case["referral_list"]] == [(referral_ref, "open")]

        await page.get_by_role("link", name="Dossiers du relais").first.click()
        await expect(page.get_by_role("row").filter(has_text=case_ref)).to_contain_text("En attente de réponse")
    assert not page.csp_violations, page.csp_violations  # type: ignore[attr-defined]
    assert problems == {k: [] for k in problems}, problems
