"""No log line of the worker or the API carries a seeded person's name, e-mail, phone, address or IBAN.

The privacy canary (test_privacy_canary.py) covers Temporal histories and the billing cycle's logs; this
test covers the logs of all three processes. A billing cycle (started through the API, with a SEPA
mandate), an audit campaign (started through the API, inspectors answering through it) and a referral
case (opened, referred, answered by the partner and closed through the API) run on the real workflows and
activities, while every stdlib/structlog record of the process (API and worker run in it) is rendered as
the JSON lines production writes, at DEBUG level; anything printed is captured as well.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import update
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.security import Principal
from domain.audit.campaign import PARIS
from services.audit import ensure_bundled_referentiels
from tests.accounts import session_token
from tests.api.test_referral_api import _hsds
from tests.workflows.conftest import GOOD_IBAN, BillingWorld, eventually, running_worker
from ville.ids import inspection_id
from ville.logging import configure_logging
from ville.models.audit import AuditBody, AuditCampaign, AuditCampaignSite, AuditInspector, AuditSite, AuditTask
from ville.models.billing import Payer
from ville.models.people import Role, UserAccount
from ville.models.referrals import PartnerService, RifRelay
from ville.settings import Settings
from ville.temporal import ALL_SEARCH_ATTRIBUTE_KEYS, data_converter
from workflows.inspection import InspectionWorkflow

BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"

# Seeded personal data: unusual enough that any occurrence in a log is a leak, not a coincidence.
PAYER = ("Philomène", "Quenouille-Témoin", "philomene.quenouille@exemple.fr", "+33677665544")
PAYER_ADDRESS = "23 impasse des Pervenches-Témoins, 75020 Paris"
INSPECTOR = ("Barnabé Escarcelle", "barnabe.escarcelle@organisme.example", "+33655443322")
SITE_MANAGER = ("Gontran Pimprenelle", "gontran.pimprenelle@paris.example", "+33144332211")
FAMILY = ("Ysaline Carambole-Témoin", "ysaline.carambole@familles.example", "06 51 52 53 54")
SITUATION = "Ysaline élève seule ses jumeaux depuis l'incendie du 14 rue Trousseau"
CANARIES = [
    *PAYER, f"{PAYER[0]} {PAYER[1]}", "Quenouille", "quenouille", PAYER_ADDRESS, "Pervenches", "677665544",
    GOOD_IBAN, GOOD_IBAN[4:], GOOD_IBAN[-8:],
    *INSPECTOR, "Escarcelle", "barnabe.escarcelle", "655443322",
    *SITE_MANAGER, "Pimprenelle", "144332211",
    *FAMILY, "Carambole", "ysaline", "33651525354", "651525354", "jumeaux", "Trousseau",
]  # fmt: skip


def _leaks(text: str) -> list[str]:
    low = text.lower()
    spellings = {c: {c.lower(), json.dumps(c).strip('"').lower()} for c in CANARIES}
    return sorted({c for c, forms in spellings.items() for f in forms if f in low})


@pytest.fixture(scope="module")
async def dev_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this module's own: the API starts `billing-cycle-<period>` with USE_EXISTING."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=data_converter(settings),
        search_attributes=ALL_SEARCH_ATTRIBUTE_KEYS,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def json_logs(settings: Settings) -> Iterator[io.StringIO]:
    """Every log record of the process rendered as production's JSON lines, DEBUG and up."""
    configure_logging(settings)  # what the API and the worker do first (once): our handler comes after it
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.stdlib.ExtraAdder(),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@dataclass
class Api:
    """The API in this process, and bearer clients for given principals."""

    app: FastAPI

    def client(self, principal: Principal) -> httpx.AsyncClient:
        """An in-process client signed in as `principal`."""
        token = session_token(self.app, principal)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver",
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def _user(world: BillingWorld, role: Role, name: str, email: str, **scope: int | None) -> Principal:
    with world.sessions() as s:
        user = UserAccount(email=email, display_name=name, role=role)
        for key, value in scope.items():  # family/inspector/partner/relay scope ids
            setattr(user, key, value)
        s.add(user)
        s.commit()
        s.refresh(user)
        return Principal.of(user)


async def _billing(world: BillingWorld, api: Api, client: Client) -> None:
    """A family with a SEPA mandate is billed by a cycle an operator starts through the API."""
    from tests.workflows.test_billing_cycle import CRECHE_AND_CANTINE, SEPT

    family = world.add_family("Temoin", CRECHE_AND_CANTINE, SEPT, email=PAYER[2], sms=True)
    with world.engine.begin() as c:
        c.execute(
            update(Payer)
            .where(Payer.account_id == family.account_id)  # type: ignore[arg-type]
            .values(first_name=PAYER[0], last_name=PAYER[1], phone=PAYER[3], address=PAYER_ADDRESS,
                    iban_last4=GOOD_IBAN[-4:])
        )  # fmt: skip
    world.add_family("Voisine", CRECHE_AND_CANTINE, SEPT)
    world.sepa_mandate(family, GOOD_IBAN)
    operator = _user(world, Role.billing_operator, "Opératrice", f"op-{uuid.uuid4().hex[:6]}@paris.example")
    async with api.client(operator) as op:
        r = await op.post("/api/billing/cycles", json={"period_key": SEPT.key, "batch_size": 10, "reason": "Cycle"})
        assert r.status_code == 202, r.text

        async def issued() -> bool:
            r = await op.get(f"/api/billing/cycles/{SEPT.key}")
            return r.status_code == 200 and r.json()["phase"] == "awaiting_due_date"

        await eventually(issued, timeout=60)
        number = world.invoice_of(family, SEPT.key).number
        r = await op.post(f"/api/billing/invoices/{number}/counter-payments",
                          json={"key": f"cheque-{number}", "method": "cheque", "amount_cents": 1000,
                                "reference": "CHQ 0012345"})  # fmt: skip
        assert r.status_code == 201, r.text


async def _audit(world: BillingWorld, api: Api, client: Client) -> None:
    """A campaign on two sites: the quality team starts it, the inspector accepts one task and declines one."""
    u = uuid.uuid4().hex[:6]
    today = datetime.now(UTC).astimezone(PARIS).date()
    with world.sessions() as s:
        ensure_bundled_referentiels(s)
        body = AuditBody(name=f"Organisme {u}", accreditation="COFRAC (test)", contact_email=f"org-{u}@test.fr")
        s.add(body)
        s.flush()
        assert body.id is not None
        sites = [
            AuditSite(ref=f"M{u}-{i}", name=f"Mairie {i}", site_type="mairie", arrondissement=12,
                      address=f"{i} avenue Daumesnil", manager_name=SITE_MANAGER[0], manager_email=SITE_MANAGER[1],
                      manager_phone=SITE_MANAGER[2])
            for i in range(2)
        ]  # fmt: skip
        inspectors = [
            AuditInspector(ref=f"I{u}-{k}", body_id=body.id, display_name=name, email=email, phone=phone,
                           capacity=5, arrondissements=[12], conflict_site_refs=[])
            for k, (name, email, phone) in enumerate([INSPECTOR])
        ]  # fmt: skip
        s.add_all([*sites, *inspectors])
        s.flush()
        campaign = AuditCampaign(name=f"Campagne {u}", referentiel_version="1", body_id=body.id, window_start=today,
                                 window_end=today + timedelta(days=20))  # fmt: skip
        s.add(campaign)
        s.flush()
        assert campaign.id is not None
        s.add_all(AuditCampaignSite(campaign_id=campaign.id, site_id=x.id, modes=["visit"]) for x in sites)  # type: ignore[arg-type]
        s.commit()
        campaign_id, inspector_id = campaign.id, inspectors[0].id
    quality = _user(world, Role.quality_team, "Cellule qualité", f"q-{u}@paris.example")
    inspector = _user(world, Role.inspector, INSPECTOR[0], INSPECTOR[1], inspector_id=inspector_id)
    async with api.client(quality) as q:
        r = await q.post(f"/api/qualiparis/campaigns/{campaign_id}/start")
        assert r.status_code == 202, r.text

    def opened() -> list[int]:
        with world.sessions() as s:
            rows = s.exec(
                select(AuditTask.id).where(
                    AuditTask.campaign_id == campaign_id,
                    AuditTask.inspector_id == inspector_id,
                    AuditTask.state == "assigned",
                )
            )
            return [int(i) for i in rows if i is not None]

    await eventually(lambda: len(opened()) == 2, timeout=60)
    first, second = opened()

    async def held() -> bool:  # the inspection workflows start after the plan, and follow it by a workflow task
        try:
            views = [
                await client.get_workflow_handle(inspection_id(t)).query(InspectionWorkflow.view)
                for t in (first, second)
            ]
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
            return False
        return all(v.inspector_id == inspector_id and v.status == "assigned" for v in views)

    await eventually(held)
    async with api.client(inspector) as insp:
        assert (await insp.get("/api/qualiparis/inspector/tasks")).status_code == 200
        r = await insp.post(f"/api/qualiparis/inspector/tasks/{first}/accept")
        assert r.status_code == 200, r.text
        r = await insp.post(f"/api/qualiparis/inspector/tasks/{second}/decline",
                            json={"reason": f"{INSPECTOR[0]} est en congé"})  # fmt: skip
        assert r.status_code == 200, r.text


async def _referral(world: BillingWorld, api: Api) -> None:
    """A case opened, referred, acknowledged and accepted by the partner, then closed, all through the API."""
    tag = uuid.uuid4().hex[:8]
    with world.sessions() as s:
        relay = RifRelay(code=f"R-{tag}", name="Relais test", arrondissement=12)
        s.add(relay)
        s.commit()
        relay_id = relay.id
    agent = _user(world, Role.rif_agent, "Agent RIF", f"agent-{tag}@paris.example", relay_id=relay_id)
    operator = _user(world, Role.operator, "Exploitation", f"ops-{tag}@paris.example")
    async with api.client(operator) as op:
        r = await op.post("/api/rif/directory/import", json=_hsds(tag))
        assert r.status_code == 200, r.text
    with world.sessions() as s:
        svc = s.exec(select(PartnerService).where(col(PartnerService.hsds_id) == f"svc-{tag}-0")).one()
        service_id, org_id = svc.id, svc.organization_id
    partner = _user(world, Role.partner, "Partenaire", f"p-{tag}@partenaires.example", partner_org_id=org_id)
    case = {
        "contact_name": FAMILY[0], "contact_email": FAMILY[1], "contact_phone": FAMILY[2],
        "preferred_channel": "sms", "arrondissement": 12, "needs": ["housing"], "situation": SITUATION,
        "partner_summary": f"{FAMILY[0]} cherche un hébergement",
        "consent": {"given_at": "2026-01-05T10:00:00+01:00",
                    "scope": ["share_with_partners", "follow_up", "status_link"]},
    }  # fmt: skip
    async with api.client(agent) as a, api.client(partner) as p:
        r = await a.post("/api/rif/cases", json=case)
        assert r.status_code == 201, r.text
        case_ref = r.json()["ref"]
        r = await a.post(f"/api/rif/cases/{case_ref}/referrals", json={"service_id": service_id, "need": "housing"})
        assert r.status_code == 201, r.text
        referral_ref = r.json()["ref"]
        assert (await p.post(f"/api/rif/partner/referrals/{referral_ref}/acknowledge")).status_code == 200
        day = (date.today() + timedelta(days=3)).isoformat()
        r = await p.post(f"/api/rif/partner/referrals/{referral_ref}/accept", json={"appointment_on": day})
        assert r.status_code == 200, r.text
        r = await a.post(f"/api/rif/cases/{case_ref}/close",
                         json={"outcome": "resolved", "comment": f"{FAMILY[0]} est relogée ({FAMILY[2]})"})  # fmt: skip
        assert r.status_code == 200, r.text


async def test_worker_and_api_logs_carry_no_personal_data(
    billing_world: BillingWorld,
    dev_env: WorkflowEnvironment,
    json_logs: io.StringIO,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Billing, audit and referral flows run; no captured line contains any seeded personal datum."""
    world, client = billing_world, dev_env.client
    api = Api(create_app(world.settings, temporal=client))
    async with running_worker(client, world):
        await _billing(world, api, client)
        await _audit(world, api, client)
        await _referral(world, api)
    out, err = capfd.readouterr()
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.startswith("{")]
    events = {str(e.get("event")) for e in lines}
    # the capture saw the worker's activities and the API of each process
    worker_events = ("billing.batch_issued", "audit.planned", "audit.reassigned", "referral.recorded")
    api_events = ("http.request", "audit.campaign_started", "referral.case_opened")
    for expected in (*worker_events, *api_events):
        assert expected in events, expected
    assert len(lines) > 50
    assert not _leaks(json_logs.getvalue() + out + err), _leaks(json_logs.getvalue() + out + err)
