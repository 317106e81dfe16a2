"""A partner service answers a RIF referral from the secure link of its e-mail, in the browser."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
from playwright.async_api import Page, expect
from sqlmodel import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.security import Principal
from domain.audit.campaign import PARIS
from domain.hsds import Directory, OrganizationRecord, ServiceRecord
from domain.referral_cases import ConsentScope, NeedCategory
from domain.referrals import ReferralState, RefusalReason
from services.referral_directory import load_directory
from tests.e2e.audit_world import bearer, check_pages_at, sign_in_as, tab_to
from tests.workflows.conftest import BillingWorld, eventually, running_worker, sent_emails
from ville.ids import referral_case_id
from ville.models.people import Role, UserAccount
from ville.models.referrals import PartnerService, Referral, RifRelay
from ville.models.rhythm import ScheduledNotification
from workflows.referrals import ReferralCaseWorkflow

FAMILY = "Awa Diallo-Navigateur"
SITUATION = "Hébergée chez un tiers, dettes de loyer"  # agent-only: never shown to a partner
SUMMARY = "Recherche d'un logement pour une mère et deux enfants"


@dataclass
class ReferralWorld:
    """A relay and its agent, two partner organisations (one service each) with a partner user."""

    agent: Principal
    services: list[int]
    service_names: list[str]
    partner_emails: list[str]
    partner_user_email: str


def seed_referrals(world: BillingWorld) -> ReferralWorld:
    """The relay, its agent, two housing services (the world starts its own range of case refs)."""
    tag = uuid.uuid4().hex[:8]
    with world.sessions() as s:
        relay = RifRelay(code=f"T-{tag}", name="Relais Informations Familles du 12e", arrondissement=12,
                         email="rif12@paris.example", phone="01 00 00 00 12")  # fmt: skip
        s.add(relay)
        s.flush()
        assert relay.id is not None
        agent = UserAccount(email=f"agent-{tag}@paris.example", display_name="Agent RIF", role=Role.rif_agent,
                            relay_id=relay.id)  # fmt: skip
        s.add(agent)
        emails = [f"accueil{i}-{tag}@partenaires.example" for i in range(2)]
        names = ["Maison du logement", "Association Toit pour tous"]
        orgs = [OrganizationRecord(f"o-{tag}-{i}", f"{names[i]} (structure)", email=emails[i]) for i in range(2)]
        services = [ServiceRecord(f"s-{tag}-{i}", o.id, names[i], categories=(NeedCategory.HOUSING,),
                                  arrondissements=(12,)) for i, o in enumerate(orgs)]  # fmt: skip
        load_directory(s, Directory(tuple(orgs), tuple(services), (), ()))
        rows = [s.exec(select(PartnerService).where(PartnerService.hsds_id == r.id)).one() for r in services]
        partner = UserAccount(email=f"partenaire-{tag}@partenaires.example", display_name="Accueil logement",
                              role=Role.partner, partner_org_id=rows[0].organization_id)  # fmt: skip
        s.add(partner)
        s.commit()
        assert agent.id is not None
        return ReferralWorld(
            Principal(agent.id, Role.rif_agent, relay_id=relay.id),
            [r.id for r in rows if r.id is not None],
            names,
            emails,
            partner.email,
        )


async def refer_family(site: str, world: BillingWorld, rw: ReferralWorld) -> tuple[str, list[str]]:
    """The agent opens a case (consent given) and refers it to both services, through the real API."""
    async with httpx.AsyncClient(base_url=site, headers=bearer(world, rw.agent), timeout=30) as api:
        opened = await api.post(
            "/api/rif/cases",
            json={
                "contact_name": FAMILY,
                "contact_email": "awa.navigateur@familles.example",
                "contact_phone": "06 11 22 33 44",
                "preferred_channel": "email",
                "arrondissement": 12,
                "needs": ["housing"],
                "situation": SITUATION,
                "partner_summary": SUMMARY,
                "consent": {"given_at": datetime.now(UTC).isoformat(), "scope": [c.value for c in ConsentScope]},
            },
        )
        assert opened.status_code == 201, opened.text
        case_ref = opened.json()["ref"]
        refs = []
        for service_id in rw.services:
            r = await api.post(
                f"/api/rif/cases/{case_ref}/referrals", json={"service_id": service_id, "need": "housing"}
            )
            assert r.status_code == 201, r.text
            refs.append(r.json()["ref"])
    return case_ref, refs


async def link_from_email(world: BillingWorld, site: str, referral_ref: str) -> str:
    """The secure link of the « Nouvelle orientation » e-mail, on the test's API.

    At night the e-mail waits for the morning (quiet hours): it is then read from the scheduled message,
    whose context the sending will render as is.
    """
    found: list[str] = []
    pattern = re.compile(r"/partenaire/orientation\?token=[A-Za-z0-9._\-]+")

    def mailed() -> bool:
        texts = [str(m.get("body", "")) for m in sent_emails(world.settings) if referral_ref in str(m)]
        with world.sessions() as s:
            texts += [
                n.context_json
                for n in s.exec(
                    select(ScheduledNotification).where(
                        ScheduledNotification.subject_ref == referral_ref,
                        ScheduledNotification.template == "referral_partner_new",
                    )
                )
            ]
        found.extend(m.group(0) for t in texts if (m := pattern.search(t)))
        return bool(found)

    await eventually(mailed)
    return f"{site}{found[0]}"


def referral(world: BillingWorld, ref: str) -> Referral:
    """The referral's projection row."""
    with world.sessions() as s:
        return s.exec(select(Referral).where(Referral.ref == ref)).one()


async def workflow_state(client: Client, case_ref: str, ref: str) -> ReferralState:
    """The referral's state as the case workflow holds it."""
    handle = client.get_workflow_handle_for(ReferralCaseWorkflow.run, referral_case_id(case_ref))
    snapshot = await handle.query(ReferralCaseWorkflow.snapshot)
    return next(r.state for r in snapshot.referrals if r.ref == ref)


def appointment_day(today: date) -> date:
    """A coming day after the 12th: typed as jj/mm/aaaa it cannot be read as mm/dd (no 13th month)."""
    d = today + timedelta(days=3)
    while d.day <= 12:
        d += timedelta(days=1)
    return d


async def test_partner_accepts_from_the_secure_link_with_the_keyboard(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, site: str, page: Page, axe_source: str
) -> None:
    """Only shared fields; a missing appointment is explained next to the field; keyboard-only acceptance."""
    world, client = billing_world, local_env.client
    rw = seed_referrals(world)
    problems: dict[str, object] = {}
    async with running_worker(client, world):
        case_ref, (ref, other_ref) = await refer_family(site, world, rw)
        await eventually(lambda: referral(world, ref).status == ReferralState.OPEN)
        link = await link_from_email(world, site, ref)

        await page.goto(link)
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Orientation {ref}")
        await expect(page.locator("#etat-orientation")).to_have_text("Ouverte")
        main = page.locator("main")
        await expect(main).to_contain_text(FAMILY)
        await expect(main).to_contain_text("awa.navigateur@familles.example")
        await expect(main).to_contain_text(SUMMARY)
        await expect(main).to_contain_text(rw.service_names[0])
        # never the agent's notes, another partner, or the other referral
        for hidden in (SITUATION, rw.service_names[1], other_ref):
            await expect(page.get_by_text(hidden)).to_have_count(0)
        history = page.get_by_role("list", name="Historique")
        await expect(history).to_contain_text("Orientation transmise au partenaire")

        # keyboard alone: submit without an answer, read the message, then type the date and confirm
        await tab_to(page, "form[action$='/accepter'] button")
        await expect(page.locator(":focus")).to_have_text("Accepter l'orientation")
        await page.keyboard.press("Enter")
        field = page.get_by_label("Date du rendez-vous")
        await expect(field).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#appointment_on-erreur")).to_have_text(
            "Indiquez la date du rendez-vous ou cochez « Famille déjà contactée »."
        )
        describedby = await field.get_attribute("aria-describedby")
        assert describedby is not None and "appointment_on-erreur" in describedby.split()
        assert referral(world, ref).status == ReferralState.OPEN
        problems["orientation-erreur"] = await check_pages_at(page, axe_source, "partenaire-orientation-erreur")

        day = appointment_day(datetime.now(PARIS).date())
        await tab_to(page, "#appointment_on")
        await page.keyboard.type(f"{day:%d/%m/%Y}")  # a text field: jj/mm/aaaa whatever the browser's locale
        await expect(field).to_have_value(f"{day:%d/%m/%Y}")
        await tab_to(page, "form[action$='/accepter'] button")
        await page.keyboard.press("Enter")

        await expect(page.get_by_role("status")).to_contain_text("Orientation acceptée.")
        await expect(page.locator("#etat-orientation")).to_have_text("Acceptée")
        await expect(page.locator("#rendez-vous")).to_have_text(f"{day:%d/%m/%Y}")
        await expect(history).to_contain_text("Orientation acceptée")
        await expect(page.get_by_role("button", name="Accepter l'orientation")).to_have_count(0)
        assert await workflow_state(client, case_ref, ref) == ReferralState.ACCEPTED
        row = referral(world, ref)
        assert row.status == ReferralState.ACCEPTED and row.appointment_on == day
        problems["orientation-acceptee"] = await check_pages_at(page, axe_source, "partenaire-orientation-acceptee")

        # a forged or truncated link shows nothing
        response = await page.goto(link[:-6] + "abcdef")
        assert response is not None and response.status == 403
        await expect(page.get_by_role("alert")).to_have_text("Lien invalide.")
        await expect(page.get_by_text(FAMILY)).to_have_count(0)

        # the partner's account lists what its organisation received
        await sign_in_as(page, site, rw.partner_user_email, "/partenaire/orientations")
        await expect(page.get_by_role("listitem").filter(has_text=ref)).to_contain_text("Acceptée")
        await expect(page.get_by_text(other_ref)).to_have_count(0)
        # each referral of the list opens its page
        await page.get_by_role("link", name=re.compile(ref)).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Orientation {ref}")
        await expect(page.locator("#etat-orientation")).to_have_text("Acceptée")
        other = await page.goto(f"{site}/partenaire/orientations/{other_ref}")  # another organisation's
        assert other is not None and other.status == 404

    assert not page.csp_violations, page.csp_violations  # type: ignore[attr-defined]
    assert problems == {k: [] for k in problems}, problems


async def test_partner_refuses_with_a_reason(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, site: str, page: Page, axe_source: str
) -> None:
    """« Autre » needs a message (said next to it); the refusal reaches the workflow and the history."""
    world, client = billing_world, local_env.client
    rw = seed_referrals(world)
    async with running_worker(client, world):
        case_ref, (_, ref) = await refer_family(site, world, rw)
        await eventually(lambda: referral(world, ref).status == ReferralState.OPEN)
        await page.goto(await link_from_email(world, site, ref))
        await expect(page.locator("#etat-orientation")).to_have_text("Ouverte")

        # keyboard: choose « Autre » in the list, leave the message empty, submit
        await tab_to(page, "#reason")
        await page.keyboard.type(RefusalReason.AUTRE.label[:3])
        await expect(page.get_by_label("Motif du refus", exact=True)).to_have_value(RefusalReason.AUTRE.value)
        await tab_to(page, "form[action$='/refuser'] button")
        await page.keyboard.press("Enter")
        message = page.get_by_label("Message pour le relais")
        await expect(message).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#message-erreur")).to_have_text("Merci de préciser le motif du refus.")
        await expect(page.get_by_label("Motif du refus", exact=True)).to_have_value(
            RefusalReason.AUTRE.value
        )  # the choice is kept
        assert await workflow_state(client, case_ref, ref) == ReferralState.OPEN

        await message.fill("Nous n'intervenons que pour les familles domiciliées dans le 20e.")
        await page.get_by_role("button", name="Refuser l'orientation").click()
        await expect(page.get_by_role("status")).to_contain_text("Refus enregistré et transmis au relais.")
        await expect(page.locator("#etat-orientation")).to_have_text("Refusée")
        await expect(page.locator("main")).to_contain_text("domiciliées dans le 20e")
        await expect(page.get_by_role("list", name="Historique")).to_contain_text("Orientation refusée")
        assert await workflow_state(client, case_ref, ref) == ReferralState.REFUSED
        row = referral(world, ref)
        assert row.status == ReferralState.REFUSED and row.refusal_reason == RefusalReason.AUTRE
        assert await check_pages_at(page, axe_source, "partenaire-orientation-refusee") == []
