"""Sessions end at sign-out and with their account; cookie writes come from this site; no personal answer is cached."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from api.security import SESSION_COOKIE, Principal
from tests.accounts import session_token
from ville.models.people import Role, UserAccount

INSPECTOR = Principal(user_id=9201, role=Role.inspector, inspector_id=1)
ACCEPT = "/api/qualiparis/inspector/tasks/2147483000/accept"


def _browser(app: FastAPI) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    client.cookies.set(SESSION_COOKIE, session_token(app, INSPECTOR))
    return client


async def test_cookie_write_from_another_site_is_refused_before_the_route(app: FastAPI) -> None:
    async with _browser(app) as c:
        forged = await c.post(
            ACCEPT,
            content="x=1",
            headers={"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert forged.status_code == 403
        assert "ne vient pas de ce site" in forged.text
        # no Origin but the browser says cross-site (older form posts): refused too
        assert (await c.post(ACCEPT, headers={"Sec-Fetch-Site": "cross-site"})).status_code == 403
        # from this site the request reaches the route (the task does not exist: 404)
        assert (await c.post(ACCEPT, headers={"Origin": "http://testserver"})).status_code == 404
        assert (await c.post(ACCEPT, headers={"Sec-Fetch-Site": "same-origin"})).status_code == 404


async def test_bearer_and_read_requests_are_not_cross_site_writes(app: FastAPI) -> None:
    token = session_token(app, INSPECTOR)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        bearer = await c.post(ACCEPT, headers={"Origin": "https://evil.example", "Authorization": f"Bearer {token}"})
        assert bearer.status_code == 404
    async with _browser(app) as c:
        assert (await c.get("/api/qualiparis/inspector/tasks", headers={"Origin": "https://evil.example"})).is_success


async def test_personal_answers_are_not_stored_by_caches(app: FastAPI) -> None:
    async with _browser(app) as c:
        tasks = await c.get("/api/qualiparis/inspector/tasks")
        assert tasks.status_code == 200
        assert tasks.headers["cache-control"] == "no-store"
        page = await c.get("/inspecteur/missions")
        assert page.headers["cache-control"] == "no-store"
        static = await c.get("/static/site.css")
        assert static.status_code == 200
        assert "no-store" not in static.headers.get("cache-control", "")


async def test_sign_out_revokes_the_token_as_cookie_and_as_bearer(app: FastAPI) -> None:
    token = session_token(app, INSPECTOR)
    bearer = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        assert (await c.get("/api/qualiparis/inspector/tasks", headers=bearer)).status_code == 200
        # another session of the same person stays open
        other = {"Authorization": f"Bearer {session_token(app, INSPECTOR)}"}
        c.cookies.set(SESSION_COOKIE, token)
        assert (await c.post("/auth/logout", headers={"Origin": "http://testserver"})).status_code == 303
        c.cookies.clear()
        assert (await c.get("/api/qualiparis/inspector/tasks", headers=bearer)).status_code == 401
        c.cookies.set(SESSION_COOKIE, token)
        assert (await c.get("/api/qualiparis/inspector/tasks")).status_code == 401
        c.cookies.clear()
        assert (await c.get("/api/qualiparis/inspector/tasks", headers=other)).status_code == 200


async def test_a_token_for_a_missing_or_disabled_account_is_refused(app: FastAPI) -> None:
    ghost = app.state.signer.session_token(Principal(user_id=2_000_000_001, role=Role.operator))
    token = session_token(app, Principal(user_id=9202, role=Role.operator))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        assert (await c.get("/api/billing/journal", headers={"Authorization": f"Bearer {ghost}"})).status_code == 401
        assert (await c.get("/api/billing/journal", headers={"Authorization": f"Bearer {token}"})).status_code == 200
        with app.state.sessions() as s, s.begin():
            s.get_one(UserAccount, 9202).active = False
        assert (await c.get("/api/billing/journal", headers={"Authorization": f"Bearer {token}"})).status_code == 401
