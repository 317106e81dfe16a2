"""Billing API: a family sees only its own invoices; webhooks are verified and stored once."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import date

from sqlalchemy import func, insert, select

from api.security import Principal
from domain.dunning import InvoiceStatus
from ville.db import SessionFactory
from ville.models.billing import FamilyAccount, Invoice, StripeEvent
from ville.models.people import Role
from ville.settings import Settings


def _account_with_invoice(sessions: SessionFactory, number: str, status: InvoiceStatus = InvoiceStatus.ISSUED) -> int:
    with sessions() as s, s.begin():
        acc_id = (s.execute(select(func.max(FamilyAccount.id))).scalar() or 0) + 2000
        s.execute(insert(FamilyAccount).values(id=acc_id, ref=f"FA-{acc_id:06d}", arrondissement=4))
        s.execute(
            insert(Invoice).values(
                number=number,
                account_id=acc_id,
                period_key="2026-09",
                period_start=date(2026, 9, 1),
                period_end=date(2026, 10, 31),
                issue_date=date(2026, 11, 2),
                due_date=date(2026, 12, 28),
                tranche=3,
                lines_total_cents=4_200,
                amount_due_cents=4_200,
                status=status,
            )
        )
        return acc_id


async def test_family_sees_only_its_own_invoices(client_for, sessions: SessionFactory) -> None:  # type: ignore[no-untyped-def]
    mine = _account_with_invoice(sessions, "FF-2026-900001")
    other = _account_with_invoice(sessions, "FF-2026-900002")
    family = client_for(Principal(user_id=1, role=Role.family, family_account_id=mine))
    listed = (await family.get("/api/family/invoices")).json()
    assert [i["number"] for i in listed] == ["FF-2026-900001"]
    assert (await family.get("/api/family/invoices/FF-2026-900001")).status_code == 200
    # another family's invoice answers exactly like a missing one
    foreign = await family.get("/api/family/invoices/FF-2026-900002")
    missing = await family.get("/api/family/invoices/FF-2026-999999")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert (
        await family.post(
            "/api/family/invoices/FF-2026-900002/card", json={"payment_method_id": "pm_x", "amount_cents": 100}
        )
    ).status_code == 404
    assert other != mine


async def test_operators_only_and_validation_names_the_field(client_for) -> None:  # type: ignore[no-untyped-def]
    family = client_for(Principal(user_id=1, role=Role.family, family_account_id=1))
    assert (await family.post("/api/billing/cycles", json={"period_key": "2026-09"})).status_code == 403
    assert (await client_for(None).get("/api/family/invoices")).status_code == 401
    operator = client_for(Principal(user_id=2, role=Role.billing_operator))
    bad = await operator.post("/api/billing/cycles", json={"period_key": "2026-10", "reason": "Essai"})
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "body.period_key"
    card = await client_for(Principal(user_id=1, role=Role.family, family_account_id=1)).post(
        "/api/family/invoices/FF-2026-900001/card", json={"payment_method_id": "nope", "amount_cents": -1}
    )
    assert card.status_code == 422
    assert {f["field"] for f in card.json()["error"]["fields"]} == {"body.payment_method_id", "body.amount_cents"}


async def test_transferred_invoice_cannot_be_paid_online(client_for, sessions: SessionFactory) -> None:  # type: ignore[no-untyped-def]
    acc = _account_with_invoice(sessions, "FF-2026-900003", InvoiceStatus.TRANSFERRED)
    family = client_for(Principal(user_id=1, role=Role.family, family_account_id=acc))
    r = await family.post(
        "/api/family/invoices/FF-2026-900003/card", json={"payment_method_id": "pm_x", "amount_cents": 100}
    )
    assert r.status_code == 409 and "Trésor Public" in r.json()["error"]["message"]


def _signed(settings: Settings, payload: bytes, at: int | None = None, secret: str | None = None) -> dict[str, str]:
    t = at if at is not None else int(time.time())
    key = (secret or settings.stripe_webhook_secret.get_secret_value()).encode()
    sig = hmac.new(key, f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"stripe-signature": f"t={t},v1={sig}", "content-type": "application/json"}


def _event(event_id: str) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "customer.created",
            "data": {"object": {"id": "cus_test", "object": "customer"}},
        }
    ).encode()


def _stored(sessions: SessionFactory, event_id: str) -> int:
    with sessions() as s:
        return s.execute(
            select(func.count()).select_from(StripeEvent).where(StripeEvent.event_id == event_id)
        ).scalar_one()


async def test_webhooks_are_verified_and_stored_once(client_for, settings: Settings, sessions: SessionFactory) -> None:  # type: ignore[no-untyped-def]
    c = client_for(None)
    body = _event("evt_test_once")
    forged = await c.post("/webhooks/stripe", content=body, headers=_signed(settings, body, secret="whsec_forged"))
    stale = await c.post("/webhooks/stripe", content=body, headers=_signed(settings, body, at=int(time.time()) - 3600))
    assert forged.status_code == stale.status_code == 400
    assert _stored(sessions, "evt_test_once") == 0
    first = await c.post("/webhooks/stripe", content=body, headers=_signed(settings, body))
    replay = await c.post("/webhooks/stripe", content=body, headers=_signed(settings, body))
    assert (first.json()["status"], replay.json()["status"]) == ("accepted", "duplicate")
    assert _stored(sessions, "evt_test_once") == 1
