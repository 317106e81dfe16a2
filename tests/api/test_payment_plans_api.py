"""Payment plans API: a family asks only for its own invoice, bad input names the field, the billing team decides."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.worker import Worker

from activities.registry import build_activities
from api.security import Principal
from tests.api.test_contests_api import _invoice
from ville.db import SessionFactory
from ville.models.payment_plans import PaymentPlan
from ville.models.people import OperatorAuditLog, Role
from ville.settings import Settings
from workflows.registry import WORKFLOWS

REASON = "Perte d'emploi, nous ne pouvons pas tout payer d'un coup."


async def test_a_family_asks_for_a_plan_and_the_billing_team_decides(  # type: ignore[no-untyped-def]
    client_for, sessions: SessionFactory, settings: Settings, temporal_client: Client
) -> None:
    mine, number = _invoice(sessions)  # 312 €
    other, foreign = _invoice(sessions)
    family = client_for(Principal(user_id=7201, role=Role.family, family_account_id=mine))
    url = f"/api/family/invoices/{number}/payment-plan"

    # another family's invoice answers exactly like a missing one
    refused = await family.post(f"/api/family/invoices/{foreign}/payment-plan", json={"count": 3, "reason": REASON})
    missing = await family.post("/api/family/invoices/FF-2026-999999/payment-plan", json={"count": 3, "reason": REASON})
    assert refused.status_code == missing.status_code == 404 and refused.json() == missing.json()

    # bad input: 422 naming the field
    for body, field in (
        ({"count": 7, "reason": REASON}, "body.count"),
        ({"count": 1, "reason": REASON}, "body.count"),
        ({"count": "3", "reason": REASON}, "body.count"),
        ({"count": 3, "reason": "court"}, "body.reason"),
    ):
        r = await family.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in {f["field"] for f in r.json()["error"]["fields"]}, r.text
    with sessions() as s:
        count = select(func.count()).select_from(PaymentPlan).where(PaymentPlan.invoice_number == number)
        assert s.execute(count).scalar_one() == 0

    executor = ThreadPoolExecutor(max_workers=4)
    worker = Worker(
        temporal_client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(settings, temporal_client),
        activity_executor=executor,
    )
    created = await family.post(url, json={"count": 3, "reason": REASON})
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["id"] == f"payment-plan-{number}-1" and plan["status"] == "requested" and plan["instalments"] == []
    try:
        described = await temporal_client.get_workflow_handle(plan["id"]).describe()
        assert described.workflow_type == "PaymentPlanWorkflow"
        again = await family.post(url, json={"count": 2, "reason": REASON})
        assert again.status_code == 422 and "déjà demandé" in again.text

        # the family lists its own plans only
        assert [p["id"] for p in (await family.get("/api/family/payment-plans")).json()] == [plan["id"]]
        stranger = client_for(Principal(user_id=7202, role=Role.family, family_account_id=other))
        assert (await stranger.get("/api/family/payment-plans")).json() == []

        # the queue and the decision are for the billing team only
        assert (await family.get("/api/billing/payment-plans")).status_code == 403
        operator = client_for(Principal(user_id=7203, role=Role.billing_operator))
        assert plan["id"] in [p["id"] for p in (await operator.get("/api/billing/payment-plans")).json()]
        decision = f"/api/billing/payment-plans/{plan['id']}/decision"
        ok = {"kind": "adjust", "count": 4, "answer": "Accordé en quatre fois.", "reason": "Situation vérifiée"}
        assert (await family.post(decision, json=ok)).status_code == 403
        bad = await operator.post(decision, json={**ok, "count": 9})
        assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "body.count"
        unknown = await operator.post("/api/billing/payment-plans/payment-plan-FF-2026-000000-9/decision", json=ok)
        assert unknown.status_code == 404

        async with worker:
            decided = await operator.post(decision, json=ok)
            assert decided.status_code == 200, decided.text
            body = decided.json()
            assert body["status"] == "approved" and len(body["instalments"]) == 4
            assert sum(i["amount_cents"] for i in body["instalments"]) == 31_200
            again = await operator.post(decision, json=ok)
            assert again.status_code == 409
        with sessions() as s:
            journal = s.execute(select(OperatorAuditLog).where(OperatorAuditLog.target == plan["id"])).scalar_one()
        assert journal.action == "payment_plan.decide" and journal.reason == "Situation vérifiée"
        mine_now = (await family.get("/api/family/payment-plans")).json()[0]
        assert mine_now["status"] == "approved" and [i["status"] for i in mine_now["instalments"]] == ["upcoming"] * 4

        # the API's metrics count running plans
        metrics = (await client_for(None).get("/metrics")).text
        running = re.search(r'^ville_payment_plans\{status="approved"\} (\d+)', metrics, re.M)
        assert running is not None and int(float(running.group(1))) >= 1
    finally:
        await temporal_client.get_workflow_handle(plan["id"]).terminate("fin du test")
        executor.shutdown()
