"""QualiParis API on the dev server: inspectors see and act on their own tasks only; the quality team reviews."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.audit import AuditActivities
from activities.notifications import NotificationActivities
from api.app import create_app
from api.security import Principal
from domain.audit.criteria import AnswerType, Direction
from domain.audit.referentiel import load_referentiel
from services.audit import bundled_documents, ensure_bundled_referentiels
from services.notifications import Notifier
from tests.accounts import session_token
from ville.aws import aws_client
from ville.db import SessionFactory
from ville.ids import audit_campaign_id, inspection_id
from ville.models.audit import AuditBody, AuditCampaign, AuditInspector, AuditSite, AuditTask
from ville.models.people import Role, UserAccount
from ville.settings import Settings
from ville.temporal import SA_BUSINESS_STATUS, SA_CAMPAIGN
from workflows.audit_campaign import AuditCampaignWorkflow
from workflows.inspection import InspectionWorkflow

T = TypeVar("T")
API = "/api/qualiparis"


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 20.0) -> T:
    """Poll `check` until it returns a value (the workflows run on a real server, in real time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@dataclass
class People:
    """Principals of the test."""

    quality: Principal
    inspector_a: Principal
    inspector_b: Principal
    body_id: int
    site_ids: list[int]


def _seed(sessions: SessionFactory) -> People:
    u = uuid.uuid4().hex[:6]
    with sessions() as s:
        ensure_bundled_referentiels(s)
        body = AuditBody(name=f"Organisme {u}", accreditation="COFRAC (test)", contact_email=f"org-{u}@test.fr")
        s.add(body)
        s.flush()
        assert body.id is not None
        ins_a = AuditInspector(
            ref=f"A{u}",
            body_id=body.id,
            display_name="Inspectrice A",
            email=f"a-{u}@test.fr",
            capacity=5,
            arrondissements=list(range(1, 11)),
            conflict_site_refs=[],
        )
        ins_b = AuditInspector(
            ref=f"B{u}",
            body_id=body.id,
            display_name="Inspecteur B",
            email=f"b-{u}@test.fr",
            capacity=5,
            arrondissements=list(range(11, 21)),
            conflict_site_refs=[],
        )
        s.add_all([ins_a, ins_b])
        s.flush()
        users = [
            UserAccount(email=f"qualite-{u}@test.fr", display_name="Qualité", role=Role.quality_team),
            UserAccount(email=f"a-{u}@test.fr", display_name="A", role=Role.inspector, inspector_id=ins_a.id),
            UserAccount(email=f"b-{u}@test.fr", display_name="B", role=Role.inspector, inspector_id=ins_b.id),
        ]
        sites = [
            AuditSite(
                ref=f"M{u}",
                name="Mairie test",
                site_type="mairie",
                arrondissement=5,
                address="1 place X",
                manager_name="Mme M",
                manager_email=f"m-{u}@test.fr",
            ),
            AuditSite(
                ref=f"B{u}",
                name="Bibliothèque test",
                site_type="bibliotheque",
                arrondissement=9,
                address="2 rue Y",
                manager_name="M. B",
                manager_email=f"bib-{u}@test.fr",
            ),
            AuditSite(
                ref=f"P{u}",
                name="Piscine test",
                site_type="piscine",
                arrondissement=13,
                address="3 rue Z",
                manager_name="Mme P",
                manager_email=f"p-{u}@test.fr",
            ),
            AuditSite(
                ref=f"J{u}",
                name="Parc test",
                site_type="parc",
                arrondissement=19,
                address="4 allée W",
                manager_name="M. J",
                manager_email=f"j-{u}@test.fr",
            ),
        ]
        s.add_all([*users, *sites])
        s.commit()
        q, a, b = (Principal.of(x) for x in users)
        return People(q, a, b, body.id, [x.id for x in sites])  # type: ignore[misc]


@pytest.fixture
async def stack(
    settings: Settings, sessions: SessionFactory, temporal_client: Client
) -> AsyncIterator[tuple[FastAPI, Client]]:
    """The API and a worker with the audit workflows and real activities, on a queue of their own."""
    own = settings.model_copy(update={"task_queue": f"audit-api-{uuid.uuid4().hex[:8]}"})
    notifier = Notifier(sessions, aws_client(own, "ses"), aws_client(own, "sns"), own)
    audit = AuditActivities(sessions, aws_client(own, "s3"), notifier, own, temporal_client)
    with ThreadPoolExecutor(max_workers=8) as pool:
        async with Worker(
            temporal_client,
            task_queue=own.task_queue,
            workflows=[AuditCampaignWorkflow, InspectionWorkflow],
            activities=[*audit.activities(), NotificationActivities(notifier).send_notifications],
            activity_executor=pool,
        ):
            yield create_app(own, temporal=temporal_client), temporal_client


def _client(app: FastAPI, principal: Principal | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {session_token(app, principal)}"} if principal else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers)


JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 photo"


async def post_file(grant: dict[str, Any], body: bytes) -> httpx.Response:
    """Send a file to S3 (moto) with the presigned POST of an upload grant, as a browser form would."""
    async with httpx.AsyncClient() as raw:
        return await raw.post(grant["upload_url"], data=grant["fields"], files={"file": ("f", body)})


def _answers(site_type: str, failing: frozenset[str] = frozenset()) -> dict[str, Any]:
    ref = load_referentiel(bundled_documents()[0])
    out: dict[str, Any] = {}
    for c in ref.criteria_for(site_type, "visit"):
        bad = c.code in failing
        if c.answer_type is AnswerType.YES_NO:
            out[c.code] = not bad
        elif c.answer_type is AnswerType.SCALE:
            out[c.code] = 0 if bad else c.scale_max
        else:
            assert c.threshold is not None
            worse = (c.direction is Direction.AT_MOST) == bad
            out[c.code] = float(c.threshold + 5 if worse else c.threshold / 2)
    return out


async def test_inspectors_reach_only_their_tasks_and_the_quality_team_reviews(
    stack: tuple[FastAPI, Client], sessions: SessionFactory, settings: Settings
) -> None:
    app, temporal = stack
    p = _seed(sessions)
    anon, quality, a, b = (_client(app, x) for x in (None, p.quality, p.inspector_a, p.inspector_b))
    today = date.today()
    try:
        # unauthenticated: 401; wrong role: 403
        assert (await anon.get(f"{API}/inspector/tasks")).status_code == 401
        assert (await anon.post(f"{API}/campaigns", json={})).status_code == 401
        assert (await a.get(f"{API}/campaigns")).status_code == 403
        assert (await a.get(f"{API}/review-queue")).status_code == 403

        # the quality team sets up the campaign
        body = {
            "name": "Campagne API",
            "window_start": (today - timedelta(days=1)).isoformat(),
            "window_end": (today + timedelta(days=30)).isoformat(),
            "label_threshold_pct": "85",
            "body_id": p.body_id,
            "referentiel_version": "1",
            "sites": [{"site_id": sid, "modes": ["visit"]} for sid in p.site_ids],
        }
        bad_window = {**body, "window_end": (today - timedelta(days=5)).isoformat()}
        r = await quality.post(f"{API}/campaigns", json=bad_window)
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "window_end"
        r = await quality.post(f"{API}/campaigns", json=body)
        assert r.status_code == 201, r.text
        campaign_id = r.json()["id"]
        assert r.json()["label_threshold_pct"] == "85.0" and r.json()["sites"] == 4
        started = await quality.post(f"{API}/campaigns/{campaign_id}/start")
        again = await quality.post(f"{API}/campaigns/{campaign_id}/start")
        assert started.status_code == again.status_code == 202
        assert started.json()["workflow_id"] == again.json()["workflow_id"] == audit_campaign_id(campaign_id)

        async def listed(client: httpx.AsyncClient) -> list[dict[str, Any]] | None:
            tasks = (await client.get(f"{API}/inspector/tasks")).json()["tasks"]
            mine = [t for t in tasks if t["campaign"] == "Campagne API"]
            return mine if len(mine) == 2 else None

        tasks_a = await eventually(lambda: listed(a), "inspector A's tasks")
        tasks_b = await eventually(lambda: listed(b), "inspector B's tasks")
        own, foreign = tasks_a[0]["id"], tasks_b[0]["id"]
        with sessions() as s:
            db_a = {t.id for t in s.exec(select(AuditTask).where(AuditTask.inspector_id == p.inspector_a.inspector_id))}
        assert {t["id"] for t in tasks_a} == db_a  # all of A's tasks, nobody else's
        assert {t["state"] for t in tasks_a} == {"assigned"} and tasks_a[0]["accept_by"] is not None

        # inspector A cannot read nor act on B's task: 404, as if it did not exist
        assert (await a.get(f"{API}/inspector/tasks/{foreign}")).status_code == 404
        assert (await a.post(f"{API}/inspector/tasks/{foreign}/accept")).status_code == 404
        assert (await a.post(f"{API}/inspector/tasks/{foreign}/decline", json={"reason": "x"})).status_code == 404
        evidence_in = {"criterion_code": "E03.1", "filename": "entree.jpg", "content_type": "image/jpeg"}
        assert (await a.post(f"{API}/inspector/tasks/{foreign}/evidence", json=evidence_in)).status_code == 404
        submission = {"visit_date": today.isoformat(), "answers": _answers("piscine"), "evidence": {}}
        assert (await a.post(f"{API}/inspector/tasks/{foreign}/submission", json=submission)).status_code == 404
        assert (await a.get(f"{API}/inspector/tasks/999999")).status_code == 404
        assert (await b.get(f"{API}/inspector/tasks/{foreign}")).json()["state"] == "assigned"  # untouched

        # A accepts and works on his own task
        r = await a.post(f"{API}/inspector/tasks/{own}/accept")
        assert r.status_code == 200 and r.json()["state"] == "accepted", r.text
        listing = (await a.get(f"{API}/inspector/tasks", params={"state": "accepted"})).json()
        assert [t["id"] for t in listing["tasks"]] == [own] and listing["counts"] == {"accepted": 1, "assigned": 1}
        detail = (await a.get(f"{API}/inspector/tasks/{own}")).json()
        site_type = {"Mairie test": "mairie", "Bibliothèque test": "bibliotheque"}[detail["site_name"]]
        assert {c["code"] for c in detail["checklist"]} == set(_answers(site_type))

        # evidence goes straight to S3 through a presigned POST; the key is drawn by the server and recorded
        up = await a.post(f"{API}/inspector/tasks/{own}/evidence", json=evidence_in)
        assert up.status_code == 201, up.text
        upload = up.json()
        assert upload["method"] == "POST" and upload["name"] == "entree.jpg" and "entree" not in upload["key"]
        assert (await post_file(upload, JPEG_BYTES)).status_code == 204

        # a submission that fails validation is refused with precise French messages
        incomplete = _answers(site_type, frozenset({"E03.1"}))
        del incomplete["E07.2"]
        r = await a.post(
            f"{API}/inspector/tasks/{own}/submission", json={"visit_date": today.isoformat(), "answers": incomplete}
        )
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["message"].startswith("Soumission refusée : Critère E07.2")
        assert {f["field"] for f in error["fields"]} == {"answers.E07.2", "evidence.E03.1"}
        forged = {"E03.1": [f"audit/campaign-{campaign_id}/task-{own}/E03.1/forged.jpg"]}
        r = await a.post(
            f"{API}/inspector/tasks/{own}/submission",
            json={"visit_date": today.isoformat(), "answers": incomplete, "evidence": forged},
        )
        assert r.status_code == 422 and "Preuve inconnue" in r.json()["error"]["message"]
        failing = _answers(site_type, frozenset({"E03.1"}))
        valid = {"visit_date": today.isoformat(), "answers": failing, "evidence": {"E03.1": [upload["key"]]}}
        r = await a.post(f"{API}/inspector/tasks/{own}/submission", json=valid)
        assert r.status_code == 200 and r.json()["state"] == "submitted", r.text
        assert (await a.post(f"{API}/inspector/tasks/{own}/submission", json=valid)).status_code == 409

        # review: sent back (a comment is required), corrected, approved and frozen
        queue = (await quality.get(f"{API}/review-queue", params={"campaign_id": campaign_id})).json()
        assert [item["task_id"] for item in queue] == [own]
        r = await quality.post(f"{API}/tasks/{own}/send-back", json={"comment": ""})
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "comment"
        r = await quality.post(f"{API}/tasks/{own}/send-back", json={"comment": "Précisez l'heure de visite"})
        assert r.status_code == 200 and r.json()["state"] == "sent_back"
        assert (await a.get(f"{API}/inspector/tasks/{own}")).json()["review_comment"] == "Précisez l'heure de visite"
        r = await a.post(f"{API}/inspector/tasks/{own}/submission", json=valid)
        assert r.status_code == 200 and r.json()["submissions"] == 2
        r = await quality.post(f"{API}/tasks/{own}/approve", json={"comment": "Conforme"})
        assert r.status_code == 200 and r.json()["state"] == "approved"
        reviewed = (await quality.get(f"{API}/tasks/{own}")).json()
        assert reviewed["score_pct"] is not None and reviewed["evidence"] == {"E03.1": [upload["key"]]}
        assert upload["key"] in reviewed["evidence_urls"]
        assert (await a.get(f"{API}/tasks/{own}")).status_code == 403  # an inspector never sees results

        # progress from the running workflow, and its operator search attributes
        async def approved() -> dict[str, Any] | None:
            body = (await quality.get(f"{API}/campaigns/{campaign_id}/progress")).json()
            return body if body["by_status"].get("approved") == 1 else None

        progress = await eventually(approved, "the approval in the campaign's progress")
        assert progress["total_tasks"] == 4 and progress["by_status"]["assigned"] == 3
        described = await temporal.get_workflow_handle(audit_campaign_id(campaign_id)).describe()
        assert described.typed_search_attributes.get(SA_CAMPAIGN) == str(campaign_id)
        assert described.typed_search_attributes.get(SA_BUSINESS_STATUS) == "running"

        # the référentiel: a new version is published, an invalid one refused, none edited in place
        doc = copy.deepcopy(bundled_documents()[0])
        doc["version"] = f"2-{uuid.uuid4().hex[:6]}"
        doc["effective_from"] = "2031-01-01"
        doc["commitments"][0]["criteria"][0]["weight"] = 3
        r = await quality.post(f"{API}/referentiels", json={"document": doc})
        assert r.status_code == 201 and r.json()["commitments"] == 17, r.text
        assert (await quality.post(f"{API}/referentiels", json={"document": doc})).status_code == 409
        broken = copy.deepcopy(doc)
        broken["version"] = "broken"
        broken["commitments"][0]["criteria"][0]["weight"] = 0
        r = await quality.post(f"{API}/referentiels", json={"document": broken})
        assert r.status_code == 422 and "poids" in r.json()["error"]["fields"][0]["message"]
        versions = {v["version"] for v in (await quality.get(f"{API}/referentiels")).json()}
        assert {"1", doc["version"]} <= versions and "broken" not in versions
        assert (await a.post(f"{API}/referentiels", json={"document": doc})).status_code == 403
    finally:
        for c in (anon, quality, a, b):
            await c.aclose()
        with sessions() as s:
            ids = [
                t.id
                for t in s.exec(
                    select(AuditTask).where(
                        AuditTask.inspector_id.in_(  # type: ignore[union-attr]
                            [p.inspector_a.inspector_id, p.inspector_b.inspector_id]
                        )
                    )
                )
            ]
        for wf_id in [*(inspection_id(i) for i in ids), *(audit_campaign_id(c) for c in _campaigns(sessions, p))]:
            with contextlib.suppress(RPCError):  # already closed
                await temporal.get_workflow_handle(wf_id).terminate("fin du test")


def _campaigns(sessions: SessionFactory, p: People) -> list[int]:
    with sessions() as s:
        return [c.id for c in s.exec(select(AuditCampaign).where(AuditCampaign.body_id == p.body_id)) if c.id]
