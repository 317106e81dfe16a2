"""Dev only: the Temporal UI's public origin, serving the UI and the API's codec server side by side.

Why: the UI embedded in `temporal server start-dev` fetches the codec endpoint with the browser's default
`credentials: 'same-origin'`, and start-dev has no flag for the UI's `includeCredentials` option. Cross-origin
(UI on :8233, API on :8000), the operator's session cookie is therefore never sent and the codec answers 401.
Same-origin it is: cookies belong to a host, not a port, so the `ville_session` cookie set by
127.0.0.1:8000 is sent to 127.0.0.1:8233 too. This proxy listens on the UI's public port, passes `/codec/*`
to the API (which still admits operators only) and everything else to the UI server on an internal port.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.routes.codec import CORS_ALLOWED_HEADERS, PREFIX
from api.security import SESSION_COOKIE

# hop-by-hop or recomputed headers (RFC 9110 §7.6.1): never forwarded either way
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
_CODEC_HEADERS = {h.lower() for h in CORS_ALLOWED_HEADERS} | {"accept", "user-agent"}


def _codec_headers(request: Request) -> dict[str, str]:
    """Only what the codec needs: the session cookie (no other cookie of the UI) and the codec's headers."""
    headers = {k: v for k, v in request.headers.items() if k in _CODEC_HEADERS}
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        headers["cookie"] = f"{SESSION_COOKIE}={session}"
    return headers


def _ui_headers(request: Request) -> dict[str, str]:
    """The UI's own headers, without the API's session cookie (the UI server has no use for it)."""
    headers = {k: v for k, v in request.headers.items() if k not in _HOP and k != "cookie"}
    others = [f"{k}={v}" for k, v in request.cookies.items() if k != SESSION_COOKIE]
    if others:
        headers["cookie"] = "; ".join(others)
    headers["accept-encoding"] = "identity"  # bodies are passed as they are: no re-encoding here
    return headers


def create_app(ui_upstream: str | None = None, api_upstream: str | None = None) -> Starlette:
    """The proxy app; upstreams default to UI_UPSTREAM and API_UPSTREAM (set by `ville dev`)."""
    ui = (ui_upstream or os.environ["UI_UPSTREAM"]).rstrip("/")
    api = (api_upstream or os.environ["API_UPSTREAM"]).rstrip("/")
    client = httpx.AsyncClient(timeout=60.0, follow_redirects=False)

    async def forward(request: Request) -> Response:
        path = request.url.path
        is_codec = path.startswith(PREFIX + "/")
        target = (api if is_codec else ui) + path
        headers = _codec_headers(request) if is_codec else _ui_headers(request)
        url = f"{target}?{request.url.query}" if request.url.query else target  # the query string as sent
        upstream = await client.request(request.method, url, headers=headers, content=await request.body())
        out = [(k, v) for k, v in upstream.headers.multi_items() if k.lower() not in _HOP | {"content-encoding"}]
        response = Response(upstream.content, status_code=upstream.status_code)
        response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out]
        response.headers["content-length"] = str(len(upstream.content))
        return response

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)], lifespan=lifespan)
