"""Cookie-authenticated writes sent by another site are refused (CSRF), whatever their content type.

Browsers attach the session cookie to a cross-site form post; they also say where the request comes from
(`Origin`, and `Sec-Fetch-Site` in every current browser). A write that carries the cookie must come from this
site. Clients that are not browsers send neither header and are not a CSRF vector; a Bearer token is never
attached by a browser on its own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import structlog
from fastapi import HTTPException, Request, status

from api.security import SESSION_COOKIE, route_template

log = structlog.get_logger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# encode/decode change nothing, and their own CORS lets only the Temporal UI read the answers (api/routes/codec.py)
READ_ONLY_PREFIXES = ("/codec/",)
SAME_SITE_FETCH = frozenset({"same-origin", "none"})


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def same_site_writes(request: Request) -> None:
    """App-wide dependency: 403 for a cookie-authenticated write from another origin."""
    if (
        request.method not in UNSAFE_METHODS
        or SESSION_COOKIE not in request.cookies
        or request.url.path.startswith(READ_ONLY_PREFIXES)
        or request.headers.get("authorization", "").lower().startswith("bearer ")
    ):
        return
    origin = request.headers.get("origin")
    if origin is not None:
        trusted: frozenset[str] = request.app.state.trusted_origins
        if origin.lower().rstrip("/") in trusted or origin.lower() == origin_of(str(request.base_url)):
            return
    elif request.headers.get("sec-fetch-site", "same-origin") in SAME_SITE_FETCH:
        return
    log.warning("csrf.refused", method=request.method, route=route_template(request))
    raise HTTPException(status.HTTP_403_FORBIDDEN, "Requête refusée : elle ne vient pas de ce site.")
