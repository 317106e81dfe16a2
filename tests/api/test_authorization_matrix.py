"""Every route declares who may call it, every other role is refused, and foreign ids answer 404."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import func, insert, select

from api.deps import DB_ID_MAX
from api.security import Principal, require
from domain.payments import PaymentMethod
from services.audit import ensure_bundled_referentiels
from tests.accounts import session_token
from tests.api.authorization_matrix import (
    DOC_PATH,
    ROLES,
    RouteRule,
    render_markdown,
    route_rules,
    stale_declarations,
)
from tests.api.conftest import ClientFactory
from ville.db import SessionFactory
from ville.models.audit import (
    AuditBody,
    AuditCampaign,
    AuditInspector,
    AuditSite,
    AuditTask,
    ReferentielVersion,
)
from ville.models.billing import FamilyAccount, Invoice, Payment, PaymentStatus
from ville.models.people import Role, UserAccount
from ville.models.referrals import PartnerOrganization, PartnerService, Referral, ReferralCase, RifRelay

# scope ids that exist nowhere: a role's own routes must answer "nothing" for them, never another's data
NOBODY = 987_654_321


def principal_for(role: Role) -> Principal:
    """A principal of `role` scoped to ids that do not exist (admin has no scope)."""
    scoped = {
        Role.family: {"family_account_id": NOBODY},
        Role.inspector: {"inspector_id": NOBODY},
        Role.partner: {"partner_org_id": NOBODY},
        Role.rif_agent: {"relay_id": NOBODY},
        Role.coordinator: {"relay_id": NOBODY},
    }.get(role, {})
    return Principal(user_id=NOBODY, role=role, **scoped)


def _url(rule: RouteRule) -> str:
    # the largest id the API accepts: never a real row (small ids may be another test's running workflow)
    return re.sub(r"\{[^}]+\}", str(DB_ID_MAX), rule.path)


async def _call(client: httpx.AsyncClient, rule: RouteRule) -> httpx.Response:
    if rule.method in ("GET", "HEAD", "DELETE"):
        return await client.request(rule.method, _url(rule))
    return await client.request(rule.method, _url(rule), json={})


def _refused(rule: RouteRule, response: httpx.Response) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    if rule.kind == "page" and response.status_code == 422:
        # a page's form or JSON body is validated before its handler checks the session: an error, no data
        return "error" in response.text.lower() or "invalid" in response.text.lower()
    if rule.kind == "page" and response.status_code in (302, 303, 307):
        # pages send strangers to the sign-in page, and other roles to their own home
        location = response.headers.get("location", "")
        return location.split("?")[0] != _url(rule)
    return False


def test_every_route_declares_who_may_call_it(app: FastAPI) -> None:
    rules = route_rules(app)
    undeclared = [f"{r.method} {r.path}" for r in rules if r.kind == "undeclared"]
    assert undeclared == [], "declare these routes: require() dependency, PAGES or PUBLIC in authorization_matrix"
    assert stale_declarations(rules) == []
    assert len(rules) > 100


def test_a_route_added_without_a_rule_is_caught(app: FastAPI) -> None:
    extra = APIRouter()

    @extra.get("/api/nouveau")
    def nouveau() -> dict[str, str]:
        return {}

    @extra.get("/api/nouveau-protege", dependencies=[require(Role.operator)])
    def protege() -> dict[str, str]:
        return {}

    app.include_router(extra)
    by_path = {r.path: r for r in route_rules(app)}
    assert by_path["/api/nouveau"].kind == "undeclared"
    assert by_path["/api/nouveau-protege"].kind == "api"
    assert by_path["/api/nouveau-protege"].roles == {Role.operator, Role.admin}


def test_the_matrix_document_is_up_to_date(app: FastAPI) -> None:
    expected = render_markdown(route_rules(app))
    assert DOC_PATH.read_text(encoding="utf-8") == expected, (
        "docs/authorization.md is stale: run `python -m tests.api.authorization_matrix`"
    )


@pytest.mark.parametrize("role", [None, *ROLES], ids=lambda r: r.value if r else "anonymous")
async def test_each_role_is_refused_outside_its_routes_and_admitted_on_its_own(
    app: FastAPI, client_for: ClientFactory, role: Role | None
) -> None:
    client = client_for(principal_for(role) if role else None)
    checked = 0
    for rule in route_rules(app):
        if rule.kind in ("public", "undeclared") or rule.method == "*" or (rule.allows(role) and rule.method != "GET"):
            continue  # admitted writes are exercised by the area suites and schemathesis, not with dummy ids
        response = await _call(client, rule)
        assert response.status_code < 500, f"{rule.method} {rule.path} as {role}: {response.status_code}"
        if not rule.allows(role):
            assert _refused(rule, response), f"{rule.method} {rule.path} as {role}: {response.status_code}"
            if role is None and rule.kind == "api":
                assert response.status_code == 401
            checked += 1
        elif rule.method == "GET":
            # admitted: whatever the answer (empty list, 404 for the dummy id), it is not an authorization refusal
            assert response.status_code not in (401, 403), f"{rule.method} {rule.path} as {role}"
            if rule.kind == "page":
                assert not response.headers.get("location", "").startswith("/connexion")
            checked += 1
    assert checked > 0


def _seed_billing(sessions: SessionFactory, tag: str) -> tuple[int, int, str, str, int]:
    """Two family accounts, each with an invoice and a payment; answers (a, b, invoice a, invoice b, payment b)."""
    with sessions() as s, s.begin():
        base = (s.execute(select(func.max(FamilyAccount.id))).scalar() or 0) + 5000
        ids: list[int] = []
        payment_b = 0
        for k in range(2):
            acc = base + k
            s.execute(insert(FamilyAccount).values(id=acc, ref=f"FA-{acc:06d}", arrondissement=4))
            number = f"FF-2026-{tag}{k}"
            s.execute(
                insert(Invoice).values(
                    number=number,
                    account_id=acc,
                    period_key="2026-09",
                    period_start=date(2026, 9, 1),
                    period_end=date(2026, 10, 31),
                    issue_date=date(2026, 11, 2),
                    due_date=date(2026, 12, 28),
                    tranche=3,
                    lines_total_cents=4_200,
                    amount_due_cents=4_200,
                )
            )
            invoice_id = s.execute(select(Invoice.id).where(Invoice.number == number)).scalar_one()  # type: ignore[call-overload]
            s.execute(
                insert(Payment).values(
                    key=f"authz-{tag}-{k}",
                    invoice_id=invoice_id,
                    account_id=acc,
                    method=PaymentMethod.CHEQUE,
                    amount_cents=1_000,
                    status=PaymentStatus.succeeded,
                    reference=f"CHQ-{tag}-{k}",
                )
            )
            payment_b = s.execute(select(Payment.id).where(Payment.key == f"authz-{tag}-{k}")).scalar_one()  # type: ignore[call-overload]
            ids.append(acc)
    return ids[0], ids[1], f"FF-2026-{tag}0", f"FF-2026-{tag}1", payment_b


async def test_a_family_gets_404_for_another_familys_invoice_and_never_sees_its_payments(
    client_for: ClientFactory, sessions: SessionFactory
) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    mine, _, my_invoice, foreign_invoice, foreign_payment = _seed_billing(sessions, tag)
    family = client_for(Principal(user_id=NOBODY, role=Role.family, family_account_id=mine))
    assert (await family.get(f"/api/family/invoices/{my_invoice}")).status_code == 200
    for path in (f"/api/family/invoices/{foreign_invoice}", f"/api/family/invoices/{foreign_invoice}/pdf"):
        foreign = await family.get(path)
        assert foreign.status_code == 404
        assert foreign_invoice not in foreign.text
    card = await family.post(f"/api/family/invoices/{foreign_invoice}/card/setup", json={})
    assert card.status_code == 404
    payments = (await family.get("/api/family/payments")).json()
    assert payments and all(p["invoice_number"] == my_invoice for p in payments)
    assert foreign_payment not in {p["id"] for p in payments}
    # the page answers like a missing invoice too (the family's own session cookie)
    page = await family.get(f"/famille/factures/{foreign_invoice}")
    assert page.status_code == 404
    assert foreign_invoice not in page.text


def _seed_audit(sessions: SessionFactory, tag: str) -> tuple[int, int, int]:
    """Inspectors A and B and a task opened for B; answers (inspector a, inspector b, task of b)."""
    with sessions() as s:
        ensure_bundled_referentiels(s)
        version = s.execute(select(ReferentielVersion.version)).scalars().first()  # type: ignore[call-overload]
        assert version is not None
        body = AuditBody(name=f"Organisme {tag}", accreditation="test", contact_email=f"org-{tag}@test.fr")
        s.add(body)
        s.flush()
        assert body.id is not None
        a, b = (
            AuditInspector(
                ref=f"{x}{tag}",
                body_id=body.id,
                display_name=x,
                email=f"{x}-{tag}@test.fr",
                arrondissements=[5],
                conflict_site_refs=[],
            )
            for x in ("A", "B")
        )
        site = AuditSite(
            ref=f"M{tag}",
            name="Mairie",
            site_type="mairie",
            arrondissement=5,
            address="1 place X",
            manager_name="M",
            manager_email=f"m-{tag}@test.fr",
        )
        s.add_all([a, b, site])
        s.flush()
        campaign = AuditCampaign(
            name=f"Campagne {tag}",
            referentiel_version=version,
            body_id=body.id,
            window_start=date(2026, 9, 1),
            window_end=date(2026, 12, 31),
        )
        s.add(campaign)
        s.flush()
        assert campaign.id is not None and site.id is not None
        task = AuditTask(
            campaign_id=campaign.id,
            site_id=site.id,
            mode="visit",
            state="assigned",
            inspector_id=b.id,
            due_on=date(2026, 12, 1),
            opened_at=datetime.now(UTC),
        )
        s.add(task)
        s.commit()
        assert a.id is not None and b.id is not None and task.id is not None
        return a.id, b.id, task.id


async def test_inspector_a_gets_404_for_inspector_bs_task(client_for: ClientFactory, sessions: SessionFactory) -> None:
    a, b, task = _seed_audit(sessions, uuid.uuid4().hex[:6].upper())
    owner = client_for(Principal(user_id=NOBODY, role=Role.inspector, inspector_id=b))
    stranger = client_for(Principal(user_id=NOBODY + 1, role=Role.inspector, inspector_id=a))
    assert (await owner.get(f"/api/qualiparis/inspector/tasks/{task}")).status_code == 200
    assert (await stranger.get(f"/api/qualiparis/inspector/tasks/{task}")).status_code == 404
    assert (await stranger.post(f"/api/qualiparis/inspector/tasks/{task}/accept")).status_code == 404
    assert (await stranger.get("/api/qualiparis/inspector/tasks")).json()["tasks"] == []
    assert (await stranger.get(f"/inspecteur/missions/{task}")).status_code == 404


def _seed_referral(sessions: SessionFactory, tag: str) -> tuple[int, int, str]:
    """Partner organisations A and B and a referral sent to B; answers (org a, org b, referral ref)."""
    with sessions() as s:
        relay = RifRelay(code=f"R{tag}", name="Relais test")
        user = UserAccount(email=f"agent-{tag}@test.fr", display_name="Agent", role=Role.rif_agent)
        org_a = PartnerOrganization(hsds_id=f"org-a-{tag}", name="Association A")
        org_b = PartnerOrganization(hsds_id=f"org-b-{tag}", name="Association B")
        s.add_all([relay, user, org_a, org_b])
        s.flush()
        assert org_b.id is not None and relay.id is not None and user.id is not None
        service = PartnerService(hsds_id=f"svc-{tag}", organization_id=org_b.id, name="Service B")
        case = ReferralCase(ref=f"C{tag}", relay_id=relay.id, opened_by_user_id=user.id, contact_name="Famille")
        s.add_all([service, case])
        s.flush()
        assert service.id is not None and case.id is not None
        ref = f"RIF-{tag}-01"
        s.add(Referral(ref=ref, case_id=case.id, service_id=service.id, organization_id=org_b.id, need="housing"))
        s.commit()
        assert org_a.id is not None
        return org_a.id, org_b.id, ref


async def test_a_partner_gets_404_for_another_partners_referral(
    client_for: ClientFactory, sessions: SessionFactory
) -> None:
    a, b, ref = _seed_referral(sessions, uuid.uuid4().hex[:6].upper())
    owner = client_for(Principal(user_id=NOBODY, role=Role.partner, partner_org_id=b))
    stranger = client_for(Principal(user_id=NOBODY + 1, role=Role.partner, partner_org_id=a))
    assert (await owner.get(f"/api/rif/partner/referrals/{ref}")).status_code == 200
    foreign = await stranger.get(f"/api/rif/partner/referrals/{ref}")
    missing = await stranger.get("/api/rif/partner/referrals/RIF-0000-000000-00")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert (await stranger.post(f"/api/rif/partner/referrals/{ref}/acknowledge")).status_code == 404
    assert ref not in (await stranger.get("/api/rif/partner/referrals")).text


def test_failed_authorizations_are_logged_without_personal_data(app: FastAPI) -> None:
    from fastapi.testclient import TestClient
    from structlog.testing import capture_logs

    with TestClient(app) as client, capture_logs() as logs:
        client.get("/api/family/invoices/FF-2026-000042")
        client.get(
            "/api/family/invoices/FF-2026-000042",
            headers={"Authorization": f"Bearer {session_token(app, principal_for(Role.inspector))}"},
        )
        client.get("/famille/factures/FF-2026-000042", follow_redirects=False)  # a page: redirect, logged too
    refusals = [e for e in logs if e["event"] == "auth.refused"]
    assert [(e["log_level"], e["role"], e["reason"], e["route"]) for e in refusals] == [
        ("warning", "anonymous", "unauthenticated", "/api/family/invoices/{number}"),
        ("warning", "inspector", "forbidden_role", "/api/family/invoices/{number}"),
        ("warning", "anonymous", "unauthenticated", "/famille/factures/{number}"),
    ]
    assert "FF-2026-000042" not in repr(refusals) and str(NOBODY) not in repr(refusals)
