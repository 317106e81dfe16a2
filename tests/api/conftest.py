"""API fixtures: the app on the test stack, and clients signed in as a given principal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from api.app import create_app
from api.security import Principal
from tests.accounts import session_token
from ville.settings import Settings

ClientFactory = Callable[[Principal | None], httpx.AsyncClient]


@pytest.fixture
def app(settings: Settings, temporal_client: Client) -> FastAPI:
    """The API wired to the session database, the emulators and the dev server."""
    return create_app(settings, temporal=temporal_client)


@pytest.fixture
async def client_for(app: FastAPI) -> AsyncIterator[ClientFactory]:
    """Build in-process HTTP clients authenticated as `principal` (None: anonymous)."""
    opened: list[httpx.AsyncClient] = []

    def make(principal: Principal | None) -> httpx.AsyncClient:
        headers = {}
        if principal is not None:
            headers["Authorization"] = f"Bearer {session_token(app, principal)}"
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers)
        opened.append(c)
        return c

    yield make
    for c in opened:
        await c.aclose()
