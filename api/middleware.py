"""Pure ASGI middleware: request id bound to logs, access log, security headers."""

from __future__ import annotations

import random
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("api.access")

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class RequestContextMiddleware:
    """Binds a request id to every log line of the request and sets security headers."""

    def __init__(self, app: ASGIApp, csp: str, hsts: bool) -> None:
        self.app = app
        self.headers = [*_SECURITY_HEADERS, (b"content-security-policy", csp.encode())]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode()[:64]
        # a correlation id, not a secret: no system call for randomness on every request
        request_id = incoming if incoming.isalnum() else f"{random.getrandbits(128):032x}"
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        static = scope["path"].startswith("/static/")
        status_code = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if not static and not any(k.lower() == b"cache-control" for k, _ in headers):
                    # answers carry personal data (invoices, cases, tasks): no shared or browser cache keeps them
                    headers.append((b"cache-control", b"no-store"))
                headers.extend(self.headers)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # the path only: query strings may carry tokens
            log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status_code,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.unbind_contextvars("request_id")
