"""Operator console pages: who may see them, CSRF and motif on every action, content from visibility and DB."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.worker import Worker

from activities.audit import AuditActivities
from activities.notifications import NotificationActivities
from activities.referrals import ReferralActivities
from api.app import create_app
from api.security import SESSION_COOKIE, Principal
from contracts.audit_campaign import AuditCampaignInput
from contracts.billing import BillingCycleInput
from domain.audit.campaign import PARIS
from services.audit import ensure_bundled_referentiels
from services.notifications import Notifier
from tests.accounts import session_token
from tests.api.test_referral_api import CASE, _hsds
from tests.workflows.conftest import eventually
from ville.aws import aws_client
from ville.db import SessionFactory
from ville.ids import audit_campaign_id, billing_cycle_id, inspection_id, referral_case_id
from ville.models.audit import AuditBody, AuditCampaign, AuditCampaignSite, AuditInspector, AuditSite, AuditTask
from ville.models.people import OperatorAuditLog, Role, UserAccount
from ville.models.referrals import PartnerService, ReferralCase, RifRelay
from ville.settings import Settings
from workflows.audit_campaign import AuditCampaignWorkflow
from workflows.billing import BillingCycleWorkflow
from workflows.inspection import InspectionWorkflow
from workflows.referrals import ReferralCaseWorkflow

CookieClient = Callable[[Principal | None], httpx.AsyncClient]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def browser_for(app: FastAPI) -> AsyncIterator[CookieClient]:
    """Clients carrying the session cookie, as a browser does (the CSRF token is bound to it)."""
    opened: list[httpx.AsyncClient] = []

    def make(principal: Principal | None) -> httpx.AsyncClient:
        cookies = {SESSION_COOKIE: session_token(app, principal)} if principal else {}
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", cookies=cookies)
        opened.append(c)
        return c

    yield make
    for c in opened:
        await c.aclose()


@pytest.fixture
def operator(sessions: SessionFactory) -> Principal:
    """A stored operator account (the journal shows its name)."""
    with sessions() as s:
        user = UserAccount(email=f"op-{uuid.uuid4().hex[:8]}@paris.example", display_name="Dominique Exploitation",
                           role=Role.operator)  # fmt: skip
        s.add(user)
        s.commit()
        s.refresh(user)
        return Principal.of(user)


def _journal(sessions: SessionFactory, target: str) -> list[OperatorAuditLog]:
    with sessions() as s:
        return list(
            s.execute(
                select(OperatorAuditLog).where(OperatorAuditLog.target == target).order_by(col(OperatorAuditLog.id))
            )
            .scalars()
            .all()
        )


@pytest.mark.parametrize(
    ("principal", "home"),
    [
        (Principal(901, Role.family, family_account_id=1), "/famille/factures"),
        (Principal(902, Role.inspector, inspector_id=1), "/inspecteur/missions"),
        (Principal(903, Role.partner, partner_org_id=1), "/partenaire/orientations"),
        (Principal(904, Role.rif_agent, relay_id=1), "/rif/dossiers"),
    ],
)
async def test_other_roles_are_sent_home(browser_for: CookieClient, principal: Principal, home: str) -> None:
    """Families, inspectors, partners and agents never see a console page, nor can they act."""
    c = browser_for(principal)
    for path in ("/operateur", "/operateur/journal", "/operateur/workflows", "/operateur/orientations"):
        r = await c.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"] == home
    r = await c.post("/operateur/cycles/2026-09/pause", data={"csrf": "x", "motif": "essai"})
    assert r.status_code == 303 and r.headers["location"] == home


async def test_anonymous_is_asked_to_sign_in(browser_for: CookieClient) -> None:
    """No session: the sign-in page, coming back to the console afterwards."""
    r = await browser_for(None).get("/operateur")
    assert r.status_code == 303
    assert r.headers["location"] == "/connexion?suite=/operateur"


async def test_sign_in_home_of_staff_leads_to_the_console(browser_for: CookieClient, operator: Principal) -> None:
    """Sign-in sends staff to /exploitation, which is the console."""
    r = await browser_for(operator).get("/exploitation")
    assert r.status_code == 303 and r.headers["location"] == "/operateur"


async def test_quality_team_sees_only_its_section(browser_for: CookieClient) -> None:
    """The quality team gets the campaigns, not the billing cycle, invoices or referrals."""
    c = browser_for(Principal(905, Role.quality_team))
    r = await c.get("/operateur")
    assert r.status_code == 200
    assert "Campagnes QualiParis" in r.text
    assert "Facturation Facil" not in r.text and "Orientations RIF" not in r.text
    assert 'href="/operateur/taches"' in r.text
    assert 'href="/operateur/factures"' not in r.text and 'href="/operateur/journal"' not in r.text
    for path in ("/operateur/factures", "/operateur/orientations", "/operateur/journal"):
        assert (await c.get(path)).status_code == 303, path
    assert (await c.get("/operateur/taches")).status_code == 200


async def test_operator_home_shows_each_process(browser_for: CookieClient, operator: Principal) -> None:
    """French home page with the three processes and the console navigation."""
    r = await browser_for(operator).get("/operateur")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    for text in ("Console d'exploitation", "Facturation Facil'familles", "Campagnes QualiParis", "Orientations RIF",
                 "Workflows par type", "Cycle de facturation", 'href="/operateur/journal"', 'lang="fr"'):  # fmt: skip
        assert text in r.text, text


async def test_actions_refuse_a_forged_csrf_token_and_an_empty_motif(
    browser_for: CookieClient, operator: Principal, sessions: SessionFactory
) -> None:
    """A forged token is refused (403); a missing motif is refused (422); neither reaches the journal."""
    c = browser_for(operator)
    target = billing_cycle_id("2031-03")
    r = await c.post("/operateur/cycles/2031-03/pause", data={"csrf": "forged", "motif": "Contrôle de charge"})
    assert r.status_code == 403
    assert "Accès refusé" in r.text
    token = CSRF.search((await c.get("/operateur/journal")).text)
    assert token is not None
    r = await c.post("/operateur/cycles/2031-03/pause", data={"csrf": token.group(1), "motif": "  "})
    assert r.status_code == 422
    assert "Indiquez le motif" in r.text
    for path in ("/operateur/taches/1/attribuer", "/operateur/orientations/RIF-2026-000001/clore"):
        r = await c.post(path, data={"csrf": "forged", "motif": "Contrôle"})
        assert r.status_code == 403, path
    assert _journal(sessions, target) == []


async def test_pausing_a_cycle_that_does_not_run_is_refused(
    browser_for: CookieClient, operator: Principal, sessions: SessionFactory
) -> None:
    """Acting on a cycle that Temporal does not know answers a French 409 page and journals nothing."""
    c = browser_for(operator)
    csrf = CSRF.search((await c.get("/operateur/journal")).text)
    assert csrf is not None
    r = await c.post("/operateur/cycles/2031-04/pause", data={"csrf": csrf.group(1), "motif": "Test d'absence"})
    assert r.status_code == 409
    assert "Action impossible" in r.text and "pas en cours" in r.text
    assert _journal(sessions, billing_cycle_id("2031-04")) == []


async def test_pause_and_resume_go_through_the_api_and_the_journal(
    browser_for: CookieClient, operator: Principal, sessions: SessionFactory, temporal_client: Client, app: FastAPI
) -> None:
    """The forms signal the cycle like the JSON API does and journal who, what, when and why."""
    period = "2031-05"
    wf_id = billing_cycle_id(period)
    # no worker polls this task queue: the cycle waits, its signals are recorded in its history
    handle = await temporal_client.start_workflow(
        BillingCycleWorkflow.run,
        BillingCycleInput(period),
        id=wf_id,
        task_queue=f"operator-pages-{uuid.uuid4().hex[:8]}",
    )
    try:
        c = browser_for(operator)
        csrf = CSRF.search((await c.get("/operateur/journal")).text)
        assert csrf is not None
        r = await c.post(f"/operateur/cycles/{period}/pause", data={"csrf": csrf.group(1), "motif": "Incident S3"})
        assert r.status_code == 303 and r.headers["location"] == "/operateur?fait=pause"
        r = await c.post(f"/operateur/cycles/{period}/reprise", data={"csrf": csrf.group(1), "motif": "S3 rétabli"})
        assert r.status_code == 303 and r.headers["location"] == "/operateur?fait=reprise"
        signals = [
            e.workflow_execution_signaled_event_attributes.signal_name
            for e in (await handle.fetch_history()).events
            if e.HasField("workflow_execution_signaled_event_attributes")
        ]
        assert signals == ["pause", "resume"]
        rows = _journal(sessions, wf_id)
        assert [(r.action, r.reason, r.actor_user_id) for r in rows] == [
            ("cycle.pause", "Incident S3", operator.user_id),
            ("cycle.resume", "S3 rétabli", operator.user_id),
        ]

        page = (await c.get("/operateur?fait=pause")).text
        assert "Cycle mis en pause" in page
        assert f"{app.state.settings.temporal_ui_url}/namespaces/default/workflows/{wf_id}" in page

        journal = (await c.get("/operateur/journal")).text
        for text in ("Pause du cycle", "Reprise du cycle", "Incident S3", "S3 rétabli", "Dominique Exploitation"):
            assert text in journal, text

        async def listed() -> bool:
            r = await c.get("/operateur/workflows", params={"type": "BillingCycleWorkflow", "etat": "Running"})
            return r.status_code == 200 and wf_id in r.text

        # visibility is eventually consistent; no worker ran the cycle, so only type and state are indexed
        await eventually(listed)
    finally:
        await handle.terminate("test over")


async def test_filters_are_validated_not_injected(browser_for: CookieClient, operator: Principal) -> None:
    """Filters become visibility queries only from known values: anything else is a French 422."""
    c = browser_for(operator)
    r = await c.get("/operateur/workflows", params={"periode": "2026-09' OR WorkflowId != '"})
    assert r.status_code == 422 and "AAAA-MM" in r.text
    r = await c.get("/operateur/workflows", params={"type": "Nope"})
    assert r.status_code == 422 and "Type de workflow inconnu" in r.text
    r = await c.get("/operateur/factures", params={"statut": "bogus"})
    assert r.status_code == 422 and "Statut de facture inconnu" in r.text
    r = await c.get("/operateur/factures", params={"statut": "overdue", "periode": "2026-09"})
    assert r.status_code == 200


async def test_operator_closes_a_case_with_a_motif(
    settings: Settings, sessions: SessionFactory, temporal_client: Client, operator: Principal
) -> None:
    """Closing a case from the console goes through the agents' close update and is journalled."""
    tag = uuid.uuid4().hex[:8]
    rif_settings = settings.model_copy(update={"task_queue": f"op-rif-{tag}"})
    app = create_app(rif_settings, temporal=temporal_client)
    with sessions() as s:
        relay = RifRelay(code=f"OP-{tag}", name="Relais console", arrondissement=12)
        s.add(relay)
        s.commit()
        agent_user = UserAccount(email=f"agent-{tag}@paris.example", display_name="Agent", role=Role.rif_agent,
                                 relay_id=relay.id)  # fmt: skip
        s.add(agent_user)
        s.commit()
        agent = Principal.of(agent_user)

    def bearer(p: Principal) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                 headers={"Authorization": f"Bearer {session_token(app, p)}"})  # fmt: skip

    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), rif_settings)
    activities = ReferralActivities(sessions, aws_client(settings, "s3"), notifier, rif_settings).activities()
    with ThreadPoolExecutor(max_workers=4) as pool:
        async with Worker(temporal_client, task_queue=rif_settings.task_queue, workflows=[ReferralCaseWorkflow],
                          activities=activities, activity_executor=pool):  # fmt: skip
            async with bearer(operator) as op, bearer(agent) as ag:
                assert (await op.post("/api/rif/directory/import", json=_hsds(tag))).status_code == 200
                with sessions() as s:
                    service = s.exec(select(PartnerService).where(col(PartnerService.hsds_id) == f"svc-{tag}-0")).one()
                r = await ag.post("/api/rif/cases", json=CASE)
                assert r.status_code == 201, r.text
                case_ref = r.json()["ref"]
                r = await ag.post(
                    f"/api/rif/cases/{case_ref}/referrals", json={"service_id": service.id, "need": "housing"}
                )
                assert r.status_code == 201, r.text

            cookie = {SESSION_COOKIE: session_token(app, operator)}
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                         cookies=cookie) as c:  # fmt: skip
                csrf = CSRF.search((await c.get("/operateur/orientations")).text)
                assert csrf is not None
                form = {"csrf": csrf.group(1), "outcome": "family_unreachable", "motif": ""}
                r = await c.post(f"/operateur/orientations/{case_ref}/clore", data=form)
                assert r.status_code == 422 and "Indiquez le motif" in r.text
                form["motif"] = "Famille injoignable depuis trois semaines"
                r = await c.post(f"/operateur/orientations/{case_ref}/clore", data=form)
                # a referral still awaits its partner: closing needs `force`, the workflow says so in French
                assert r.status_code == 422 and 'class="alert alert-error" role="alert"' in r.text
                r = await c.post(f"/operateur/orientations/{case_ref}/clore", data={**form, "force": "1"})
                assert r.status_code == 303 and r.headers["location"] == "/operateur/orientations?fait=cloture"
    with sessions() as s:
        case = s.exec(select(ReferralCase).where(ReferralCase.ref == case_ref)).one()
        assert case.status == "closed"
    [entry] = _journal(sessions, referral_case_id(case_ref))
    assert (entry.action, entry.reason, entry.actor_user_id) == (
        "case.close",
        "Famille injoignable depuis trois semaines",
        operator.user_id,
    )


async def test_operator_assigns_a_task_left_without_inspector(
    settings: Settings, sessions: SessionFactory, temporal_client: Client, operator: Principal
) -> None:
    """No inspector covers the site's area at planning; once one does, the console assigns the task."""
    u = uuid.uuid4().hex[:6]
    audit_settings = settings.model_copy(update={"task_queue": f"op-audit-{u}"})
    app = create_app(audit_settings, temporal=temporal_client)
    today = datetime.now(UTC).astimezone(PARIS).date()
    with sessions() as s:
        ensure_bundled_referentiels(s)
        body = AuditBody(name=f"Organisme {u}", accreditation="COFRAC (test)", contact_email=f"org-{u}@test.fr")
        s.add(body)
        s.flush()
        assert body.id is not None
        site = AuditSite(ref=f"OP{u}", name="Mairie du 12e", site_type="mairie", arrondissement=12,
                         address="130 avenue Daumesnil", manager_name="Responsable",
                         manager_email=f"r-{u}@test.fr")  # fmt: skip
        far = AuditInspector(ref=f"F{u}", body_id=body.id, display_name="Inspecteur nord", email=f"f-{u}@test.fr",
                             capacity=5, arrondissements=[18], conflict_site_refs=[])  # fmt: skip
        s.add_all([site, far])
        s.flush()
        campaign = AuditCampaign(name=f"Campagne {u}", referentiel_version="1", body_id=body.id, window_start=today,
                                 window_end=today + timedelta(days=20))  # fmt: skip
        s.add(campaign)
        s.flush()
        assert campaign.id is not None and site.id is not None
        s.add(AuditCampaignSite(campaign_id=campaign.id, site_id=site.id, modes=["visit"]))
        s.commit()
        campaign_id = campaign.id

    def task() -> AuditTask | None:
        with sessions() as s:
            return s.exec(select(AuditTask).where(AuditTask.campaign_id == campaign_id)).first()

    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), audit_settings)
    audit = AuditActivities(sessions, aws_client(settings, "s3"), notifier, audit_settings, temporal_client)
    with ThreadPoolExecutor(max_workers=4) as pool:
        async with Worker(temporal_client, task_queue=audit_settings.task_queue,
                          workflows=[AuditCampaignWorkflow, InspectionWorkflow],
                          activities=[*audit.activities(), NotificationActivities(notifier).send_notifications],
                          activity_executor=pool):  # fmt: skip
            await temporal_client.start_workflow(
                AuditCampaignWorkflow.run, AuditCampaignInput(campaign_id), id=audit_campaign_id(campaign_id),
                task_queue=audit_settings.task_queue,
            )  # fmt: skip

            def unassigned() -> bool:
                t = task()
                return t is not None and t.opened_at is not None and t.state is None and t.inspector_id is None

            await eventually(unassigned)
            t = task()
            assert t is not None and t.id is not None
            task_id = t.id
            with sessions() as s:
                near = AuditInspector(ref=f"N{u}", body_id=body.id, display_name="Inspectrice est",
                                      email=f"n-{u}@test.fr", capacity=5, arrondissements=[12],
                                      conflict_site_refs=[])  # fmt: skip
                s.add(near)
                s.commit()
                near_id = near.id
            cookie = {SESSION_COOKIE: session_token(app, operator)}
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                         cookies=cookie) as c:  # fmt: skip
                page = await c.get("/operateur/taches", params={"filtre": "sans-inspecteur"})
                assert page.status_code == 200 and f"Attribuer la tâche {task_id}" in page.text
                csrf = CSRF.search(page.text)
                assert csrf is not None
                form = {"csrf": csrf.group(1), "inspector_id": str(far.id), "motif": "Renfort de l'organisme"}
                r = await c.post(f"/operateur/taches/{task_id}/attribuer", data=form)
                assert r.status_code == 422  # outside the inspector's area: the workflow refuses
                assert _journal(sessions, inspection_id(task_id)) == []
                r = await c.post(f"/operateur/taches/{task_id}/attribuer", data={**form, "inspector_id": str(near_id)})
                assert r.status_code == 303, r.text
                assert r.headers["location"] == "/operateur/taches?filtre=sans-inspecteur&fait=attribution"
            assigned = task()
            assert assigned is not None and (assigned.inspector_id, assigned.state) == (near_id, "assigned")
            await temporal_client.get_workflow_handle(audit_campaign_id(campaign_id)).terminate("test over")
    [entry] = _journal(sessions, inspection_id(task_id))
    assert entry.action == "task.assign" and entry.reason.startswith("Renfort de l'organisme")
