"""Attendance in: per-record errors, good records kept, duplicates harmless, CSV and queue paths."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select

from api.security import Principal
from services.attendance import AttendanceIngest, AttendanceQueueConsumer
from ville.aws import aws_client
from ville.db import SessionFactory
from ville.models.billing import Activity, Attendance, Child, FamilyAccount
from ville.models.people import Role
from ville.settings import Settings

OPERATOR = Principal(user_id=9001, role=Role.billing_operator)
FAMILY = Principal(user_id=9002, role=Role.family, family_account_id=1)


def _child(sessions: SessionFactory) -> str:
    with sessions() as s, s.begin():
        if s.get(Activity, "cantine") is None:
            s.execute(insert(Activity).values(code="cantine", label="Restauration scolaire", family="restauration"))
        acc_id = (s.execute(select(func.max(FamilyAccount.id))).scalar() or 0) + 1000
        s.execute(insert(FamilyAccount).values(id=acc_id, ref=f"FA-{acc_id:06d}", arrondissement=11))
        s.execute(
            insert(Child).values(
                id=acc_id * 10,
                account_id=acc_id,
                ref=f"EN-{acc_id * 10:07d}",
                first_name="Inès",
                last_name="Pointage",
                birth_date=date(2018, 1, 1),
            )
        )
        return f"EN-{acc_id * 10:07d}"


def _count(sessions: SessionFactory, ref: str) -> int:
    with sessions() as s:
        return s.execute(
            select(func.count())
            .select_from(Attendance)
            .join(Child, Child.id == Attendance.child_id)
            .where(Child.ref == ref)
        ).scalar_one()


async def test_bulk_json_keeps_good_records_and_names_bad_fields(client_for, sessions: SessionFactory) -> None:  # type: ignore[no-untyped-def]
    ref = _child(sessions)
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    body = {
        "records": [
            {"child_ref": ref, "activity_code": "cantine", "day": yesterday},
            {"child_ref": ref, "activity_code": "cantine", "day": "2026-02-30"},
            {"child_ref": "EN-9999999", "activity_code": "cantine", "day": yesterday},
            {"child_ref": ref, "activity_code": "piscine", "day": yesterday},
        ]
    }
    c = client_for(OPERATOR)
    first = (await c.post("/api/attendance", json=body)).json()
    assert first["accepted"] == 1
    assert [(e["index"], e["field"]) for e in first["errors"]] == [(1, "day"), (2, "child_ref"), (3, "activity_code")]
    again = (await c.post("/api/attendance", json=body)).json()
    assert again["accepted"] == 0 and again["duplicates"] == 1
    assert _count(sessions, ref) == 1


async def test_families_cannot_send_attendance(client_for) -> None:  # type: ignore[no-untyped-def]
    assert (await client_for(FAMILY).post("/api/attendance", json={"records": []})).status_code == 403
    assert (await client_for(None).post("/api/attendance", json={"records": []})).status_code == 401


async def test_csv_import(client_for, sessions: SessionFactory) -> None:  # type: ignore[no-untyped-def]
    ref = _child(sessions)
    day = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    csv_text = f"child_ref;activity_code;day;registered\n{ref};cantine;{day};non\n{ref};cantine;demain;oui\n"
    r = await client_for(OPERATOR).post("/api/attendance/csv", files={"file": ("p.csv", csv_text, "text/csv")})
    assert r.status_code == 200
    assert r.json()["accepted"] == 1 and r.json()["errors"][0]["field"] == "day"
    wrong = await client_for(OPERATOR).post("/api/attendance/csv", files={"file": ("p.png", b"\x89PNG", "image/png")})
    assert wrong.status_code == 415


def test_queue_consumer_ingests_and_deletes(settings: Settings, sessions: SessionFactory) -> None:
    ref = _child(sessions)
    sqs = aws_client(settings, "sqs")
    url = sqs.create_queue(QueueName="test-attendance")["QueueUrl"]
    day = (datetime.now(UTC).date() - timedelta(days=3)).isoformat()
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps([{"child_ref": ref, "activity_code": "cantine", "day": day}]))
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    consumer = AttendanceQueueConsumer(sqs, url, AttendanceIngest(sessions))
    result = consumer.poll_once(datetime.now(UTC).date(), wait_seconds=1)
    assert result.accepted == 1
    assert _count(sessions, ref) == 1
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
