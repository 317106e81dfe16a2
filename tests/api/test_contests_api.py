"""Contests API: a family contests only its own invoice's lines, with checked documents; operators only decide."""

from __future__ import annotations

import re
import uuid
from datetime import date

from sqlalchemy import func, insert, select
from temporalio.client import Client

from api.security import Principal
from ville.aws import aws_client
from ville.db import SessionFactory
from ville.models.billing import FamilyAccount, Invoice, InvoiceLine
from ville.models.contests import InvoiceContest
from ville.models.people import OperatorAuditLog, Role
from ville.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TEXT = "Mon fils était malade toute la semaine du 14."


def _invoice(sessions: SessionFactory) -> tuple[int, str]:
    """A family account with an issued invoice of two activities (crèche 300 €, cantine 12 €)."""
    with sessions() as s, s.begin():
        acc = (s.execute(select(func.max(FamilyAccount.id))).scalar() or 0) + 3000
        s.execute(insert(FamilyAccount).values(id=acc, ref=f"FA-{acc:06d}", arrondissement=4))
        number = f"FF-2026-{uuid.uuid4().int % 10**6:06d}"
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
                lines_total_cents=31_200,
                amount_due_cents=31_200,
            )
        )
        invoice_id = s.execute(select(Invoice.id).where(Invoice.number == number)).scalar_one()  # type: ignore[call-overload]
        for code, amount in (("creche", 30_000), ("cantine", 1_200)):
            s.execute(
                insert(InvoiceLine).values(
                    invoice_id=invoice_id,
                    child_ref="EN-0000001",
                    child_first_name="Léo",
                    activity_code=code,
                    label=code.capitalize(),
                    quantity=1,
                    unit_price_cents=amount,
                    amount_cents=amount,
                )
            )
    return acc, number


def _form(codes: list[str], reason: str = "absence_enfant", text: str = TEXT) -> dict[str, object]:
    return {"activity_codes": codes, "reason": reason, "text": text}


async def test_a_family_contests_its_own_lines_with_a_checked_document(  # type: ignore[no-untyped-def]
    client_for, sessions: SessionFactory, settings: Settings, temporal_client: Client
) -> None:
    mine, number = _invoice(sessions)
    other, foreign = _invoice(sessions)
    family = client_for(Principal(user_id=7101, role=Role.family, family_account_id=mine))
    url = f"/api/family/invoices/{number}/contests"

    # another family's invoice answers exactly like a missing one
    refused = await family.post(f"/api/family/invoices/{foreign}/contests", data=_form(["cantine"]))
    missing = await family.post("/api/family/invoices/FF-2026-999999/contests", data=_form(["cantine"]))
    assert refused.status_code == missing.status_code == 404 and refused.json() == missing.json()

    # validation names the field, in French
    for form, files, field, words in (
        (_form(["piscine"]), None, "body.activity_codes", "Ligne inconnue"),
        (_form([]), None, "body.activity_codes", None),
        (_form(["cantine"], text="court"), None, "body.text", "entre 10 et 2000"),
        (_form(["cantine"], reason="pas_content"), None, "body.reason", None),
        (_form(["cantine"]), {"document": ("a.png", b"GIF89a-not-a-png", "image/png")}, "body.document", "Contenu"),
        (_form(["cantine"]), {"document": ("a.pdf", PNG, "application/pdf")}, "body.document", "pas un PDF"),
        (_form(["cantine"]), {"document": ("vide.png", b"", "image/png")}, "body.document", "Fichier vide"),
    ):
        r = await family.post(url, data=form, files=files)
        assert r.status_code == 422, (form, r.text)
        fields = {f["field"]: f["message"] for f in r.json()["error"]["fields"]}
        assert field in fields, (field, fields)
        assert words is None or words in fields[field]
    with sessions() as s:
        assert s.execute(select(func.count()).select_from(InvoiceContest)
                         .where(InvoiceContest.invoice_number == number)).scalar_one() == 0  # fmt: skip

    created = await family.post(url, data=_form(["cantine"]), files={"document": ("photo.png", PNG, "image/png")})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == f"contest-{number}-1" and body["lines"] == {"cantine": 1_200}
    assert body["status"] == "open" and body["has_document"] and body["reason_label"] == "Absence de l'enfant"
    try:
        with sessions() as s:
            row = s.execute(select(InvoiceContest).where(InvoiceContest.ref == body["id"])).scalar_one()
        # the key is drawn by the server, never from the client's file name; the bytes are stored as received
        assert (
            row.document_key and row.document_key.startswith(f"contests/{number}/") and "photo" not in row.document_key
        )
        stored = aws_client(settings, "s3").get_object(Bucket=settings.s3_bucket, Key=row.document_key)
        assert stored["Body"].read() == PNG and stored["ContentType"] == "image/png"
        described = await temporal_client.get_workflow_handle(body["id"]).describe()
        assert described.workflow_type == "LineContestWorkflow"

        # the same line cannot be contested twice while open; another line can
        again = await family.post(url, data=_form(["cantine"]))
        assert again.status_code == 422 and "déjà en cours" in again.text

        # the family lists its own contests only
        listed = (await family.get("/api/family/contests")).json()
        assert [c["id"] for c in listed] == [body["id"]]
        stranger = client_for(Principal(user_id=7102, role=Role.family, family_account_id=other))
        assert (await stranger.get("/api/family/contests")).json() == []

        # the queue is for billing operators only, with age and deadline
        assert (await family.get("/api/billing/contests")).status_code == 403
        operator = client_for(Principal(user_id=7103, role=Role.billing_operator))
        queue = {c["id"]: c for c in (await operator.get("/api/billing/contests")).json()}
        assert queue[body["id"]]["age_days"] == 0 and queue[body["id"]]["overdue"] is False
        assert date.fromisoformat(queue[body["id"]]["deadline"]) > date.fromisoformat(queue[body["id"]]["opened_on"])

        # the API's metrics count open contests and their age (a histogram, in days)
        metrics = (await client_for(None).get("/metrics")).text
        opened = re.search(r'^ville_contests_open\{status="open"\} (\d+)', metrics, re.M)
        assert opened is not None and int(float(opened.group(1))) >= 1
        assert re.search(r'^ville_contests_open_age_days_bucket\{le="1"\} [1-9]', metrics, re.M)

        # a family cannot decide; a decision without a written answer or a reason is refused before Temporal
        decision = f"/api/billing/contests/{body['id']}/decision"
        ok = {"kind": "refuse", "answer": "Les repas ont été servis.", "reason": "Vérifié"}
        assert (await family.post(decision, json=ok)).status_code == 403
        short = await operator.post(decision, json={**ok, "answer": "Non."})
        assert short.status_code == 422 and short.json()["error"]["fields"][0]["field"] == "body.answer"
        text_amount = await operator.post(
            decision, json={**ok, "kind": "accept_partial", "amounts_by_activity": {"cantine": "5"}}
        )
        assert text_amount.status_code == 422
        unknown = await operator.post("/api/billing/contests/contest-FF-2026-000000-9/decision", json=ok)
        assert unknown.status_code == 404
        with sessions() as s:
            assert not s.execute(select(OperatorAuditLog).where(OperatorAuditLog.target == body["id"])).first()
    finally:
        await temporal_client.get_workflow_handle(body["id"]).terminate("fin du test")
