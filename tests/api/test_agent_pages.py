"""RIF agent pages: open a case, find services by need and arrondissement, refer, follow; roles and CSRF."""

from __future__ import annotations

import html
import re

import httpx
from sqlmodel import select

from api.security import SESSION_COOKIE, Principal
from domain.referrals import ReferralState
from tests.accounts import session_token
from tests.api import test_referral_api as rif
from tests.workflows.conftest import eventually
from ville.ids import referral_case_id
from ville.models.people import Role
from ville.models.referrals import Referral, ReferralCase
from workflows.referrals import ReferralCaseWorkflow

# The RIF API tests' world: two relays with agents and coordinators, four partners, a worker.
Stack = rif.Stack
stack = rif.stack
executor = rif.executor

CASE_FORM = {
    "contact_name": "Nadia Page-Testagent",
    "contact_email": "nadia.testagent@familles.example",
    "contact_phone": "06 11 22 33 44",
    "preferred_channel": "email",
    "arrondissement": "12",
    "needs": ["housing"],
    "situation": "Hébergée chez sa sœur avec deux enfants",
    "partner_summary": "Mère de deux enfants cherchant un logement",
    "consent": ["share_with_partners", "follow_up"],
    "consent_date": "2026-01-05",
}


def browser(stack: Stack, principal: Principal | None) -> tuple[httpx.AsyncClient, str]:
    """A client carrying the session cookie like a browser, and the CSRF token of that session."""
    cookies, csrf = {}, ""
    if principal is not None:
        token = session_token(stack.app, principal)
        cookies, csrf = {SESSION_COOKIE: token}, stack.app.state.signer.csrf_token(token)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=stack.app), base_url="http://testserver",
                               cookies=cookies)  # fmt: skip
    return client, csrf


def error_next_to(html: str, field: str) -> str:
    """The error message rendered under a field (linked to it by aria-describedby)."""
    assert f'aria-describedby="{field}-erreur"' in html, f"{field} is not marked invalid"
    match = re.search(rf'<p id="{field}-erreur" class="field-message">([^<]*)</p>', html)
    assert match is not None, f"no message under {field}"
    return match.group(1)


async def test_agent_opens_a_case_refers_it_and_follows_its_history(stack: Stack) -> None:
    """The form validates next to each field, opens the case, searches the directory, refers; all shown."""
    agent, csrf = browser(stack, stack.agent)
    async with agent:
        form = await agent.get("/rif/dossiers/nouveau")
        assert form.status_code == 200 and f'value="{csrf}"' in form.text

        bad = await agent.post("/rif/dossiers/nouveau", data={**CASE_FORM, "csrf": csrf, "contact_email": "nadia@",
                                                              "needs": []})  # fmt: skip
        assert bad.status_code == 422
        assert error_next_to(bad.text, "contact_email") == "Adresse e-mail invalide, par exemple nom@exemple.fr."
        assert error_next_to(bad.text, "needs") == "Cochez au moins un besoin."
        assert 'value="Nadia Page-Testagent"' in bad.text  # what was typed is kept

        # the workflow's consent rule comes back next to its field too
        no_email = await agent.post("/rif/dossiers/nouveau", data={**CASE_FORM, "csrf": csrf, "contact_email": ""})
        assert no_email.status_code == 422
        assert "courriel est requis" in error_next_to(no_email.text, "consent")

        opened = await agent.post("/rif/dossiers/nouveau", data={**CASE_FORM, "csrf": csrf})
        assert opened.status_code == 303, opened.text
        location = opened.headers["location"]
        case_ref = re.fullmatch(r"/rif/dossiers/(RIF-\d{4}-\d{6})\?ouvert=1", location).group(1)  # type: ignore[union-attr]

        page = await agent.get(location)
        assert page.status_code == 200 and "Dossier ouvert" in page.text and "Nadia Page-Testagent" in page.text
        assert "Aucune orientation pour le moment" in page.text

        found = await agent.get(f"/rif/dossiers/{case_ref}", params={"besoin": "housing", "arrondissement": "12"})
        names = [html.unescape(n) for n in re.findall(r"<h4>([^<]+)</h4>", found.text)]
        # the temporarily closed service is not offered; other tests' services share the database, so only this
        # test's (tagged) ones are counted
        assert sorted(n for n in names if n.endswith(stack.tag)) == [
            f"Logement d'abord {i} {stack.tag}" for i in range(3)
        ]
        assert f"{len(names)} service(s) trouvé(s)" in found.text
        nothing = await agent.get(f"/rif/dossiers/{case_ref}", params={"besoin": "health", "arrondissement": "12"})
        assert "0 service(s) trouvé(s)" in nothing.text

        service_id = stack.orgs[1].service_id
        sent = await agent.post(f"/rif/dossiers/{case_ref}/orientations",
                                data={"csrf": csrf, "service_id": str(service_id), "need": "housing"})  # fmt: skip
        assert sent.status_code == 303
        referral_ref = f"{case_ref}-01"
        assert sent.headers["location"] == f"/rif/dossiers/{case_ref}?oriente={referral_ref}"

        followed = await agent.get(sent.headers["location"])
        table = followed.text.split('id="orientations"')[1].split("</table>")[0]
        assert referral_ref in table and f"Logement d&#39;abord 1 {stack.tag}" in table
        history = followed.text.split('id="historique"')[1]
        assert "Agent du relais" in history and referral_ref in history

        # the workflow itself holds the referral the page shows
        handle = stack.app.state.temporal.get_workflow_handle_for(ReferralCaseWorkflow.run, referral_case_id(case_ref))
        snapshot = await handle.query(ReferralCaseWorkflow.snapshot)
        assert [(r.ref, r.service_id) for r in snapshot.referrals] == [(referral_ref, service_id)]
        assert snapshot.referrals[0].state in (ReferralState.PENDING, ReferralState.OPEN)

        # the partner's answer shows in the case: reason and message of a refusal
        async def open_now() -> bool:
            return stack.referral(referral_ref).status == ReferralState.OPEN.value

        await eventually(open_now)
        async with stack.client(stack.orgs[1].user) as partner:
            refusal = {"reason": "complet", "message": "Liste d'attente jusqu'en juin"}
            answer = await partner.post(f"/api/rif/partner/referrals/{referral_ref}/refuse", json=refusal)
            assert answer.status_code == 200, answer.text
        refused = await agent.get(f"/rif/dossiers/{case_ref}")
        row = refused.text.split('id="orientations"')[1].split("</table>")[0]
        assert "Refusée : Plus de place disponible — « Liste d&#39;attente jusqu&#39;en juin »" in row
        assert "Orientation refusée — Plus de place disponible" in refused.text.split('id="historique"')[1]

        # the service referred to is offered again once refused; an open referral's service is not
        third = {"csrf": csrf, "service_id": str(stack.orgs[2].service_id), "need": "housing"}
        other = await agent.post(f"/rif/dossiers/{case_ref}/orientations", data=third)
        assert other.status_code == 303
        again = await agent.get(f"/rif/dossiers/{case_ref}", params={"besoin": "housing", "arrondissement": "12"})
        assert "Orientation en cours vers ce service" in again.text
        offered = {int(i) for i in re.findall(r'name="service_id" value="(\d+)"', again.text)}
        tagged = {org.service_id for org in stack.orgs[:3]}
        assert offered & tagged == tagged - {stack.orgs[2].service_id}


async def test_forms_refuse_a_forged_csrf_token(stack: Stack) -> None:
    """Without this session's token, neither a case nor a referral is created."""
    agent, csrf = browser(stack, stack.agent)
    async with agent:
        forged = await agent.post("/rif/dossiers/nouveau", data={**CASE_FORM, "csrf": "forged",
                                                                 "contact_name": "Forgé Testcsrf"})  # fmt: skip
        assert forged.status_code == 403
        with stack.sessions() as s:
            assert s.exec(select(ReferralCase).where(ReferralCase.contact_name == "Forgé Testcsrf")).first() is None

        opened = await agent.post("/rif/dossiers/nouveau", data={**CASE_FORM, "csrf": csrf})
        case_ref = opened.headers["location"].split("/")[-1].split("?")[0]
        service_id = str(stack.orgs[0].service_id)
        refused = await agent.post(
            f"/rif/dossiers/{case_ref}/orientations", data={"csrf": "", "service_id": service_id, "need": "housing"}
        )
        assert refused.status_code == 403
        with stack.sessions() as s:
            case = s.exec(select(ReferralCase).where(ReferralCase.ref == case_ref)).one()
            assert s.exec(select(Referral).where(Referral.case_id == case.id)).all() == []


async def test_only_the_relay_sees_its_cases(stack: Stack) -> None:
    """Anonymous → sign-in; a family → its home; another relay's agent → 404; a coordinator reads only."""
    agent, csrf = browser(stack, stack.agent)
    async with agent:
        opened = await agent.post("/rif/dossiers/nouveau", data={**CASE_FORM, "csrf": csrf})
        case_ref = opened.headers["location"].split("/")[-1].split("?")[0]
        listed = await agent.get("/rif/dossiers")
        assert f'href="/rif/dossiers/{case_ref}"' in listed.text

    anonymous, _ = browser(stack, None)
    async with anonymous:
        r = await anonymous.get(f"/rif/dossiers/{case_ref}")
        assert r.status_code == 303 and r.headers["location"] == f"/connexion?suite=/rif/dossiers/{case_ref}"

    family, _ = browser(stack, Principal(user_id=999_999, role=Role.family, family_account_id=1))
    async with family:
        r = await family.get("/rif/dossiers/nouveau")
        assert r.status_code == 303 and r.headers["location"] == "/famille/factures"

    other, other_csrf = browser(stack, stack.other_agent)
    async with other:
        foreign = await other.get(f"/rif/dossiers/{case_ref}")
        assert foreign.status_code == 404 and "Nadia" not in foreign.text
        assert f"/rif/dossiers/{case_ref}" not in (await other.get("/rif/dossiers")).text
        posted = await other.post(f"/rif/dossiers/{case_ref}/orientations",
                                  data={"csrf": other_csrf, "service_id": str(stack.orgs[0].service_id),
                                        "need": "housing"})  # fmt: skip
        assert posted.status_code == 404

    coordinator, coord_csrf = browser(stack, stack.coordinator)
    async with coordinator:
        seen = await coordinator.get(f"/rif/dossiers/{case_ref}")
        assert seen.status_code == 200 and "Nadia Page-Testagent" in seen.text
        assert "Chercher les services" not in seen.text  # coordinators follow, agents refer
        r = await coordinator.post(f"/rif/dossiers/{case_ref}/orientations",
                                   data={"csrf": coord_csrf, "service_id": str(stack.orgs[0].service_id),
                                         "need": "housing"})  # fmt: skip
        assert r.status_code == 303 and r.headers["location"] == "/rif/dossiers"
