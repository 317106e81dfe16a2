"""Remote codec server for the Temporal Web UI and CLI: operators read encrypted histories in clear.

Temporal's remote-codec protocol: `POST {endpoint}/encode` and `POST {endpoint}/decode` with
`{"payloads": [{"metadata": {key: base64}, "data": base64}]}` (protobuf JSON of `Payloads`), answered in the
same format. Configure the UI's codec endpoint as `<PUBLIC_BASE_URL>/codec`.

Who may call: operators and admins only, with a Bearer token (the CLI's `--codec-auth "Bearer ..."`, or the
UI's "pass access token" option) or the API's session cookie (the UI's "include cross-origin credentials"
option; it reaches the API when the UI and the API are same-site, otherwise the cookie needs
`SameSite=None; Secure`). In `make run` the UI reaches the codec through its own port, same-origin
(api/temporal_ui_proxy.py), because start-dev cannot turn that option on. Encoding and decoding change no
state, so a forged cross-site request can only try
to read, and CORS lets only the Temporal UI's origin read the answers. Every decode is logged (who, how many
payloads, which namespace), never the payloads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated
from urllib.parse import urlsplit

import structlog
from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, HTTPException, Request, status
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from pydantic import BaseModel, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from api.security import Operator
from ville.codec import EncryptionCodec

log = structlog.get_logger(__name__)

PREFIX = "/codec"
CORS_ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-Namespace"]


class CodecPayload(BaseModel):
    """One Temporal payload in protobuf JSON: base64 metadata values and data."""

    metadata: dict[str, str] = Field(default_factory=dict)
    data: str = ""


class CodecPayloads(BaseModel):
    """The body of a codec request and of its answer."""

    payloads: list[CodecPayload]


def _codec(request: Request) -> EncryptionCodec:
    codec: EncryptionCodec = request.app.state.codec
    return codec


CodecDep = Annotated[EncryptionCodec, Depends(_codec)]
router = APIRouter(prefix=PREFIX, tags=["codec"])


def _to_proto(body: CodecPayloads) -> list[Payload]:
    try:
        return list(json_format.ParseDict(body.model_dump(), Payloads()).payloads)
    except json_format.ParseError as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Charges utiles mal formées (base64 attendu)") from err


def _from_proto(payloads: Sequence[Payload]) -> CodecPayloads:
    return CodecPayloads.model_validate(json_format.MessageToDict(Payloads(payloads=payloads)))


async def _apply(fn: Callable[[Sequence[Payload]], Awaitable[list[Payload]]], body: CodecPayloads) -> CodecPayloads:
    try:
        return _from_proto(await fn(_to_proto(body)))
    except (ValueError, InvalidTag, DecodeError) as err:
        # unknown key id, tampered or truncated ciphertext: the answer never says which payload or why
        log.warning("codec.rejected", error_type=type(err).__name__)
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "Charge utile indéchiffrable (clé inconnue ou données altérées)"
        ) from err


def _namespace(request: Request) -> str:
    return request.headers.get("x-namespace", "")[:100]


@router.post("/encode", response_model=CodecPayloads)
async def encode(body: CodecPayloads, request: Request, principal: Operator, codec: CodecDep) -> CodecPayloads:
    """Encrypt payloads with the current key (inputs typed into the Temporal UI)."""
    result = await _apply(codec.encode, body)
    log.info("codec.encoded", user_id=principal.user_id, count=len(body.payloads), namespace=_namespace(request))
    return result


@router.post("/decode", response_model=CodecPayloads)
async def decode(body: CodecPayloads, request: Request, principal: Operator, codec: CodecDep) -> CodecPayloads:
    """Decrypt payloads written with any configured key; unencrypted payloads pass through."""
    result = await _apply(codec.decode, body)
    log.info("codec.decoded", user_id=principal.user_id, count=len(body.payloads), namespace=_namespace(request))
    return result


def origin_of(url: str) -> str:
    """The browser origin (`scheme://host[:port]`) of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class CodecCORSMiddleware:
    """CORS for the Temporal UI's origin on the codec routes only; every other path is untouched."""

    def __init__(self, app: ASGIApp, ui_url: str) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=[origin_of(ui_url)],
            allow_methods=["POST"],
            allow_headers=CORS_ALLOWED_HEADERS,
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
