"""An inspector works his QualiParis task in the browser: accept, fail validation, fix, upload a photo, submit."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
from playwright.async_api import Page, Request, Response, expect
from temporalio.testing import WorkflowEnvironment

from api.security import Principal
from domain.audit.task_states import TaskState
from domain.calendar import format_date_fr
from tests.e2e.audit_world import (
    answers_all_met,
    bearer,
    check_pages_at,
    running_campaign,
    seed_campaign,
    sign_in_as,
    tab_to,
    tiny_png,
)
from tests.workflows.conftest import BillingWorld, eventually, running_worker
from ville.aws import aws_client
from ville.ids import inspection_id
from ville.models.people import Role
from workflows.inspection import InspectionWorkflow

FAILED = "E01.1"  # « Signalétique extérieure visible » : a photo is required when it is not met
SCALE = "E05.2"
MEASURE = "E06.1"


def by_id(page: Page, element_id: str) -> Any:
    """A locator by id (criterion codes contain dots, which CSS selectors would read as classes)."""
    return page.locator(f"[id='{element_id}']")


async def fill_checklist(page: Page, answers: dict[str, str], visit_date: str) -> None:
    """Type the visit date and every answer of the checklist."""
    await page.get_by_label("Date de la visite").fill(visit_date)
    for code, value in answers.items():
        if value in ("oui", "non"):
            await by_id(page, f"{code}-{value}").check()
        else:
            await by_id(page, f"answer_{code}").fill(value)


async def section(page: Page, title: str) -> Any:
    """The missions page's section whose heading starts with `title`."""
    return page.get_by_role("region", name=title)


async def test_inspector_accepts_fixes_uploads_and_submits(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, site: str, page: Page, axe_source: str
) -> None:
    """Tasks grouped by state; accept by keyboard; field errors next to fields; photo PUT to S3; sent back; 404."""
    world, client = billing_world, local_env.client
    audit = seed_campaign(world)
    inspector, other = audit.inspectors
    s3 = aws_client(world.settings, "s3")
    uploads: list[Request] = []
    to_s3 = world.settings.aws_endpoint_url or ""
    page.on("request", lambda r: uploads.append(r) if r.method == "POST" and r.url.startswith(to_s3) else None)
    grants: list[Response] = []
    page.on("response", lambda r: grants.append(r) if r.url.endswith("/preuves") and r.ok else None)
    problems: dict[str, object] = {}

    async with running_worker(client, world), running_campaign(client, world, audit):
        task = audit.task_of(world, inspector)
        foreign = audit.task_of(world, other)
        site_name = audit.site_name(world, task)

        await sign_in_as(page, site, inspector.email, "/inspecteur/missions")
        to_accept = await section(page, "À accepter")
        await expect(to_accept.get_by_role("heading", level=2)).to_have_text("À accepter (1)")
        await expect(to_accept.get_by_role("link", name=site_name)).to_be_visible()
        for empty in ("En cours", "Renvoyées pour correction", "Terminées"):
            await expect((await section(page, empty)).get_by_role("heading", level=2)).to_have_text(f"{empty} (0)")
        # never another inspector's task
        await expect(page.get_by_role("link", name=audit.site_name(world, foreign))).to_have_count(0)

        await to_accept.get_by_role("link", name=site_name).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(site_name)
        await expect(page.locator("#etat-mission")).to_have_text("Attribuée")

        # keyboard alone: Tab to the button, Enter
        await tab_to(page, "button[type=submit]:not(.btn-secondary)")
        await expect(page.locator(":focus")).to_have_text("Accepter la mission")
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{site}/inspecteur/missions/{task.id}?fait=accepte")
        await expect(page.get_by_role("status")).to_contain_text("Mission acceptée")
        await expect(page.locator("#etat-mission")).to_have_text("Acceptée")
        handle = client.get_workflow_handle_for(InspectionWorkflow.run, inspection_id(task.id or 0))
        assert (await handle.query(InspectionWorkflow.view)).status == TaskState.ACCEPTED.value
        # the visit window: from the day the mission was given (today, the campaign opened 40 days ago) to
        # its deadline, never "et aujourd'hui"
        visit_hint = f"Entre le {format_date_fr(audit.today)} et le {format_date_fr(task.due_on)}."
        await expect(page.locator("#visit_date-aide")).to_have_text(visit_hint)

        # 1. a missing note and a measure that is not a number: the page says so next to each field
        answers = answers_all_met()
        answers[FAILED] = "non"
        wrong = {**answers, SCALE: "", MEASURE: "beaucoup"}
        await fill_checklist(page, wrong, f"{audit.today:%d/%m/%Y}")
        await page.get_by_role("button", name="Envoyer la grille").click()
        await expect(page.get_by_role("alert")).to_contain_text("La grille contient 2 erreurs")
        scale = by_id(page, f"answer_{SCALE}")
        await expect(scale).to_have_attribute("aria-invalid", "true")
        await expect(scale).to_have_attribute("aria-describedby", f"{SCALE}-erreur")
        await expect(by_id(page, f"{SCALE}-erreur")).to_have_text("Réponse obligatoire.")
        await expect(by_id(page, f"{MEASURE}-erreur")).to_have_text("Saisissez un nombre, par exemple 12 ou 2,5.")
        # what was typed is kept
        await expect(by_id(page, f"{FAILED}-non")).to_be_checked()
        await expect(by_id(page, f"answer_{MEASURE}")).to_have_value("beaucoup")
        problems["grille-erreurs"] = await check_pages_at(page, axe_source, "inspecteur-grille-erreurs")

        # 2. fixed, but the failed criterion has no photo: the workflow's validator refuses, next to the photo field
        await fill_checklist(page, {SCALE: answers[SCALE], MEASURE: answers[MEASURE]}, f"{audit.today:%d/%m/%Y}")
        await page.get_by_role("button", name="Envoyer la grille").click()
        photo_error = by_id(page, f"preuve-{FAILED}-erreur")
        await expect(photo_error).to_contain_text("une preuve (photo, capture, relevé) est obligatoire")
        await expect(by_id(page, f"preuve-{FAILED}")).to_have_attribute("aria-invalid", "true")
        describedby = await by_id(page, f"preuve-{FAILED}").get_attribute("aria-describedby")
        assert describedby is not None and f"preuve-{FAILED}-erreur" in describedby.split()
        assert (await handle.query(InspectionWorkflow.view)).submissions == 0

        # 3. a file that is not a photo is refused in the page, before any upload
        await by_id(page, f"preuve-{FAILED}").set_input_files(
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"pas une photo"}
        )
        await expect(photo_error).to_have_text("Format refusé : choisissez une photo JPEG ou PNG, ou un PDF.")
        assert not uploads

        # 4. the photo goes from the browser straight to S3 (moto) by the presigned URL
        photo = tiny_png()
        await by_id(page, f"preuve-{FAILED}").set_input_files(
            {"name": "signaletique.png", "mimeType": "image/png", "buffer": photo}
        )
        files = by_id(page, f"preuve-{FAILED}-fichiers")
        await expect(files).to_contain_text("signaletique.png — fichier reçu")
        await expect(photo_error).to_be_hidden()
        assert len(uploads) == 1
        upload = urlparse(uploads[0].url)
        assert f"{upload.scheme}://{upload.netloc}" == world.settings.aws_endpoint_url
        assert len(grants) == 1
        policy = (await grants[0].json())["fields"]["policy"]
        conditions = json.loads(base64.b64decode(policy))["conditions"]
        # S3 refuses another type, an empty file or one above 10 MB
        assert ["content-length-range", 1, 10 * 1024 * 1024] in conditions
        assert {"Content-Type": "image/png"} in conditions
        key = await files.locator("input[type=hidden]").get_attribute("value")
        assert key is not None
        head = s3.head_object(Bucket=world.settings.s3_bucket, Key=key)
        assert head["ContentLength"] == len(photo) and head["ContentType"] == "image/png"
        problems["grille-photo"] = await check_pages_at(page, axe_source, "inspecteur-grille-photo")

        await page.get_by_role("button", name="Envoyer la grille").click()
        await page.wait_for_url(f"{site}/inspecteur/missions/{task.id}?fait=envoye")
        await expect(page.get_by_role("status")).to_contain_text("Grille envoyée pour relecture")
        await expect(page.locator("#etat-mission")).to_have_text("Soumise")
        view = await handle.query(InspectionWorkflow.view)
        assert view.status == TaskState.SUBMITTED.value and view.submissions == 1
        stored = next(t for t in audit.tasks(world) if t.id == task.id)
        assert stored.state == TaskState.SUBMITTED and stored.evidence == {FAILED: [key]}
        assert stored.answers is not None and stored.answers[FAILED] is False

        await page.get_by_role("link", name="Mes missions").first.click()
        done = await section(page, "Terminées")
        await expect(done.get_by_role("heading", level=2)).to_have_text("Terminées (1)")
        await expect(done).to_contain_text("Soumise")

        # 5. the reviewer sends it back: the comment is shown, the task is in « Renvoyées »
        comment = "Photo trop sombre : reprenez la signalétique de l'entrée principale."
        reviewer = Principal(audit.quality_user_id, Role.quality_team)
        async with httpx.AsyncClient(base_url=site, headers=bearer(world, reviewer)) as api:
            answer = await api.post(f"/api/qualiparis/tasks/{task.id}/send-back", json={"comment": comment})
            assert answer.status_code == 200, answer.text

        async def sent_back() -> bool:
            return next(t for t in audit.tasks(world) if t.id == task.id).state == TaskState.SENT_BACK

        await eventually(sent_back)
        await page.reload()
        returned = await section(page, "Renvoyées pour correction")
        await expect(returned.get_by_role("heading", level=2)).to_have_text("Renvoyées pour correction (1)")
        await expect(returned).to_contain_text(comment)
        await returned.get_by_role("link", name=site_name).click()
        await expect(page.locator("#retour-relecteur")).to_contain_text(comment)
        await expect(page.locator("#etat-mission")).to_have_text("Renvoyée pour correction")
        await expect(files).to_contain_text("signaletique.png — fichier reçu")  # the earlier photo is kept
        problems["mission-renvoyee"] = await check_pages_at(page, axe_source, "inspecteur-mission-renvoyee")
        await page.get_by_role("button", name="Envoyer la grille").click()
        await expect(page.locator("#etat-mission")).to_have_text("Soumise")
        assert (await handle.query(InspectionWorkflow.view)).submissions == 2

        # 6. another inspector's task: a 404 page, and no upload URL either
        response = await page.goto(f"{site}/inspecteur/missions/{foreign.id}")
        assert response is not None and response.status == 404
        await expect(page.get_by_role("heading", level=1)).to_have_text("Page introuvable")
        await expect(page.get_by_text(audit.site_name(world, foreign))).to_have_count(0)
        problems["introuvable"] = await check_pages_at(page, axe_source, "inspecteur-introuvable")

    assert not page.csp_violations, page.csp_violations  # type: ignore[attr-defined]
    assert problems == {k: [] for k in problems}, problems


async def test_checklist_by_keyboard_alone_and_upload_limits(
    billing_world: BillingWorld, local_env: WorkflowEnvironment, site: str, page: Page
) -> None:
    """The upload URL is refused for another type, a big file, without CSRF, for a foreign task; Tab/Space/Enter."""
    world, client = billing_world, local_env.client
    audit = seed_campaign(world)
    inspector, other = audit.inspectors
    async with running_worker(client, world), running_campaign(client, world, audit):
        task, foreign = audit.task_of(world, inspector), audit.task_of(world, other)
        await sign_in_as(page, site, inspector.email, "/inspecteur/missions")
        await page.goto(f"{site}/inspecteur/missions/{task.id}")
        await page.get_by_role("button", name="Accepter la mission").click()
        await expect(page.locator("#etat-mission")).to_have_text("Acceptée")
        csrf = await page.locator("#grille input[name=csrf]").get_attribute("value")
        assert csrf

        async def ask(task_id: int | None, token: str, **body: Any) -> tuple[int, dict[str, Any]]:
            payload = {"criterion_code": FAILED, "filename": "photo.jpg", "content_type": "image/jpeg",
                       "size_bytes": 2048, **body}  # fmt: skip
            r = await page.request.post(
                f"{site}/inspecteur/missions/{task_id}/preuves", data=payload, headers={"X-CSRF-Token": token}
            )
            return r.status, await r.json()

        status, granted = await ask(task.id, csrf)
        assert status == 200 and granted["method"] == "POST", granted
        assert granted["upload_url"] == f"{world.settings.aws_endpoint_url}/{world.settings.s3_bucket}"
        assert granted["fields"]["Content-Type"] == "image/jpeg"
        assert await ask(task.id, csrf, content_type="image/gif") == (
            415,
            {"message": "Format refusé : choisissez une photo JPEG ou PNG, ou un PDF."},
        )
        assert await ask(task.id, csrf, size_bytes=11 * 1024 * 1024) == (
            413,
            {"message": "Fichier trop volumineux (10 Mo au plus)."},
        )
        assert await ask(task.id, csrf, size_bytes=0) == (
            413,
            {"message": "Fichier vide : choisissez une photo ou un document qui contient quelque chose."},
        )
        assert (await ask(task.id, "faux-jeton"))[0] == 403
        assert (await ask(foreign.id, csrf))[0] == 404

        # a body that is not what was declared (its bytes say HTML): refused and deleted
        status, granted = await ask(task.id, csrf, content_type="image/png", size_bytes=6)
        assert status == 200
        async with httpx.AsyncClient() as raw:
            sent = await raw.post(granted["upload_url"], data=granted["fields"], files={"file": ("x", b"<html>")})
            assert sent.status_code == 204, sent.text
        await page.evaluate(
            "(key) => { const i = document.createElement('input'); i.type = 'hidden'; i.name = 'evidence_E01.1';"
            " i.value = key; document.getElementById('grille').appendChild(i); }",
            granted["key"],
        )
        await fill_checklist(page, answers_all_met(), f"{audit.today:%d/%m/%Y}")
        await page.get_by_role("button", name="Envoyer la grille").click()
        await expect(by_id(page, f"preuve-{FAILED}-erreur")).to_have_text(
            "Contenu refusé : ce fichier n'est ni une photo JPEG ou PNG, ni un PDF."
        )
        s3 = aws_client(world.settings, "s3")
        listed = s3.list_objects_v2(Bucket=world.settings.s3_bucket, Prefix=granted["key"])
        assert listed.get("KeyCount", 0) == 0
        assert next(t for t in audit.tasks(world) if t.id == task.id).state == TaskState.ACCEPTED

        # the whole checklist with the keyboard alone: Tab between fields, Space on radios, digits, Enter
        await page.goto(f"{site}/inspecteur/missions/{task.id}")
        day = audit.today
        while day.day != day.month:  # a past day of the window (seed_campaign keeps one)
            day -= timedelta(days=1)
        await page.locator("body").click(position={"x": 1, "y": 1})  # start from the top of the page
        await tab_to(page, "#visit_date")
        await page.keyboard.type(f"{day:%d%m%Y}")  # the 8 digits alone, as on a phone's numeric keypad
        await expect(page.get_by_label("Date de la visite")).to_have_value(f"{day:%d%m%Y}")
        for code, value in answers_all_met().items():
            if value == "oui":
                await tab_to(page, f"[id='{code}-oui']")  # Tab enters the group on its first radio
                await page.keyboard.press("Space")
                await expect(by_id(page, f"{code}-oui")).to_be_checked()
            else:
                await tab_to(page, f"[id='answer_{code}']")
                await page.keyboard.type(value)
        await tab_to(page, "#grille button[type=submit]")
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{site}/inspecteur/missions/{task.id}?fait=envoye")
        await expect(page.locator("#etat-mission")).to_have_text("Soumise")
        stored = next(t for t in audit.tasks(world) if t.id == task.id)
        assert stored.state == TaskState.SUBMITTED and stored.visit_date == day and stored.evidence == {}
