"""RIF API: agents, partners (account and secure link), coordinators and families, on the dev server."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select
from temporalio.client import Client
from temporalio.worker import Worker

from activities.referrals import ReferralActivities
from api.app import create_app
from api.security import Principal
from domain.referral_links import PARTNER_LINKS_MAX, LinkClaims
from services.notifications import Notifier
from tests.accounts import session_token
from ville.aws import aws_client
from ville.db import SessionFactory
from ville.ids import referral_case_id
from ville.models.people import Role, UserAccount
from ville.models.referrals import PartnerOrganization, PartnerService, Referral, ReferralCase, RifRelay
from ville.referral_links import FamilyLinkClaims, ReferralLinkSigner
from ville.settings import Settings
from ville.temporal import SA_BUSINESS_STATUS, SA_RELAY
from workflows.referrals import ReferralCaseWorkflow

API = "/api/rif"


@dataclass
class Org:
    """A partner organisation of the test, its service and its account."""

    id: int
    service_id: int
    hsds_id: str
    user: Principal


@dataclass
class Stack:
    """The app, and who can call it."""

    app: FastAPI
    settings: Settings
    sessions: SessionFactory
    agent: Principal
    other_agent: Principal
    coordinator: Principal
    other_coordinator: Principal
    operator: Principal
    orgs: list[Org]
    tag: str

    def client(self, principal: Principal | None) -> httpx.AsyncClient:
        """An in-process client signed in as `principal` (None: anonymous)."""
        headers = {"Authorization": f"Bearer {session_token(self.app, principal)}"} if principal else {}
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver",
                                 headers=headers)  # fmt: skip

    def signer(self) -> ReferralLinkSigner:
        """The link signer with the app's keys."""
        return ReferralLinkSigner(self.settings.session_keys)

    def referral(self, ref: str) -> Referral:
        """The projection of a referral."""
        with self.sessions() as s:
            return s.exec(select(Referral).where(Referral.ref == ref)).one()


def _hsds(tag: str) -> dict[str, Any]:
    """Nested HSDS JSON: organisations with their services, areas, places and a taxonomy term."""
    return {
        "organizations": [
            {
                "id": f"org-{tag}-{i}",
                "name": f"Association test {i} {tag}",
                "email": f"org{i}-{tag}@partenaires.example",
                "locations": [{"id": f"loc-{tag}-{i}", "name": "Accueil", "addresses": [
                    {"address_1": "10 rue de Reuilly", "postal_code": "75012", "city": "Paris"}]}],
                "services": [
                    {
                        "id": f"svc-{tag}-{i}",
                        "name": f"Logement d'abord {i} {tag}",
                        "status": "active" if i < 3 else "temporarily closed",
                        "email": f"svc{i}-{tag}@partenaires.example",
                        "eligibility_description": "Familles avec enfants",
                        "service_areas": [{"name": "Paris 12e"}, {"name": "75011"}],
                        "attributes": [{"taxonomy_term": {"id": "t-housing", "code": "housing"}}],
                        "service_at_locations": [{"location_id": f"loc-{tag}-{i}"}],
                    }
                ],
            }
            for i in range(4)
        ]
    }  # fmt: skip


@pytest.fixture(scope="module")
def executor() -> Iterator[ThreadPoolExecutor]:
    """The activity thread pool."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        yield pool


@pytest.fixture
async def stack(
    settings: Settings, sessions: SessionFactory, temporal_client: Client, executor: ThreadPoolExecutor
) -> AsyncIterator[Stack]:
    """Two relays (agents, coordinators), four partners loaded through the import API, and a worker."""
    tag = uuid.uuid4().hex[:8]
    rif_settings = settings.model_copy(update={"task_queue": f"rif-{tag}"})
    app = create_app(rif_settings, temporal=temporal_client)
    with sessions() as s:
        relays = [RifRelay(code=f"A-{tag}", name="Relais A", arrondissement=12, email="a@rif.example"),
                  RifRelay(code=f"B-{tag}", name="Relais B", arrondissement=9)]  # fmt: skip
        s.add_all(relays)
        s.flush()
        users = [
            UserAccount(email=f"{n}-{tag}@demo.paris.fr", display_name=n, role=role, relay_id=relay)
            for n, role, relay in (
                ("agent", Role.rif_agent, relays[0].id), ("agent-b", Role.rif_agent, relays[1].id),
                ("coord", Role.coordinator, relays[0].id), ("coord-b", Role.coordinator, relays[1].id),
                ("operator", Role.operator, None),
            )
        ]  # fmt: skip
        s.add_all(users)
        s.commit()
        principals = [Principal.of(u) for u in users]
    stack = Stack(app, rif_settings, sessions, *principals, orgs=[], tag=tag)
    async with stack.client(stack.operator) as op:
        resp = await op.post(f"{API}/directory/import", json=_hsds(tag))
        assert resp.status_code == 200, resp.text
        assert resp.json()["services_created"] == 4 and resp.json()["errors"] == []
    with sessions() as s:
        for i in range(4):
            svc = s.exec(select(PartnerService).where(PartnerService.hsds_id == f"svc-{tag}-{i}")).one()
            user = UserAccount(email=f"partner{i}-{tag}@demo.paris.fr", display_name=f"P{i}", role=Role.partner,
                               partner_org_id=svc.organization_id)  # fmt: skip
            s.add(user)
            s.commit()
            stack.orgs.append(Org(svc.organization_id, svc.id or 0, svc.hsds_id, Principal.of(user)))
    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), rif_settings)
    activities = ReferralActivities(sessions, aws_client(settings, "s3"), notifier, rif_settings).activities()
    async with Worker(temporal_client, task_queue=rif_settings.task_queue, workflows=[ReferralCaseWorkflow],
                      activities=activities, activity_executor=executor):  # fmt: skip
        yield stack


CASE = {
    "contact_name": "Inès Martin-Testapi",
    "contact_email": "ines.testapi@familles.example",
    "contact_phone": "06 12 34 56 78",
    "preferred_channel": "email",
    "arrondissement": 12,
    "needs": ["housing"],
    "situation": "Expulsion prévue en mars, deux enfants de 3 et 7 ans",
    "partner_summary": "Famille de trois personnes cherchant un hébergement",
    "consent": {"given_at": "2026-01-05T10:00:00+01:00",
                "scope": ["share_with_partners", "follow_up", "status_link"]},
}  # fmt: skip


async def _open_case(stack: Stack, **overrides: Any) -> str:
    async with stack.client(stack.agent) as agent:
        resp = await agent.post(f"{API}/cases", json={**CASE, **overrides})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["ref"])


async def _refer(stack: Stack, case_ref: str, org: int, replaces: str | None = None) -> dict[str, Any]:
    async with stack.client(stack.agent) as agent:
        resp = await agent.post(f"{API}/cases/{case_ref}/referrals",
                                json={"service_id": stack.orgs[org].service_id, "need": "housing",
                                      "replaces_ref": replaces})  # fmt: skip
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _link_from_mailbox(settings: Settings, referral_ref: str) -> str:
    """The partner's link, as moto's SES received it."""
    data = httpx.get(f"{settings.aws_endpoint_url}/moto-api/data.json", timeout=10).json()
    for message in reversed(data["ses"].get("Message", [])):
        body = str(message.get("body", ""))
        if referral_ref in str(message.get("subject", "")) and "token=" in body:
            return re.search(r"token=([A-Za-z0-9_.\-]+)", body).group(1)  # type: ignore[union-attr]
    raise AssertionError(f"no e-mail with a link for {referral_ref}")


async def test_agent_opens_a_case_and_the_partner_answers_through_the_link(
    stack: Stack, temporal_client: Client
) -> None:
    case_ref = await _open_case(stack)
    assert re.fullmatch(r"RIF-\d{4}-\d{6}", case_ref)
    r1 = await _refer(stack, case_ref, 0)
    assert (r1["status"], r1["service"]["id"]) == ("open", stack.orgs[0].service_id)
    assert r1["sla_deadline"] > r1["sent_at"]
    desc = await temporal_client.get_workflow_handle(referral_case_id(case_ref)).describe()
    assert desc.typed_search_attributes.get(SA_BUSINESS_STATUS) == "awaiting_partner"
    assert desc.typed_search_attributes.get(SA_RELAY) == str(stack.agent.relay_id)

    token = _link_from_mailbox(stack.settings, r1["ref"])
    async with stack.client(None) as anon:
        view = (await anon.get(f"{API}/link", params={"token": token})).json()
        # what the partner sees: the shared summary, not the agent's notes nor the contact details
        assert view["ref"] == r1["ref"] and view["partner_summary"] == CASE["partner_summary"]
        assert "situation" not in view and "referral_list" not in view and "attachments" not in view
        assert view["family"] == {"name": CASE["contact_name"], "preferred_channel": "email",
                                  "contact_shared": False, "email": None, "phone": None}  # fmt: skip
        assert CASE["situation"] not in str(view)

        ack = await anon.post(f"{API}/link/acknowledge", json={"token": token})
        assert ack.status_code == 200 and ack.json()["acked_at"] is not None
        bad = await anon.post(f"{API}/link/refuse", json={"token": token, "reason": "autre", "message": " "})
        assert bad.status_code == 422 and "préciser le motif" in bad.json()["error"]["message"]
        not_a_day = await anon.post(f"{API}/link/accept", json={"token": token, "appointment_on": "2027-02-30"})
        assert not_a_day.status_code == 422
        assert [f["field"] for f in not_a_day.json()["error"]["fields"]] == ["body.appointment_on"]
        past = await anon.post(f"{API}/link/accept", json={"token": token, "appointment_on": "2020-01-01"})
        assert past.status_code == 422 and "passé" in past.json()["error"]["message"]
        day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
        ok = await anon.post(f"{API}/link/accept", json={"token": token, "appointment_on": day})
        assert ok.status_code == 200, ok.text
        assert (ok.json()["status"], ok.json()["appointment_on"]) == ("accepted", day)
        again = await anon.post(f"{API}/link/refuse", json={"token": token, "reason": "complet"})
        assert again.status_code == 409
        assert "Impossible de refuser une orientation acceptée" in again.json()["error"]["message"]

    async with stack.client(stack.agent) as agent:
        case = (await agent.get(f"{API}/cases/{case_ref}")).json()
    assert case["situation"] == CASE["situation"] and case["contact"]["phone"] == "+33612345678"
    assert [r["status"] for r in case["referral_list"]] == ["accepted"]
    events = [h["event"] for h in case["history"]]
    assert events == ["case_opened", "referral_created", "referral_sent", "referral_acknowledged",
                      "referral_accepted"]  # fmt: skip
    assert [h["actor_kind"] for h in case["history"]][-2:] == ["partner_link", "partner_link"]


async def test_links_expired_tampered_or_for_another_partner_are_refused(stack: Stack) -> None:
    case_ref = await _open_case(stack)
    r1 = await _refer(stack, case_ref, 0)
    signer = stack.signer()
    now = datetime.now(UTC)
    valid = signer.partner_token(LinkClaims(r1["ref"], str(stack.orgs[0].id), now + timedelta(days=8)))
    # the latest link issued has expired: the projection says so, as it would 8 days later
    lapsed = now - timedelta(minutes=1)
    with stack.sessions() as s, s.begin():
        s.get_one(Referral, stack.referral(r1["ref"]).id).link_expires_at = lapsed
    expired = signer.partner_token(LinkClaims(r1["ref"], str(stack.orgs[0].id), lapsed))
    older = signer.partner_token(LinkClaims(r1["ref"], str(stack.orgs[0].id), lapsed - timedelta(days=1)))
    other_org = signer.partner_token(LinkClaims(r1["ref"], str(stack.orgs[1].id), now + timedelta(days=8)))
    tampered = valid[:-3] + ("AAA" if not valid.endswith("AAA") else "BBB")
    forged = ReferralLinkSigner(["another-key"]).partner_token(
        LinkClaims(r1["ref"], str(stack.orgs[0].id), now + timedelta(days=8))
    )
    async with stack.client(None) as anon:
        assert (await anon.get(f"{API}/link", params={"token": valid})).status_code == 200
        gone = await anon.get(f"{API}/link", params={"token": expired})
        assert gone.status_code == 410 and "expiré" in gone.json()["error"]["message"]
        for token in (tampered, forged, other_org):
            resp = await anon.get(f"{API}/link", params={"token": token})
            assert resp.status_code == 403, token
            assert (
                await anon.post(f"{API}/link/accept", json={"token": token, "contact_made": True})
            ).status_code == 403
        assert (await anon.post(f"{API}/link/accept", json={"token": expired, "contact_made": True})).status_code == 410
        # a link older than the latest one was revoked when the latest was issued: it can neither act nor renew
        superseded = await anon.post(f"{API}/link/renew", json={"token": older})
        assert superseded.status_code == 403 and "remplacé" in superseded.json()["error"]["message"]
        # an expired link can still ask for a new one: it goes to the service's own address
        renew = await anon.post(f"{API}/link/renew", json={"token": expired})
        assert renew.status_code == 202
    assert stack.referral(r1["ref"]).links_issued == 2
    fresh = _link_from_mailbox(stack.settings, r1["ref"])
    assert fresh != valid
    async with stack.client(None) as anon:
        assert (await anon.get(f"{API}/link", params={"token": fresh})).status_code == 200
        # renewal revoked every older link, the expired one included
        assert (await anon.get(f"{API}/link", params={"token": expired})).status_code == 403
        assert (await anon.get(f"{API}/link", params={"token": valid})).status_code == 403


async def test_partner_links_are_renewed_a_bounded_number_of_times(stack: Stack) -> None:
    case_ref = await _open_case(stack)
    r1 = await _refer(stack, case_ref, 0)
    async with stack.client(None) as anon:
        statuses = []
        for _ in range(PARTNER_LINKS_MAX + 2):
            latest = _link_from_mailbox(stack.settings, r1["ref"])
            statuses.append((await anon.post(f"{API}/link/renew", json={"token": latest})).status_code)
    renewals = PARTNER_LINKS_MAX - 1
    assert statuses[:renewals] == [202] * renewals
    assert set(statuses[renewals:]) == {422}, statuses  # the workflow refuses: the rule, not a conflict
    assert stack.referral(r1["ref"]).links_issued == PARTNER_LINKS_MAX


async def test_partner_sees_only_its_organisations_referrals(stack: Stack) -> None:
    case_ref = await _open_case(stack, consent={**CASE["consent"], "scope": ["share_with_partners", "share_contact"]})
    r0 = await _refer(stack, case_ref, 0)
    r1 = await _refer(stack, case_ref, 1)
    p0, p1 = stack.orgs[0].user, stack.orgs[1].user
    async with stack.client(p0) as partner0, stack.client(p1) as partner1:
        mine = (await partner0.get(f"{API}/partner/referrals")).json()
        assert [r["ref"] for r in mine] == [r0["ref"]]
        assert (await partner0.get(f"{API}/partner/referrals/{r1['ref']}")).status_code == 404
        assert (await partner0.post(f"{API}/partner/referrals/{r1['ref']}/accept",
                                    json={"contact_made": True})).status_code == 404  # fmt: skip
        view = (await partner0.get(f"{API}/partner/referrals/{r0['ref']}")).json()
        assert view["family"]["contact_shared"] is True and view["family"]["phone"] == "+33612345678"
        assert "situation" not in view and r1["ref"] not in str(view)
        # the other partner refuses with a reason and a message the relay reads
        answer = {"reason": "hors_perimetre", "message": "Nous n'accueillons que le 11e."}
        refused = await partner1.post(f"{API}/partner/referrals/{r1['ref']}/refuse", json=answer)
        assert refused.status_code == 200, refused.text
        assert refused.json()["refusal_message"] == "Nous n'accueillons que le 11e."
        # an agent or a family account is not a partner
    async with stack.client(stack.agent) as agent:
        assert (await agent.get(f"{API}/partner/referrals")).status_code == 403
        case = (await agent.get(f"{API}/cases/{case_ref}")).json()
        refusal = next(r for r in case["referral_list"] if r["ref"] == r1["ref"])
        assert (refusal["refusal_reason_label"], refusal["refusal_message"]) == (
            "Hors de notre périmètre", "Nous n'accueillons que le 11e.",
        )  # fmt: skip
        # re-referral: not to the same partner, then to another one
        same = await agent.post(f"{API}/cases/{case_ref}/referrals",
                                json={"service_id": stack.orgs[1].service_id, "need": "housing",
                                      "replaces_ref": r1["ref"]})  # fmt: skip
        assert same.status_code == 422 and "autre partenaire" in same.json()["error"]["message"]
    r2 = await _refer(stack, case_ref, 2, replaces=r1["ref"])
    assert r2["replaces_ref"] == r1["ref"] and stack.referral(r1["ref"]).replaced_by_ref == r2["ref"]


async def test_agents_and_coordinators_of_another_relay_get_404(stack: Stack) -> None:
    case_ref = await _open_case(stack)
    r = await _refer(stack, case_ref, 0)
    async with stack.client(stack.other_agent) as other, stack.client(stack.agent) as agent:
        assert (await other.get(f"{API}/cases/{case_ref}")).status_code == 404
        refer = {"service_id": stack.orgs[1].service_id, "need": "housing"}
        assert (await other.post(f"{API}/cases/{case_ref}/referrals", json=refer)).status_code == 404
        assert (await other.post(f"{API}/cases/{case_ref}/close", json={"outcome": "resolved"})).status_code == 404
        assert (await other.post(f"{API}/cases/{case_ref}/attachments",
                                 json={"filename": "a.pdf", "content_type": "application/pdf",
                                       "size_bytes": 10})).status_code == 404  # fmt: skip
        assert case_ref not in str((await other.get(f"{API}/cases")).json())
        assert case_ref in str((await agent.get(f"{API}/cases")).json())
        # closing with a referral awaiting an answer needs force and a comment
        refused = await agent.post(f"{API}/cases/{case_ref}/close", json={"outcome": "resolved"})
        assert refused.status_code == 422 and "en attente de réponse" in refused.json()["error"]["message"]
        closing = {"outcome": "withdrawn", "force": True, "comment": "La famille a déménagé"}
        forced = await agent.post(f"{API}/cases/{case_ref}/close", json=closing)
        assert forced.status_code == 200, forced.text
        assert forced.json()["status"] == "closed" and forced.json()["referral_list"][0]["status"] == "cancelled"
        assert forced.json()["closure_comment"] == "La famille a déménagé"
    # the SLA breach list of a coordinator covers its relay only
    with stack.sessions() as s:
        row = s.exec(select(Referral).where(Referral.ref == r["ref"])).one()
        row.escalated_at = datetime.now(UTC)
        s.add(row)
        s.commit()
    async with stack.client(stack.coordinator) as coord, stack.client(stack.other_coordinator) as other_coord:
        mine = (await coord.get(f"{API}/coordination/sla-breaches", params={"open_only": False})).json()
        assert r["ref"] in [b["referral_ref"] for b in mine]
        theirs = (await other_coord.get(f"{API}/coordination/sla-breaches", params={"open_only": False})).json()
        assert r["ref"] not in [b["referral_ref"] for b in theirs]
        assert (await coord.get(f"{API}/cases/{case_ref}")).status_code == 200
        assert (await other_coord.get(f"{API}/cases/{case_ref}")).status_code == 404


async def test_family_follows_its_referrals_through_its_link(stack: Stack) -> None:
    case_ref = await _open_case(stack)
    r = await _refer(stack, case_ref, 0)
    signer, now = stack.signer(), datetime.now(UTC)
    token = signer.family_token(FamilyLinkClaims(case_ref, now + timedelta(days=90)))
    async with stack.client(None) as anon:
        view = await anon.get(f"{API}/family/status", params={"token": token})
        assert view.status_code == 200
        assert view.json()["referrals"] == [{"service_name": f"Logement d'abord 0 {stack.tag}",
                                             "need_label": "Logement", "status": "open",
                                             "status_label": "ouverte", "appointment_on": None}]  # fmt: skip
        old = signer.family_token(FamilyLinkClaims(case_ref, now - timedelta(days=1)))
        assert (await anon.get(f"{API}/family/status", params={"token": old})).status_code == 410
        assert (await anon.get(f"{API}/family/status", params={"token": token + "x"})).status_code == 403
        # a partner link is not a family link (different salt)
        partner = signer.partner_token(LinkClaims(r["ref"], str(stack.orgs[0].id), now + timedelta(days=1)))
        assert (await anon.get(f"{API}/family/status", params={"token": partner})).status_code == 403
    no_link = await _open_case(stack, consent={**CASE["consent"], "scope": ["share_with_partners"]})
    token = signer.family_token(FamilyLinkClaims(no_link, now + timedelta(days=90)))
    async with stack.client(None) as anon:
        assert (await anon.get(f"{API}/family/status", params={"token": token})).status_code == 404


async def test_attachments_upload_through_a_presigned_form_with_limits(stack: Stack) -> None:
    case_ref = await _open_case(stack)
    async with stack.client(stack.agent) as agent:
        too_big = await agent.post(f"{API}/cases/{case_ref}/attachments",
                                   json={"filename": "a.pdf", "content_type": "application/pdf",
                                         "size_bytes": 50 * 1024 * 1024})  # fmt: skip
        assert too_big.status_code == 413
        exe = await agent.post(f"{API}/cases/{case_ref}/attachments",
                               json={"filename": "a.exe", "content_type": "application/x-msdownload",
                                     "size_bytes": 10})  # fmt: skip
        assert exe.status_code == 415
        content = b"%PDF-1.4 justificatif"
        form = await agent.post(f"{API}/cases/{case_ref}/attachments",
                                json={"filename": "C:\\docs\\quittance.pdf", "content_type": "application/pdf",
                                      "size_bytes": len(content)})  # fmt: skip
        assert form.status_code == 201, form.text
        up = form.json()
        assert up["fields"]["key"].startswith(f"referrals/{case_ref}/") and "quittance" not in up["fields"]["key"]
        async with httpx.AsyncClient() as s3:
            posted = await s3.post(up["url"], data=up["fields"], files={"file": ("q.pdf", content, "application/pdf")})
        assert posted.status_code in (200, 204), posted.text
        done = await agent.post(f"{API}/cases/{case_ref}/attachments/{up['attachment_id']}/complete")
        assert done.status_code == 200 and done.json()["status"] == "uploaded"
        assert done.json()["filename"] == "quittance.pdf"
        link = (await agent.get(f"{API}/cases/{case_ref}/attachments/{up['attachment_id']}/download")).json()
        async with httpx.AsyncClient() as s3:
            assert (await s3.get(link["url"])).content == content
    async with stack.client(stack.other_agent) as other:
        url = f"{API}/cases/{case_ref}/attachments/{up['attachment_id']}/download"
        assert (await other.get(url)).status_code == 404


async def test_link_endpoints_are_rate_limited(stack: Stack) -> None:
    async with stack.client(None) as anon:
        codes = [(await anon.get(f"{API}/link", params={"token": "x" * 20})).status_code for _ in range(30)]
    assert codes[0] == 403 and codes[-1] == 429 and codes.count(429) >= 4


async def test_directory_search_by_need_and_arrondissement(stack: Stack) -> None:
    tag = stack.tag
    async with stack.client(stack.agent) as agent:
        hits = (await agent.get(f"{API}/directory/services", params={"need": "housing", "arrondissement": 12,
                                                                     "q": tag})).json()  # fmt: skip
        assert sorted(h["hsds_id"] for h in hits) == [f"svc-{tag}-{i}" for i in range(3)]
        assert hits[0]["locations"][0]["arrondissement"] == 12 and hits[0]["arrondissements"] == [11, 12]
        params = {"q": tag, "include_unavailable": True}
        everything = (await agent.get(f"{API}/directory/services", params=params)).json()
        assert {h["status"] for h in everything} == {"active", "temporarily_closed"}
        assert (await agent.get(f"{API}/directory/services", params={"need": "health", "q": tag})).json() == []
        assert (await agent.get(f"{API}/directory/services", params={"arrondissement": 4, "q": tag})).json() == []
        assert (await agent.post(f"{API}/directory/import", json=_hsds(tag))).status_code == 403
        closed = await agent.post(f"{API}/cases/{await _open_case(stack)}/referrals",
                                  json={"service_id": stack.orgs[3].service_id, "need": "housing"})  # fmt: skip
        assert closed.status_code == 422 and "fermé temporairement" in closed.json()["error"]["message"]
    csv_files = {
        "organizations.csv": f"id,name,email\ncsv-{tag},Association CSV {tag},csv@partenaires.example\n",
        "services.csv": f"id,organization_id,name,status,categories\ncsvs-{tag},csv-{tag},Aide CSV {tag},active,"
        "santé;handicap\n",
        "service_areas.csv": f"service_id,name\ncsvs-{tag},Paris 4e\n",
    }
    async with stack.client(stack.operator) as op:
        files = [("files", (n, t.encode(), "text/csv")) for n, t in csv_files.items()]
        report = await op.post(f"{API}/directory/import/csv", files=files)
        assert report.status_code == 200, report.text
        assert (report.json()["services_created"], report.json()["errors"]) == (1, [])
        again = await op.post(f"{API}/directory/import/csv", files=files)
        assert (again.json()["services_created"], again.json()["services_updated"]) == (0, 1)
        found = (await op.get(f"{API}/directory/services", params={"need": "disability", "arrondissement": 4,
                                                                   "q": tag})).json()  # fmt: skip
        assert [h["name"] for h in found] == [f"Aide CSV {tag}"]
        assert found[0]["categories"] == ["disability", "health"]
    with stack.sessions() as s:
        org = s.exec(select(PartnerOrganization).where(PartnerOrganization.hsds_id == f"csv-{tag}")).one()
        assert org.email == "csv@partenaires.example"


async def test_case_validation_messages(stack: Stack) -> None:
    async with stack.client(stack.agent) as agent:
        no_consent = await agent.post(f"{API}/cases", json={**CASE, "consent": {**CASE["consent"],
                                                                               "scope": ["follow_up"]}})  # fmt: skip
        assert no_consent.status_code == 422 and "accord de la famille" in no_consent.json()["error"]["message"]
        sms_without_phone = await agent.post(f"{API}/cases", json={**CASE, "preferred_channel": "sms",
                                                                   "contact_phone": None})  # fmt: skip
        assert sms_without_phone.status_code == 422
        bad_phone = await agent.post(f"{API}/cases", json={**CASE, "contact_phone": "12"})
        assert bad_phone.status_code == 422 and bad_phone.json()["error"]["fields"][0]["field"] == "contact_phone"
    async with stack.client(stack.orgs[0].user) as partner:
        assert (await partner.post(f"{API}/cases", json=CASE)).status_code == 403
    with stack.sessions() as s:
        assert s.exec(select(ReferralCase).where(ReferralCase.contact_phone == "12")).first() is None
