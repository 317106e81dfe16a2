"""Operator actions through the JSON API and the console: each one journalled (who, what, why), roles refused,
validation errors answered 422 with the offending field.

Cancel a cycle, extend a task's deadline, escalate a referral by hand, resend a failed message.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from activities.audit import AuditActivities
from activities.notifications import NotificationActivities
from activities.referrals import ReferralActivities
from api.app import create_app
from api.security import SESSION_COOKIE, Principal
from contracts.audit_campaign import AuditCampaignInput
from contracts.audit_names import RecipientKind
from contracts.billing import BillingCycleInput
from domain.audit.campaign import PARIS
from services.audit import ensure_bundled_referentiels
from services.notifications import NotificationRequest, Notifier
from tests.accounts import session_token
from tests.api.test_operator_pages import CSRF, _journal
from tests.api.test_referral_api import CASE, _hsds
from tests.workflows.conftest import eventually
from ville.aws import aws_client
from ville.db import SessionFactory
from ville.ids import audit_campaign_id, billing_cycle_id, inspection_id, referral_case_id
from ville.models.audit import AuditBody, AuditCampaign, AuditCampaignSite, AuditInspector, AuditSite, AuditTask
from ville.models.billing import Notification
from ville.models.people import Role, UserAccount
from ville.models.referrals import PartnerService, Referral, RifRelay
from ville.models.rhythm import ScheduledNotification
from ville.settings import Settings
from workflows.audit_campaign import AuditCampaignWorkflow
from workflows.billing import BillingCycleWorkflow
from workflows.delivery import NotificationDeliveryWorkflow
from workflows.inspection import InspectionWorkflow
from workflows.referrals import ReferralCaseWorkflow

FAMILY = Principal(911, Role.family, family_account_id=1)
QUALITY = Principal(912, Role.quality_team)
INSPECTOR = Principal(913, Role.inspector, inspector_id=1)
AGENT = Principal(914, Role.rif_agent, relay_id=1)


@pytest.fixture
def operator(sessions: SessionFactory) -> Principal:
    """A stored operator account."""
    with sessions() as s:
        user = UserAccount(email=f"op-{uuid.uuid4().hex[:8]}@paris.example", display_name="Camille Exploitation",
                           role=Role.operator)  # fmt: skip
        s.add(user)
        s.commit()
        s.refresh(user)
        return Principal.of(user)


class Clients:
    """Bearer (JSON API) and cookie (console) clients on one app."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.opened: list[httpx.AsyncClient] = []

    def bearer(self, p: Principal) -> httpx.AsyncClient:
        """A JSON API client signed in as `p`."""
        token = session_token(self.app, p)
        return self._open(headers={"Authorization": f"Bearer {token}"})

    def browser(self, p: Principal) -> httpx.AsyncClient:
        """A console client carrying `p`'s session cookie."""
        return self._open(cookies={SESSION_COOKIE: session_token(self.app, p)})

    def _open(self, **kw: Any) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver", **kw)
        self.opened.append(c)
        return c

    async def close(self) -> None:
        """Close every client."""
        for c in self.opened:
            await c.aclose()


@pytest.fixture
def queue_settings(settings: Settings) -> Settings:
    """The settings on a task queue of this test alone."""
    return settings.model_copy(update={"task_queue": f"op-actions-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
async def clients(queue_settings: Settings, temporal_client: Client) -> AsyncIterator[Clients]:
    """Clients of an app using this test's task queue."""
    c = Clients(create_app(queue_settings, temporal=temporal_client))
    yield c
    await c.close()


def _fields(r: httpx.Response) -> list[str]:
    return [f["field"] for f in r.json()["error"]["fields"]]


async def _csrf(c: httpx.AsyncClient, page: str = "/operateur/journal") -> str:
    found = CSRF.search((await c.get(page)).text)
    assert found is not None
    return found.group(1)


# --- cancel a cycle ---------------------------------------------------------------------------------


async def test_cancel_cycle_needs_a_reason_and_is_journalled(
    clients: Clients, operator: Principal, sessions: SessionFactory, temporal_client: Client
) -> None:
    """Cancellation is requested on the cycle workflow, refused to other roles, 422 without reason, journalled."""
    period = "2032-01"
    wf_id = billing_cycle_id(period)
    # no worker polls this queue: the cancellation request stays in the history, nothing runs
    handle = await temporal_client.start_workflow(
        BillingCycleWorkflow.run, BillingCycleInput(period), id=wf_id, task_queue=f"nobody-{uuid.uuid4().hex[:8]}"
    )
    try:
        url = f"/api/billing/cycles/{period}/cancel"
        for who in (FAMILY, QUALITY):
            assert (await clients.bearer(who).post(url, json={"reason": "Essai"})).status_code == 403
        op = clients.bearer(operator)
        r = await op.post(url, json={"reason": "      "})  # blanks only: no reason
        assert r.status_code == 422 and _fields(r) == ["body.reason"]
        r = await op.post(url, json={})
        assert r.status_code == 422 and _fields(r) == ["body.reason"]
        r = await op.post(url, json={"reason": "Grille tarifaire erronée"})
        assert r.status_code == 202 and r.json() == {"status": "cancelling"}
        events = [e.event_type for e in (await handle.fetch_history()).events]
        assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED in events
        [entry] = _journal(sessions, wf_id)
        assert (entry.action, entry.reason, entry.actor_user_id) == (
            "cycle.cancel", "Grille tarifaire erronée", operator.user_id
        )  # fmt: skip
        # a period without cycle: 409, nothing journalled
        r = await op.post("/api/billing/cycles/2032-03/cancel", json={"reason": "Essai"})
        assert r.status_code == 409
        assert _journal(sessions, billing_cycle_id("2032-03")) == []

        # the console asks for a confirmation, then goes through the same route
        c = clients.browser(operator)
        csrf = await _csrf(c)
        form = {"csrf": csrf, "motif": "Doublon de cycle"}
        r = await c.post(f"/operateur/cycles/{period}/annulation", data=form)
        assert r.status_code == 422 and "Cochez la case de confirmation" in r.text
        r = await c.post(f"/operateur/cycles/{period}/annulation", data={**form, "confirmation": "1"})
        assert r.status_code == 303 and r.headers["location"] == "/operateur?fait=annulation"
        assert [e.action for e in _journal(sessions, wf_id)] == ["cycle.cancel", "cycle.cancel"]
        journal = (await c.get("/operateur/journal")).text
        assert "Annulation du cycle" in journal and "Doublon de cycle" in journal
    finally:
        await handle.terminate("fin du test")


# --- extend a task's deadline -----------------------------------------------------------------------


async def test_extend_deadline_of_a_running_task(
    clients: Clients, queue_settings: Settings, settings: Settings, operator: Principal, sessions: SessionFactory,
    temporal_client: Client,
) -> None:  # fmt: skip
    """The quality team or an operator moves a task's due date later (domain rule, 422 on the field), journalled."""
    u = uuid.uuid4().hex[:6]
    today = datetime.now(UTC).astimezone(PARIS).date()
    with sessions() as s:
        ensure_bundled_referentiels(s)
        body = AuditBody(name=f"Organisme {u}", accreditation="COFRAC (test)", contact_email=f"org-{u}@test.fr")
        s.add(body)
        s.flush()
        assert body.id is not None
        site = AuditSite(ref=f"EX{u}", name="Mairie du 12e", site_type="mairie", arrondissement=12,
                         address="130 avenue Daumesnil", manager_name="Responsable",
                         manager_email=f"r-{u}@test.fr")  # fmt: skip
        near = AuditInspector(ref=f"N{u}", body_id=body.id, display_name="Inspectrice est", email=f"n-{u}@test.fr",
                              capacity=5, arrondissements=[12], conflict_site_refs=[])  # fmt: skip
        s.add_all([site, near])
        s.flush()
        campaign = AuditCampaign(name=f"Campagne {u}", referentiel_version="1", body_id=body.id, window_start=today,
                                 window_end=today + timedelta(days=20))  # fmt: skip
        s.add(campaign)
        s.flush()
        assert campaign.id is not None and site.id is not None
        s.add(AuditCampaignSite(campaign_id=campaign.id, site_id=site.id, modes=["visit"]))
        s.commit()
        campaign_id, window_end = campaign.id, campaign.window_end

    def task() -> AuditTask | None:
        with sessions() as s:
            return s.exec(select(AuditTask).where(AuditTask.campaign_id == campaign_id)).first()

    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), queue_settings)
    audit = AuditActivities(sessions, aws_client(settings, "s3"), notifier, queue_settings, temporal_client)
    with ThreadPoolExecutor(max_workers=4) as pool:
        async with Worker(temporal_client, task_queue=queue_settings.task_queue,
                          workflows=[AuditCampaignWorkflow, InspectionWorkflow],
                          activities=[*audit.activities(), NotificationActivities(notifier).send_notifications],
                          activity_executor=pool):  # fmt: skip
            await temporal_client.start_workflow(
                AuditCampaignWorkflow.run, AuditCampaignInput(campaign_id), id=audit_campaign_id(campaign_id),
                task_queue=queue_settings.task_queue,
            )  # fmt: skip
            await eventually(lambda: (t := task()) is not None and t.opened_at is not None and t.state == "assigned")
            t = task()
            assert t is not None and t.id is not None
            task_id, due = t.id, t.due_on
            url = f"/api/qualiparis/tasks/{task_id}/deadline"
            later = due + timedelta(days=1)
            for who in (INSPECTOR, FAMILY, AGENT):
                r = await clients.bearer(who).post(url, json={"new_due_on": later.isoformat(), "reason": "Essai"})
                assert r.status_code == 403
            q = clients.bearer(QUALITY)
            # not a day, not later, after the window: each refused on the field (the schema parses the date)
            for wrong in ("31/02/2027", due.isoformat(), (window_end + timedelta(days=1)).isoformat()):
                r = await q.post(url, json={"new_due_on": wrong, "reason": "Site fermé"})
                assert r.status_code == 422 and _fields(r) == ["body.new_due_on"], r.text
            r = await q.post(url, json={"new_due_on": later.isoformat()})
            assert r.status_code == 422 and _fields(r) == ["body.reason"]
            assert _journal(sessions, inspection_id(task_id)) == []

            r = await q.post(url, json={"new_due_on": later.isoformat(), "reason": "Site fermé pour travaux"})
            assert r.status_code == 200, r.text
            assert r.json()["state"] == "assigned"
            moved = task()
            assert moved is not None and moved.due_on == later

            # the console form (operator): a second extension, within the window
            c = clients.browser(operator)
            csrf = await _csrf(c, "/operateur/taches?filtre=toutes")
            assert f"Reporter l'échéance de la tâche {task_id}" in (await c.get("/operateur/taches?filtre=toutes")).text
            form = {"csrf": csrf, "motif": "Grève"}
            r = await c.post(f"/operateur/taches/{task_id}/echeance", data={**form, "echeance": "31/02/2027"})
            assert r.status_code == 422 and "« 31/02/2027 » n'est pas une date valide" in html.unescape(r.text)
            # typed as people write dates in France, whatever the browser's locale
            typed = f"{window_end:%d/%m/%Y}"
            r = await c.post(f"/operateur/taches/{task_id}/echeance", data={**form, "echeance": typed})
            assert r.status_code == 303 and r.headers["location"] == "/operateur/taches?filtre=toutes&fait=echeance"
            r = await c.post(f"/operateur/taches/{task_id}/echeance", data={**form, "echeance": later.isoformat()})
            assert r.status_code == 422 and "postérieure" in r.text
            moved = task()
            assert moved is not None and moved.due_on == window_end
            await temporal_client.get_workflow_handle(audit_campaign_id(campaign_id)).terminate("fin du test")
            await temporal_client.get_workflow_handle(inspection_id(task_id)).terminate("fin du test")
    rows = _journal(sessions, inspection_id(task_id))
    assert [(r.action, r.actor_user_id) for r in rows] == [
        ("task.extend_deadline", QUALITY.user_id), ("task.extend_deadline", operator.user_id)
    ]  # fmt: skip
    assert rows[0].reason.startswith("Site fermé pour travaux") and later.strftime("%d/%m/%Y") in rows[0].reason


# --- escalate a referral ----------------------------------------------------------------------------


async def test_escalate_a_referral_by_hand(
    clients: Clients, queue_settings: Settings, settings: Settings, operator: Principal, sessions: SessionFactory,
    temporal_client: Client,
) -> None:  # fmt: skip
    """An operator or the relay's coordinator escalates an open referral; other roles and relays are refused."""
    tag = uuid.uuid4().hex[:8]
    with sessions() as s:
        relay, other = (
            RifRelay(code=f"ES-{tag}", name="Relais", arrondissement=12),
            RifRelay(code=f"EO-{tag}", name="Autre relais", arrondissement=11),
        )
        s.add_all([relay, other])
        s.commit()
        users = [
            UserAccount(email=f"{k}-{tag}@paris.example", display_name=k, role=role, relay_id=rid)
            for k, role, rid in (("agent", Role.rif_agent, relay.id), ("coord", Role.coordinator, relay.id),
                                 ("coord2", Role.coordinator, other.id))
        ]  # fmt: skip
        s.add_all(users)
        s.commit()
        agent, coordinator, foreign = (Principal.of(u) for u in users)
    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), queue_settings)
    activities = ReferralActivities(sessions, aws_client(settings, "s3"), notifier, queue_settings).activities()
    with ThreadPoolExecutor(max_workers=4) as pool:
        async with Worker(temporal_client, task_queue=queue_settings.task_queue, workflows=[ReferralCaseWorkflow],
                          activities=activities, activity_executor=pool):  # fmt: skip
            op, ag = clients.bearer(operator), clients.bearer(agent)
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
            ref = r.json()["ref"]
            url = f"/api/rif/cases/{case_ref}/referrals/{ref}/escalate"
            assert (await ag.post(url, json={"reason": "Urgence"})).status_code == 403
            assert (await clients.bearer(foreign).post(url, json={"reason": "Urgence"})).status_code == 404
            r = await op.post(url, json={"reason": ""})
            assert r.status_code == 422 and _fields(r) == ["body.reason"]

            # the console lists the open referral with its form; the coordinator escalates through the API
            c = clients.browser(operator)
            page = (await c.get("/operateur/orientations")).text
            assert f"Escalader l'orientation {ref}" in page
            r = await clients.bearer(coordinator).post(url, json={"reason": "Expulsion imminente"})
            assert r.status_code == 200, r.text
            assert r.json()["escalated_at"] is not None
            with sessions() as s:
                row = s.exec(select(Referral).where(Referral.ref == ref)).one()
                assert row.escalated_at is not None and row.status == "open"
            # a second escalation (console): refused by the workflow, a French 409 page, nothing journalled
            csrf = await _csrf(c, "/operateur/orientations")
            r = await c.post(f"/operateur/orientations/{case_ref}/{ref}/escalader", data={"csrf": csrf, "motif": "Re"})
            assert r.status_code == 422 and "Indiquez le motif" in r.text
            r = await c.post(f"/operateur/orientations/{case_ref}/{ref}/escalader",
                             data={"csrf": csrf, "motif": "Relance de la coordination"})  # fmt: skip
            assert r.status_code == 409 and "déjà été escaladée" in r.text
            await temporal_client.get_workflow_handle(referral_case_id(case_ref)).terminate("fin du test")
    [entry] = _journal(sessions, f"{referral_case_id(case_ref)}/{ref}")
    assert (entry.action, entry.reason, entry.actor_user_id) == (
        "referral.escalate", "Expulsion imminente", coordinator.user_id
    )  # fmt: skip


# --- resend a failed message ------------------------------------------------------------------------


async def test_resend_a_failed_message_through_the_delivery_workflow(
    clients: Clients, queue_settings: Settings, settings: Settings, operator: Principal, sessions: SessionFactory,
    temporal_client: Client,
) -> None:  # fmt: skip
    """A failed SMS (no phone) is kept; once the phone is known an operator resends it, sent once, journalled."""
    u = uuid.uuid4().hex[:6]
    with sessions() as s:
        body = AuditBody(name=f"Organisme {u}", accreditation="COFRAC (test)", contact_email=f"org-{u}@test.fr")
        s.add(body)
        s.flush()
        assert body.id is not None
        inspector = AuditInspector(ref=f"R{u}", body_id=body.id, display_name="Inspecteur", email=f"r-{u}@test.fr",
                                   capacity=5, arrondissements=[12], conflict_site_refs=[])  # fmt: skip
        s.add(inspector)
        s.commit()
        assert inspector.id is not None
        inspector_id = inspector.id
    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), queue_settings)
    key = f"audit-task-test-{u}-reminder-sms"
    request = NotificationRequest(key, "sms", "audit_task_reminder", RecipientKind.INSPECTOR, inspector_id, f"T{u}",
                                  {"task_id": "1", "site_name": "Mairie", "site_type": "Mairie", "arrondissement": "12",
                                   "mode": "Visite", "window_start": "01/01/2032", "window_end": "20/01/2032",
                                   "due_on": "15/01/2032"})  # fmt: skip
    assert notifier.send_many([request]).failed == 1  # no phone number: the SMS cannot go
    with sessions() as s:
        failed = s.exec(select(Notification).where(Notification.key == key)).one()
        kept = s.exec(select(ScheduledNotification).where(ScheduledNotification.key == key)).one()
        assert (failed.status, kept.status) == ("failed", "failed")
        notification_id = failed.id
        s.add(Notification(key=f"lost-{u}", channel="email", template="x", subject_ref="x", status="failed"))
        s.commit()
        lost_id = s.exec(select(Notification.id).where(Notification.key == f"lost-{u}")).one()

    op = clients.bearer(operator)
    listed = (await op.get("/api/operator/notifications/failures")).json()
    assert {(n["key"], n["resendable"]) for n in listed} >= {(key, True), (f"lost-{u}", False)}
    url = f"/api/operator/notifications/{notification_id}/resend"
    for who in (FAMILY, QUALITY, AGENT):
        assert (await clients.bearer(who).post(url, json={"reason": "Essai"})).status_code == 403
    r = await op.post(url, json={"reason": "a"})
    assert r.status_code == 422 and _fields(r) == ["body.reason"]
    r = await op.post(f"/api/operator/notifications/{lost_id}/resend", json={"reason": "Contenu perdu"})
    assert r.status_code == 409 and "conservé" in r.json()["error"]["message"]
    assert (await op.post("/api/operator/notifications/999999999/resend", json={"reason": "Absent"})).status_code == 404

    with sessions() as s:
        row = s.get(AuditInspector, inspector_id)
        assert row is not None
        row.phone = "+33612345678"
        s.add(row)
        s.commit()
    with ThreadPoolExecutor(max_workers=2) as pool:
        async with Worker(temporal_client, task_queue=queue_settings.task_queue,
                          workflows=[NotificationDeliveryWorkflow],
                          activities=[NotificationActivities(notifier).deliver_due_notifications],
                          activity_executor=pool):  # fmt: skip
            c = clients.browser(operator)
            page = await c.get("/operateur/notifications")
            assert page.status_code == 200 and f"Renvoyer le message {notification_id}" in page.text
            csrf = await _csrf(c, "/operateur/notifications")
            r = await c.post(f"/operateur/notifications/{notification_id}/renvoyer",
                             data={"csrf": csrf, "motif": "Numéro de téléphone corrigé"})  # fmt: skip
            assert r.status_code == 303 and r.headers["location"] == "/operateur/notifications?fait=renvoi"

            def sent() -> bool:
                with sessions() as s:
                    return s.exec(select(Notification.status).where(Notification.key == key)).one() == "sent"

            await eventually(sent)
            # resending again is refused: the message went, once
            r = await op.post(url, json={"reason": "Deuxième essai"})
            assert r.status_code == 409
    with sessions() as s:
        assert s.exec(select(ScheduledNotification.status).where(ScheduledNotification.key == key)).one() == "sent"
    [entry] = _journal(sessions, key)
    assert (entry.action, entry.reason, entry.actor_user_id) == (
        "notification.resend", "Numéro de téléphone corrigé", operator.user_id
    )  # fmt: skip
