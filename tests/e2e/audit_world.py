"""Worlds of the inspector and partner browser tests: a running QualiParis campaign, signed-in helpers."""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from playwright.async_api import Page
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.service import RPCError

from api.security import Principal, TokenSigner
from contracts.audit_campaign import AuditCampaignInput
from domain.audit.campaign import PARIS
from domain.audit.task_states import TaskState
from services.audit import ensure_bundled_referentiels
from tests.accounts import account_token
from tests.e2e.conftest import check_page
from tests.workflows.conftest import BillingWorld, eventually
from ville.ids import audit_campaign_id, inspection_id
from ville.models.audit import AuditBody, AuditCampaign, AuditCampaignSite, AuditInspector, AuditSite, AuditTask
from ville.models.people import Role, UserAccount
from workflows.audit_campaign import AuditCampaignWorkflow


@dataclass
class Inspector:
    """An inspector of the campaign and the user account he signs in with."""

    id: int
    email: str
    user_id: int


@dataclass
class AuditWorld:
    """One running campaign with two park sites, each assigned to one of two inspectors."""

    campaign_id: int
    quality_user_id: int
    inspectors: list[Inspector]
    today: date

    def tasks(self, world: BillingWorld) -> list[AuditTask]:
        """The campaign's tasks, by id."""
        with world.sessions() as s:
            q = select(AuditTask).where(AuditTask.campaign_id == self.campaign_id).order_by(col(AuditTask.id))
            return list(s.exec(q).all())

    def task_of(self, world: BillingWorld, inspector: Inspector) -> AuditTask:
        """The task assigned to `inspector`."""
        return next(t for t in self.tasks(world) if t.inspector_id == inspector.id)

    def site_name(self, world: BillingWorld, task: AuditTask) -> str:
        """The name of the task's site."""
        with world.sessions() as s:
            return s.get_one(AuditSite, task.site_id).name


def paris_today() -> date:
    """Today in Paris (visit dates are Paris days)."""
    return datetime.now(PARIS).date()


def seed_campaign(world: BillingWorld) -> AuditWorld:
    """A draft campaign: two parks, two inspectors of capacity one, a quality-team reviewer."""
    tag = uuid.uuid4().hex[:6]
    today = paris_today()
    with world.sessions() as s:
        ensure_bundled_referentiels(s)
        quality = UserAccount(email=f"qualite-{tag}@paris.example", display_name="Cellule qualité",
                              role=Role.quality_team)  # fmt: skip
        body = AuditBody(name=f"Organisme {tag}", accreditation="COFRAC (test)", contact_email=f"org-{tag}@test.fr")
        s.add_all([quality, body])
        s.flush()
        assert body.id is not None and quality.id is not None
        sites = [
            AuditSite(ref=f"P{tag}-{i}", name=name, site_type="parc", arrondissement=12,
                      address=f"{i + 1} avenue Daumesnil", manager_name=f"Responsable {i}",
                      manager_email=f"resp{i}-{tag}@paris.example")
            for i, name in enumerate(("Jardin de Reuilly", "Square Trousseau"))
        ]  # fmt: skip
        inspectors = [
            AuditInspector(ref=f"I{tag}-{n}", body_id=body.id, display_name=f"Inspecteur {n}",
                           email=f"inspecteur-{n.lower()}-{tag}@audit.example", phone=f"+3360000000{k}",
                           capacity=1, arrondissements=list(range(1, 21)), conflict_site_refs=[])
            for k, n in enumerate("AB")
        ]  # fmt: skip
        s.add_all([*sites, *inspectors])
        s.flush()
        # the dev server lives for the whole session while each test has a fresh database: reserve ids no
        # other test uses, so `audit-campaign-<id>` and `inspection-<task id>` never meet an older workflow
        base = 1000 + uuid.uuid4().int % 1_000_000
        reserve = AuditCampaign(id=base, name=f"Réserve {tag}", referentiel_version="1", body_id=body.id,
                                window_start=today, window_end=today, owner_user_id=quality.id)  # fmt: skip
        s.add(reserve)
        s.flush()
        assert sites[0].id is not None
        s.add(AuditTask(id=base * 10, campaign_id=base, site_id=sites[0].id, mode="visit", due_on=today))
        users = [
            UserAccount(email=i.email, display_name=i.display_name, role=Role.inspector, inspector_id=i.id)
            for i in inspectors
        ]
        s.add_all(users)
        campaign = AuditCampaign(
            id=base + 1,
            name=f"Campagne parcs {tag}",
            referentiel_version="1",
            body_id=body.id,
            window_start=today - timedelta(days=40),  # holds a day whose day and month are equal
            window_end=today + timedelta(days=20),
            label_threshold_permille=850,
            acceptance_hours=48,
            corrective_due_days=30,
            owner_user_id=quality.id,
        )
        s.add(campaign)
        s.flush()
        assert campaign.id is not None
        for site in sites:
            assert site.id is not None
            s.add(AuditCampaignSite(campaign_id=campaign.id, site_id=site.id, modes=["visit"]))
        s.commit()
        people = [Inspector(i.id, i.email, u.id) for i, u in zip(inspectors, users, strict=True)]  # type: ignore[arg-type]
        return AuditWorld(campaign.id, quality.id, people, today)


@asynccontextmanager
async def running_campaign(client: Client, world: BillingWorld, audit: AuditWorld) -> AsyncIterator[None]:
    """The campaign started (both tasks open and assigned); its workflows are terminated afterwards."""
    await start_campaign(client, world, audit)
    try:
        yield
    finally:
        ids = [audit_campaign_id(audit.campaign_id), *(inspection_id(t.id or 0) for t in audit.tasks(world))]
        for workflow_id in ids:
            with suppress(RPCError):  # already finished
                await client.get_workflow_handle(workflow_id).terminate("fin du test")


async def start_campaign(client: Client, world: BillingWorld, audit: AuditWorld) -> None:
    """Start the campaign's workflow and wait until both tasks are open and assigned."""
    await client.start_workflow(
        AuditCampaignWorkflow.run,
        AuditCampaignInput(audit.campaign_id),
        id=audit_campaign_id(audit.campaign_id),
        task_queue=world.settings.task_queue,
    )

    def assigned() -> bool:
        tasks = [t for t in audit.tasks(world) if t.campaign_id == audit.campaign_id]
        return len(tasks) == 2 and all(t.opened_at and t.state == TaskState.ASSIGNED for t in tasks)

    await eventually(assigned)
    assert {t.inspector_id for t in audit.tasks(world)} == {i.id for i in audit.inspectors}


def bearer(world: BillingWorld, principal: Principal) -> dict[str, str]:
    """Authorization header of a session token the API accepts (same dev key as the server)."""
    return {
        "Authorization": f"Bearer {account_token(world.engine, TokenSigner(world.settings.session_keys), principal)}"
    }


async def sign_in_as(page: Page, base: str, email: str, home: str) -> None:
    """Ask for a link on /connexion, follow the dev link shown on the page, land on `home`."""
    await page.goto(f"{base}/connexion")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_role("button", name="Recevoir un lien de connexion").click()
    await page.get_by_role("heading", name="Lien envoyé").wait_for()
    await page.locator("#dev-link").click()
    await page.wait_for_url(f"{base}{home}")


async def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus (keyboard-only navigation)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("(sel) => document.activeElement && document.activeElement.matches(sel)", selector):
            return
    raise AssertionError(f"{selector} never received the focus with Tab")


def tiny_png(width: int = 8, height: int = 8) -> bytes:
    """A real, valid PNG image (a small grey square), as a phone camera would upload a photo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def answers_all_met() -> dict[str, Any]:
    """Form answers of the park checklist where every criterion is met (what the inspector types)."""
    from domain.audit.criteria import AnswerType, Direction
    from domain.audit.referentiel import load_referentiel
    from services.audit import bundled_documents

    ref = load_referentiel(next(d for d in bundled_documents() if d["version"] == "1"))
    out: dict[str, Any] = {}
    for c in ref.criteria_for("parc", "visit"):
        if c.answer_type is AnswerType.YES_NO:
            out[c.code] = "oui"
        elif c.answer_type is AnswerType.SCALE:
            out[c.code] = str(c.scale_max)
        else:
            assert c.threshold is not None
            good = c.threshold - 1 if c.direction is Direction.AT_MOST else c.threshold + 1
            out[c.code] = str(max(0, good))
    return out


async def check_pages_at(page: Page, axe: str, name: str) -> list[dict[str, Any]]:
    """axe-core (serious/critical) and screenshots at 360/1280 px, plus no sideways scrolling on a phone."""
    problems = await check_page(page, axe, name)
    await page.set_viewport_size({"width": 360, "height": 800})
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    await page.set_viewport_size({"width": 1280, "height": 900})
    if overflow > 0:
        problems.append({"id": "overflow-360", "impact": "serious", "nodes": [f"{overflow}px de trop"]})
    return problems
