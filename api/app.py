"""FastAPI app factory: one Temporal client per process, held by the lifespan."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from anyio import to_thread
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from temporalio.client import Client
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.contest_metrics import bind_contest_metrics
from api.csrf import origin_of, same_site_writes
from api.docs import install_docs
from api.errors import install_error_handlers
from api.middleware import RequestContextMiddleware
from api.payment_plan_metrics import bind_payment_plan_metrics
from api.rendering import error_page
from api.routers import ROUTERS
from api.routes.codec import CodecCORSMiddleware
from api.security import TokenSigner
from services.attendance import AttendanceIngest
from services.billing import BillingStore
from services.notifications import Notifier
from services.payments import PaymentStore
from services.stripe_client import make_stripe_client
from services.stripe_events import StripeEvents
from services.stripe_payments import StripePayments
from ville.aws import aws_client
from ville.db import SessionFactory, engine_for
from ville.logging import configure_logging
from ville.settings import Settings, get_settings
from ville.temporal import connect, payload_codec
from ville.tracing import instrument_fastapi

log = structlog.get_logger(__name__)
STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None, temporal: Client | None = None) -> FastAPI:
    """Build the API and pages; `temporal` may be injected (tests), else the lifespan connects."""
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        if temporal is None:
            app.state.temporal = await connect(settings, lazy=True)
        # everything built so far (modules, routes, templates, mappers) lives as long as the process: out of the
        # collector's reach, full collections stop walking it (they were the page's p99, bench/pages.py)
        gc.freeze()
        log.info("api.started", temporal=settings.temporal_address, env=settings.env)
        yield
        log.info("api.stopped")

    app = FastAPI(
        title="Ville de Paris — services aux familles",
        version="0.1.0",
        lifespan=lifespan,
        description="Facil'familles billing, QualiParis audits and RIF referrals on Temporal.",
        docs_url=None,  # api/docs.py serves /docs from packaged assets (the CSP blocks the CDN's)
        redoc_url=None,
        dependencies=[Depends(same_site_writes)],
    )
    app.state.trusted_origins = frozenset({origin_of(settings.public_base_url)})
    install_docs(app)
    app.state.settings = settings
    app.state.temporal = temporal
    app.state.sessions = SessionFactory(engine_for(settings.database_url))
    bind_contest_metrics(app.state.sessions)
    bind_payment_plan_metrics(app.state.sessions)
    app.state.signer = TokenSigner(settings.session_keys)
    app.state.s3 = aws_client(settings, "s3")
    app.state.notifier = Notifier(
        app.state.sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), settings
    )
    app.state.billing_store = BillingStore(app.state.sessions)
    app.state.attendance = AttendanceIngest(app.state.sessions)
    app.state.payments = StripePayments(make_stripe_client(settings), PaymentStore(app.state.sessions))
    app.state.stripe_events = StripeEvents(app.state.sessions)
    stripe_js_origin = settings.stripe_js_url.split("/js.stripe.com")[0].rstrip("/")
    # inspectors' evidence goes from the browser straight to S3 by presigned URL (moto's origin in dev)
    s3_origins = settings.aws_endpoint_url or (
        f"https://{settings.s3_bucket}.s3.{settings.aws_region}.amazonaws.com https://{settings.s3_bucket}.s3.amazonaws.com"
    )
    csp = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        f"script-src 'self' {stripe_js_origin}; frame-src {stripe_js_origin}; "
        f"connect-src 'self' {stripe_js_origin} {settings.stripe_api_base or 'https://api.stripe.com'} {s3_origins}; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    app.state.codec = payload_codec(settings)
    # added before (so inside) the request-context middleware: preflights get a request id and an access log
    app.add_middleware(CodecCORSMiddleware, ui_url=settings.temporal_ui_url)
    app.add_middleware(RequestContextMiddleware, csp=csp, hsts=settings.env == "production")
    if settings.trusted_proxies:
        # the client address (rate limits, logs) comes from X-Forwarded-For only when a listed proxy sent it
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    install_error_handlers(app, error_page)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Readiness: the database and Temporal are reachable."""
        checks = {"database": await asyncio.to_thread(_db_ok, app), "temporal": await _temporal_ok(app)}
        ok = all(checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)

    for router in ROUTERS:
        app.include_router(router)
    instrument_fastapi(app, settings)
    return app


def _db_ok(app: FastAPI) -> bool:
    try:
        with app.state.sessions() as session:
            session.exec(text("SELECT 1"))
        return True
    except Exception:
        log.warning("readyz.database_unreachable", exc_info=True)
        return False


async def _temporal_ok(app: FastAPI) -> bool:
    try:
        client: Client = app.state.temporal
        return bool(await asyncio.wait_for(client.service_client.check_health(), timeout=2))
    except Exception:
        log.warning("readyz.temporal_unreachable", exc_info=True)
        return False
