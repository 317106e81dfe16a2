"""The remote codec server the Temporal UI calls: auth, roundtrip, errors and CORS."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.security import SESSION_COOKIE, Principal
from tests.accounts import session_token
from ville.codec import ENCODING
from ville.models.people import Role
from ville.settings import Settings
from ville.temporal import data_converter

ClientFactory = Callable[[Principal | None], httpx.AsyncClient]
OPERATOR = Principal(user_id=1, role=Role.operator)
ADMIN = Principal(user_id=2, role=Role.admin)
FAMILY = Principal(user_id=3, role=Role.family, family_account_id=7)
UI_ORIGIN = "http://127.0.0.1:8233"
CLEAR = Payload(metadata={"encoding": b"json/plain"}, data=b'{"payer": "Mme Martin", "amount_cents": 4250}')


def _body(*payloads: Payload) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


def _payloads(body: dict[str, Any]) -> list[Payload]:
    return list(json_format.ParseDict(body, Payloads()).payloads)


async def test_codec_requires_authentication(client_for: ClientFactory) -> None:
    anonymous = client_for(None)
    for path in ("/codec/encode", "/codec/decode"):
        r = await anonymous.post(path, json=_body(CLEAR))
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"


async def test_codec_is_refused_to_a_family(client_for: ClientFactory) -> None:
    r = await client_for(FAMILY).post("/codec/decode", json=_body(CLEAR))
    assert r.status_code == 403


async def test_operator_roundtrip_uses_the_workers_keys(client_for: ClientFactory, settings: Settings) -> None:
    client = client_for(OPERATOR)
    encoded = await client.post("/codec/encode", json=_body(CLEAR), headers={"X-Namespace": "default"})
    assert encoded.status_code == 200
    [encrypted] = _payloads(encoded.json())
    assert encrypted.metadata["encoding"] == ENCODING
    assert b"Martin" not in encrypted.data
    # what the worker's converter wrote, the codec server reads, and the other way round
    assert await data_converter(settings).payload_codec.decode([encrypted]) == [CLEAR]  # type: ignore[union-attr]
    [from_worker] = await data_converter(settings).payload_codec.encode([CLEAR])  # type: ignore[union-attr]
    decoded = await client.post("/codec/decode", json=_body(from_worker, CLEAR))
    assert decoded.status_code == 200
    assert _payloads(decoded.json()) == [CLEAR, CLEAR]


async def test_admin_and_session_cookie_are_accepted(client_for: ClientFactory, app: FastAPI) -> None:
    cookie_client = client_for(None)
    cookie_client.cookies.set(SESSION_COOKIE, session_token(app, ADMIN))
    r = await cookie_client.post("/codec/encode", json=_body(CLEAR))
    assert r.status_code == 200
    assert _payloads(r.json())[0].metadata["encoding"] == ENCODING


async def test_tampered_or_foreign_payloads_are_rejected(client_for: ClientFactory) -> None:
    client = client_for(OPERATOR)
    [encrypted] = _payloads((await client.post("/codec/encode", json=_body(CLEAR))).json())
    tampered = Payload(metadata=dict(encrypted.metadata), data=encrypted.data[:-1] + b"\x00")
    unknown_key = Payload(metadata={**encrypted.metadata, "encryption-key-id": b"retired"}, data=encrypted.data)
    for bad in (tampered, unknown_key):
        r = await client.post("/codec/decode", json=_body(bad))
        assert r.status_code == 400
        assert "indéchiffrable" in r.json()["error"]["message"]
    r = await client.post("/codec/decode", json={"payloads": [{"metadata": {}, "data": "@@not base64@@"}]})
    assert r.status_code == 400


async def test_cors_preflight_for_the_temporal_ui(client_for: ClientFactory) -> None:
    r = await client_for(None).options(
        "/codec/decode",
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == UI_ORIGIN
    assert r.headers["access-control-allow-credentials"] == "true"
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-namespace"} <= allowed
    assert "POST" in r.headers["access-control-allow-methods"]


async def test_cors_answers_carry_the_origin_even_when_refused(client_for: ClientFactory) -> None:
    ok = await client_for(OPERATOR).post("/codec/encode", json=_body(CLEAR), headers={"Origin": UI_ORIGIN})
    assert ok.headers["access-control-allow-origin"] == UI_ORIGIN
    denied = await client_for(None).post("/codec/decode", json=_body(CLEAR), headers={"Origin": UI_ORIGIN})
    assert denied.status_code == 401
    assert denied.headers["access-control-allow-origin"] == UI_ORIGIN


async def test_cors_is_limited_to_the_ui_origin_and_the_codec_routes(client_for: ClientFactory) -> None:
    client = client_for(None)
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-namespace"}
    other_origin = await client.options("/codec/decode", headers={"Origin": "https://evil.example", **preflight})
    assert other_origin.status_code == 400
    assert "access-control-allow-origin" not in other_origin.headers
    elsewhere = await client.get("/healthz", headers={"Origin": UI_ORIGIN})
    assert elsewhere.status_code == 200
    assert "access-control-allow-origin" not in elsewhere.headers


def test_ui_origin_comes_from_settings(settings: Settings) -> None:
    from api.routes.codec import origin_of

    assert origin_of(settings.temporal_ui_url) == UI_ORIGIN
    assert origin_of("https://temporal.paris.example/ui/namespaces") == "https://temporal.paris.example"
    assert base64.b64decode(_body(CLEAR)["payloads"][0]["data"]) == CLEAR.data
