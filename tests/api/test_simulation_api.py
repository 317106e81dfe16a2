"""Tariff simulation API and page: roles, 422 naming the faulty field, content-derived simulation references."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, insert, select
from sqlmodel import col
from temporalio.client import Client

from api.security import SESSION_COOKIE, Principal
from domain.simulation import simulation_ref
from stack.billing_demo import GRIDS_FILE
from tests.accounts import session_token
from tests.api.conftest import ClientFactory
from ville.db import SessionFactory
from ville.ids import tariff_simulation_id
from ville.models.billing import FamilyAccount, Invoice
from ville.models.people import Role

URL = "/api/billing/simulations"
BILLED = "2030-01"  # far from the periods other tests bill in the shared database
OPERATOR = Principal(user_id=71, role=Role.billing_operator)
VOTED: dict[str, Any] = json.loads(GRIDS_FILE.read_text())[0]


def _billed_period(sessions: SessionFactory) -> None:
    """One invoice for BILLED, so that the period counts as billed."""
    with sessions() as s, s.begin():
        if s.execute(select(func.count()).select_from(Invoice).where(col(Invoice.period_key) == BILLED)).scalar_one():
            return
        acc_id = (s.execute(select(func.max(FamilyAccount.id))).scalar() or 0) + 5000
        s.execute(insert(FamilyAccount).values(id=acc_id, ref=f"FA-{acc_id:06d}", arrondissement=11))
        s.execute(
            insert(Invoice).values(
                number=f"FF-2030-{acc_id:06d}",
                account_id=acc_id,
                period_key=BILLED,
                period_start=date(2030, 1, 1),
                period_end=date(2030, 2, 28),
                issue_date=date(2030, 3, 1),
                due_date=date(2030, 4, 25),
                tranche=4,
                lines_total_cents=1_000,
                amount_due_cents=1_000,
            )
        )


def _grid(**prices: list[int]) -> dict[str, Any]:
    g = copy.deepcopy(VOTED)
    for code, per_tranche in prices.items():
        g["prices"][code]["per_tranche"] = per_tranche
    return g


async def test_only_billing_operators_and_operators(client_for: ClientFactory, sessions: SessionFactory) -> None:
    _billed_period(sessions)
    body = {"grid": VOTED, "periods": [BILLED]}
    assert (await client_for(None).post(URL, json=body)).status_code == 401
    for role in (Role.family, Role.quality_team, Role.inspector, Role.partner):
        c = client_for(Principal(user_id=72, role=role, family_account_id=1))
        assert (await c.post(URL, json=body)).status_code == 403, role
        assert (await c.get(f"{URL}/0123456789abcdef")).status_code == 403, role
        assert (await c.get(f"{URL}/0123456789abcdef/result")).status_code == 403, role
    page = await client_for(Principal(user_id=72, role=Role.family, family_account_id=1)).get("/operateur/simulations")
    assert page.status_code == 303 and "/operateur/simulations" not in page.headers["location"]


async def test_bad_grid_answers_422_with_the_field(client_for: ClientFactory, sessions: SessionFactory) -> None:
    _billed_period(sessions)
    c = client_for(OPERATOR)
    negative = _grid(cantine=[13, 85, 162, -1, 362, 459, 520, 562, 600, 700])
    decreasing = _grid(etude=[10, 40, 80, 130, 20, 260, 320, 360, 400, 450])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"grid": negative}, "body.grid.prices.cantine.per_tranche[3]"),
        ({"grid": _grid(cantine=[13, 85, 162])}, "body.grid.prices.cantine.per_tranche"),
        ({"grid": decreasing}, "body.grid.prices.etude.per_tranche[4]"),
        ({"grid": {**VOTED, "effective_from": "01/09/2027"}}, "body.grid.effective_from"),
        ({"grid": None}, "body.grid"),
        ({"grid_id": "inconnue"}, "body.grid_id"),
    ]
    for extra, field in cases:
        answer = await c.post(URL, json={"periods": [BILLED], **extra})
        assert answer.status_code == 422, (field, answer.text)
        assert [f["field"] for f in answer.json()["error"]["fields"]] == [field]


async def test_periods_must_be_billed(client_for: ClientFactory, sessions: SessionFactory) -> None:
    _billed_period(sessions)
    c = client_for(OPERATOR)
    for periods in (["2031-01"], ["2030-13"], [BILLED, "2031-03"], []):
        answer = await c.post(URL, json={"grid": VOTED, "periods": periods})
        assert answer.status_code == 422, periods
        assert answer.json()["error"]["fields"][0]["field"] == "body.periods"


async def test_start_is_content_addressed_and_status_known(
    client_for: ClientFactory, sessions: SessionFactory, temporal_client: Client
) -> None:
    _billed_period(sessions)
    c = client_for(Principal(user_id=73, role=Role.operator))
    grid = _grid(creche=[4000, 7000, 11000, 17000, 25000, 32000, 41000, 50000, 60000, 72000])
    first = await c.post(URL, json={"grid": grid, "periods": [BILLED]})
    assert first.status_code == 202, first.text
    ref = first.json()["simulation_ref"]
    assert ref == simulation_ref(grid, [BILLED]) and first.json()["workflow_id"] == tariff_simulation_id(ref)
    again = await c.post(URL, json={"grid": grid, "periods": [BILLED, BILLED]})
    assert again.status_code == 202 and again.json()["simulation_ref"] == ref
    handle = temporal_client.get_workflow_handle(tariff_simulation_id(ref))
    try:
        assert (await handle.describe()).id == tariff_simulation_id(ref)
        # no worker on this task queue: the status says it runs; the result is not there yet
        result = await c.get(f"{URL}/{ref}/result")
        assert result.status_code == 409
    finally:
        await handle.terminate("test done")
    assert (await c.get(f"{URL}/ffffffffffffffff")).status_code == 404
    assert (await c.get(f"{URL}/not-a-ref")).status_code == 404
    failed = await c.get(f"{URL}/{ref}")
    assert failed.status_code == 200 and failed.json()["status"] == "echec"


async def test_console_form_and_its_errors(app: FastAPI, sessions: SessionFactory) -> None:
    _billed_period(sessions)
    token = session_token(app, OPERATOR)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", cookies={SESSION_COOKIE: token}
    ) as c:
        page = await c.get("/operateur/simulations")
        assert page.status_code == 200
        assert 'name="grid_json"' in page.text and f'value="{BILLED}"' in page.text
        csrf = app.state.signer.csrf_token(token)
        bad_json = await c.post(
            "/operateur/simulations", data={"csrf": csrf, "grid_json": "{ pas du json", "periods": [BILLED]}
        )
        assert bad_json.status_code == 422 and "JSON invalide" in bad_json.text
        bad_grid = _grid(cantine=[13, 85, 162, -1, 362, 459, 520, 562, 600, 700])
        refused = await c.post(
            "/operateur/simulations", data={"csrf": csrf, "grid_json": json.dumps(bad_grid), "periods": [BILLED]}
        )
        assert refused.status_code == 422 and "prices.cantine.per_tranche[3]" in refused.text
        forged = await c.post("/operateur/simulations", data={"csrf": "x", "grid_json": "{}", "periods": [BILLED]})
        assert forged.status_code == 403
