"""Evidence cannot be forged (issue 16 point 4): keys bound to the task, bytes and size checked, safe downloads.

Real app over ASGI (JSON API and the inspector's pages with a session cookie and CSRF token), moto S3, a real
Temporal dev server running the audit workflows.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.worker import Worker

from activities.audit import AuditActivities
from activities.notifications import NotificationActivities
from api.app import create_app
from api.security import SESSION_COOKIE, Principal
from services.notifications import Notifier
from tests.accounts import session_token
from tests.api.test_audit_api import (
    API,
    JPEG_BYTES,
    People,
    _answers,
    _client,
    _seed,
    eventually,
    post_file,
)
from tests.e2e.audit_world import tiny_png
from ville.aws import aws_client
from ville.db import SessionFactory
from ville.settings import Settings
from workflows.audit_campaign import AuditCampaignWorkflow
from workflows.inspection import InspectionWorkflow

TEN_MB = 10 * 1024 * 1024
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"/>'
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
# (file name, declared type, bytes, what the refusal must say)
FORGED = [
    ("photo.jpg", "image/jpeg", EXE, "Contenu refusé"),
    ("image.png", "image/png", SVG, "Contenu refusé"),
    ("rapport.pdf", "application/pdf", HTML, "Contenu refusé"),
    ("vide.jpg", "image/jpeg", b"", "Fichier vide"),
    ("gros.jpg", "image/jpeg", JPEG_BYTES + b"\x00" * (TEN_MB + 1 - len(JPEG_BYTES)), "Fichier trop volumineux"),
]


@pytest.fixture
async def stack(
    settings: Settings, sessions: SessionFactory, temporal_client: Client
) -> AsyncIterator[tuple[FastAPI, Client]]:
    """The API and a worker with the audit workflows and real activities, on a queue of their own."""
    own = settings.model_copy(update={"task_queue": f"audit-evidence-{uuid.uuid4().hex[:8]}"})
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


def _page_client(app: FastAPI, principal: Principal) -> tuple[httpx.AsyncClient, str]:
    """A browser-like client of the pages: the session cookie and the CSRF token issued for it."""
    token = session_token(app, principal)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", cookies={SESSION_COOKIE: token}
    )
    return client, app.state.signer.csrf_token(token)


def _s3_calls(app: FastAPI) -> list[tuple[str, str, str]]:
    """Every S3 operation the app's own client makes from now on, with the key and range it names."""
    calls: list[tuple[str, str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, str(params.get("Key", "")), str(params.get("Range", ""))))

    app.state.s3.meta.events.register("before-parameter-build.s3", record)
    return calls


async def _open_tasks(app: FastAPI, p: People) -> tuple[dict[str, Any], dict[str, Any]]:
    """A running campaign; one task of A and one of B accepted (details with their checklists)."""
    quality, a, b = (_client(app, x) for x in (p.quality, p.inspector_a, p.inspector_b))
    today = date.today()
    body = {
        "name": "Campagne preuves",
        "window_start": (today - timedelta(days=1)).isoformat(),
        "window_end": (today + timedelta(days=30)).isoformat(),
        "label_threshold_pct": "85",
        "body_id": p.body_id,
        "referentiel_version": "1",
        "sites": [{"site_id": sid, "modes": ["visit"]} for sid in p.site_ids],
    }
    r = await quality.post(f"{API}/campaigns", json=body)
    assert r.status_code == 201, r.text
    assert (await quality.post(f"{API}/campaigns/{r.json()['id']}/start")).status_code == 202
    details = []
    for client in (a, b):

        async def listed(c: httpx.AsyncClient = client) -> list[dict[str, Any]] | None:
            tasks = [t for t in (await c.get(f"{API}/inspector/tasks")).json()["tasks"] if t["state"] == "assigned"]
            return tasks or None

        task = (await eventually(listed, "the inspector's tasks"))[0]
        assert (await client.post(f"{API}/inspector/tasks/{task['id']}/accept")).status_code == 200
        details.append((await client.get(f"{API}/inspector/tasks/{task['id']}")).json())
    for c in (quality, a, b):
        await c.aclose()
    return details[0], details[1]


def _evidence_code(task: dict[str, Any]) -> str:
    return next(c["code"] for c in task["checklist"] if c["evidence_required_on_failure"])


def _site_type(task: dict[str, Any]) -> str:
    names = {"Mairie test": "mairie", "Bibliothèque test": "bibliotheque", "Piscine test": "piscine"}
    return names.get(task["site_name"], "parc")


def _form(task: dict[str, Any], csrf: str, code: str, keys: list[str]) -> dict[str, Any]:
    """The checklist form as the page posts it: `code` not met, with the cited file keys."""
    answers = _answers(_site_type(task), frozenset({code}))
    fields: dict[str, Any] = {"csrf": csrf, "visit_date": date.today().isoformat(), f"evidence_{code}": keys}
    for k, v in answers.items():
        fields[f"answer_{k}"] = ("oui" if v else "non") if isinstance(v, bool) else str(v)
    return fields


def _exists(settings: Settings, app: FastAPI, key: str) -> bool:
    try:
        app.state.s3.head_object(Bucket=settings.s3_bucket, Key=key)
    except ClientError:
        return False
    return True


def _field_message(html: str, code: str) -> str:
    """The error shown next to the evidence field of `code` on the mission page."""
    found = re.search(rf'<p id="preuve-{re.escape(code)}-erreur" class="field-message">([^<]*)</p>', html)
    assert found, html[:2000]
    return found.group(1)


async def test_checklist_form_never_reads_nor_deletes_keys_it_did_not_issue_for_the_task(
    stack: tuple[FastAPI, Client], sessions: SessionFactory, settings: Settings
) -> None:
    """Another inspector's submitted evidence and an invoice archive, named in the form: untouched, unread."""
    app, _ = stack
    p = _seed(sessions)
    task_a, task_b = await _open_tasks(app, p)
    a, b = _client(app, p.inspector_a), _client(app, p.inspector_b)
    page, csrf = _page_client(app, p.inspector_a)
    try:
        # B's evidence, uploaded and submitted
        code_b = _evidence_code(task_b)
        grant = (
            await b.post(
                f"{API}/inspector/tasks/{task_b['id']}/evidence",
                json={"criterion_code": code_b, "filename": "b.jpg", "content_type": "image/jpeg"},
            )
        ).json()
        assert (await post_file(grant, JPEG_BYTES)).status_code == 204
        submission = {
            "visit_date": date.today().isoformat(),
            "answers": _answers(_site_type(task_b), frozenset({code_b})),
        }
        submission["evidence"] = {code_b: [grant["key"]]}
        r = await b.post(f"{API}/inspector/tasks/{task_b['id']}/submission", json=submission)
        assert r.status_code == 200, r.text
        # an invoice archive, as the billing cycle writes them
        archive = f"invoices/2026-09/batch-{task_a['id']:08d}-00000100.zip"
        app.state.s3.put_object(
            Bucket=settings.s3_bucket, Key=archive, Body=b"PK\x03\x04", ContentType="application/zip"
        )
        foreign = [grant["key"], archive]

        calls = _s3_calls(app)
        code_a = _evidence_code(task_a)
        r = await page.post(f"/inspecteur/missions/{task_a['id']}/grille", data=_form(task_a, csrf, code_a, foreign))
        assert r.status_code == 422
        assert _field_message(r.text, code_a) == f"Preuve inconnue pour le critère {code_a}."
        assert grant["key"] not in r.text and archive not in r.text  # never shown back as « fichier reçu »
        # the JSON API answers the same
        forged = {"visit_date": date.today().isoformat(), "answers": _answers(_site_type(task_a), frozenset({code_a}))}
        forged["evidence"] = {code_a: foreign}
        r = await a.post(f"{API}/inspector/tasks/{task_a['id']}/submission", json=forged)
        assert r.status_code == 422 and "Preuve inconnue" in r.json()["error"]["message"]
        # removal takes an evidence id, and only one of the caller's own task
        r = await a.delete(f"{API}/inspector/tasks/{task_a['id']}/evidence/{grant['evidence_id']}")
        assert r.status_code == 404
        r = await a.delete(f"{API}/inspector/tasks/{task_b['id']}/evidence/{grant['evidence_id']}")
        assert r.status_code == 404

        assert [c for c in calls if c[1] in foreign] == []  # not deleted, not even read (HEAD or GET)
        assert _exists(settings, app, grant["key"]) and _exists(settings, app, archive)
        task_b_now = (await b.get(f"{API}/inspector/tasks/{task_b['id']}")).json()
        assert task_b_now["evidence"] == {code_b: [grant["key"]]}
        assert (await a.get(f"{API}/inspector/tasks/{task_a['id']}")).json()["state"] == "accepted"
    finally:
        for c in (a, b, page):
            await c.aclose()


async def test_files_are_checked_by_their_bytes_and_size_on_both_routes_then_downloaded_safely(
    stack: tuple[FastAPI, Client], sessions: SessionFactory, settings: Settings
) -> None:
    """.exe as JPEG, SVG as PNG, HTML as PDF, 0 B, 10 MB + 1: refused by the API and the page; a PNG is served safe."""
    app, _ = stack
    p = _seed(sessions)
    task, _b = await _open_tasks(app, p)
    a, quality = _client(app, p.inspector_a), _client(app, p.quality)
    page, csrf = _page_client(app, p.inspector_a)
    code = _evidence_code(task)
    url = f"{API}/inspector/tasks/{task['id']}"
    try:
        # the page's grant already says which bound a declared size crosses
        ask = {"criterion_code": code, "filename": "x.jpg", "content_type": "image/jpeg"}
        preuves = f"/inspecteur/missions/{task['id']}/preuves"
        r = await page.post(preuves, json={**ask, "size_bytes": 0}, headers={"X-CSRF-Token": csrf})
        assert (r.status_code, r.json()["message"]) == (
            413,
            "Fichier vide : choisissez une photo ou un document qui contient quelque chose.",
        )
        r = await page.post(preuves, json={**ask, "size_bytes": TEN_MB + 1}, headers={"X-CSRF-Token": csrf})
        assert (r.status_code, r.json()["message"]) == (413, "Fichier trop volumineux (10 Mo au plus).")
        r = await a.post(f"{url}/evidence", json={**ask, "size_bytes": TEN_MB + 1})
        assert (
            r.status_code == 413
            and r.json()["error"]["fields"][0]["message"] == "Fichier trop volumineux (10 Mo au plus)."
        )

        calls = _s3_calls(app)
        for name, declared, body, expected in FORGED:
            # JSON API: no size declared; the emulator does not enforce the signed policy, the submission does
            grant = (await a.post(f"{url}/evidence", json={**ask, "filename": name, "content_type": declared})).json()
            assert (await post_file(grant, body)).status_code == 204
            submission = {
                "visit_date": date.today().isoformat(),
                "answers": _answers(_site_type(task), frozenset({code})),
            }
            submission["evidence"] = {code: [grant["key"]]}
            r = await a.post(f"{url}/submission", json=submission)
            assert r.status_code == 422, (name, r.text)
            assert expected in r.json()["error"]["fields"][0]["message"], name
            assert not _exists(settings, app, grant["key"])  # refused files are removed (by their record)
            # page: the grant is asked with a plausible size, another body is sent
            r = await page.post(
                preuves,
                json={**ask, "filename": name, "content_type": declared, "size_bytes": 100},
                headers={"X-CSRF-Token": csrf},
            )
            assert r.status_code == 200 and r.json()["method"] == "POST", r.text
            grant = r.json()
            assert (await post_file(grant, body)).status_code == 204
            r = await page.post(
                f"/inspecteur/missions/{task['id']}/grille", data=_form(task, csrf, code, [grant["key"]])
            )
            assert r.status_code == 422, name
            assert expected in _field_message(r.text, code), name
        # sizes by HEAD, then only the first bytes are read (a ranged GET)
        reads = [c for c in calls if c[0] == "GetObject"]
        assert len(reads) == 2 * 3 and {c[2] for c in reads} == {"bytes=0-7"}  # empty and too big: HEAD only

        photo = tiny_png()
        r = await page.post(
            preuves,
            json={**ask, "filename": "entrée.png", "content_type": "image/png", "size_bytes": len(photo)},
            headers={"X-CSRF-Token": csrf},
        )
        grant = r.json()
        assert grant["name"] == "entrée.png" and grant["key"].endswith(".png") and "entr" not in grant["key"]
        assert (await post_file(grant, photo)).status_code == 204
        r = await page.post(f"/inspecteur/missions/{task['id']}/grille", data=_form(task, csrf, code, [grant["key"]]))
        assert r.status_code == 303 and r.headers["location"].endswith("?fait=envoye"), r.text[:500]

        detail = (await quality.get(f"{API}/tasks/{task['id']}")).json()
        assert detail["evidence"] == {code: [grant["key"]]}
        download = await quality.get(detail["evidence_urls"][grant["key"]])
        assert download.status_code == 200 and download.content == photo
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-type"] == "image/png"
        assert download.headers["content-disposition"].startswith("attachment;")
        assert "filename*=UTF-8''entr%C3%A9e.png" in download.headers["content-disposition"]
        assert (await a.get(detail["evidence_urls"][grant["key"]])).status_code == 403
        # submitted: it stays for the reviewer
        r = await a.delete(f"{url}/evidence/{grant['evidence_id']}")
        assert r.status_code == 409 and _exists(settings, app, grant["key"])
    finally:
        for c in (a, quality, page):
            await c.aclose()
