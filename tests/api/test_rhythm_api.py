"""A family sets its own rhythm; operators see how many messages wait and when they go."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

from sqlalchemy import delete

from api.security import Principal
from domain.rhythm import Rhythm, Window
from services.delivery import load_rhythms
from ville.db import SessionFactory
from ville.models.people import Role
from ville.models.rhythm import ScheduledNotification


async def test_a_family_sets_its_rhythm_and_the_notifier_reads_it(client_for, sessions: SessionFactory) -> None:  # type: ignore[no-untyped-def]
    account = 700_000 + uuid.uuid4().int % 100_000
    family = client_for(Principal(user_id=1, role=Role.family, family_account_id=account))
    before = (await family.get("/api/family/preferences/rhythm")).json()
    assert [(c["channel"], c["quiet_start"], c["quiet_end"], c["customised"]) for c in before["channels"]] == [
        ("email", "21:00", "08:00", False),
        ("sms", "21:00", "08:00", False),
    ]
    body = {
        "channel": "sms",
        "quiet_start": "22:00",
        "quiet_end": "11:00",
        "preferred_windows": ["12:00-14:00", "18:30-20:00"],
        "sms_on_rest_days": True,
    }
    answer = await family.put("/api/family/preferences/rhythm", json=body)
    assert answer.status_code == 200
    sms = answer.json()["channels"][1]
    assert sms["customised"] and sms["preferred_windows"] == ["12:00-14:00", "18:30-20:00"]
    with sessions() as s:
        rhythms = load_rhythms(s, {("payer", account)})
    assert rhythms == {
        ("payer", account, "sms"): Rhythm(
            quiet=Window(time(22, 0), time(11, 0)),
            preferred=(Window(time(12, 0), time(14, 0)), Window(time(18, 30), time(20, 0))),
            sms_on_rest_days=True,
        )
    }
    # setting it again updates the same row
    body["preferred_windows"] = []
    assert (await family.put("/api/family/preferences/rhythm", json=body)).json()["channels"][1][
        "preferred_windows"
    ] == []

    bad = await family.put("/api/family/preferences/rhythm", json={**body, "preferred_windows": ["12h-14h"]})
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "preferred_windows"
    no_slot = await family.put("/api/family/preferences/rhythm", json={**body, "preferred_windows": ["23:00-23:30"]})
    assert no_slot.status_code == 422 and no_slot.json()["error"]["fields"][0]["field"] == "preferred_windows"
    bad_tz = await family.put("/api/family/preferences/rhythm", json={**body, "timezone": "Mars/Olympus"})
    assert bad_tz.status_code == 422 and bad_tz.json()["error"]["fields"][0]["field"] == "timezone"


async def test_operators_see_the_waiting_messages_per_instant(client_for, sessions: SessionFactory) -> None:  # type: ignore[no-untyped-def]
    morning, lunch = datetime(2031, 3, 4, 7, 0, tzinfo=UTC), datetime(2031, 3, 4, 11, 15, tzinfo=UTC)
    tag = uuid.uuid4().hex[:8]
    with sessions() as s:
        s.execute(delete(ScheduledNotification))
        for n, (due, channel, status) in enumerate(
            [
                (morning, "email", "waiting"),
                (morning, "sms", "waiting"),
                (morning, "email", "waiting"),
                (lunch, "email", "waiting"),
                (lunch, "email", "sent"),
            ]
        ):
            s.add(
                ScheduledNotification(
                    key=f"op-{tag}-{n}",
                    due_at=due,
                    channel=channel,
                    template="invoice_reminder",
                    recipient_kind="payer",
                    recipient_id=n,
                    subject_ref="FF",
                    status=status,
                )
            )
        s.commit()
    assert (await client_for(Principal(user_id=1, role=Role.family, family_account_id=1)).get(
        "/api/operator/notifications/pending")).status_code == 403  # fmt: skip
    operator = client_for(Principal(user_id=2, role=Role.operator))
    answer = (await operator.get("/api/operator/notifications/pending")).json()
    assert answer["total"] == 4
    assert answer["next_due_at"] == morning.isoformat()
    assert [(i["due_at_paris"], i["count"], i["by_channel"]) for i in answer["instants"]] == [
        ("04/03/2031 08:00", 3, {"email": 2, "sms": 1}),
        ("04/03/2031 12:15", 1, {"email": 1}),
    ]
