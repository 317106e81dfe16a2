"""Annotated dependencies shared by the routers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client

from api.oidc import OidcClient
from api.security import TokenSigner, not_found
from services.attendance import AttendanceIngest
from services.audit_campaigns import AuditCampaigns
from services.audit_results import AuditResults
from services.audit_tasks import AuditTasks
from services.billing import BillingStore
from services.notifications import Notifier
from services.payments import PaymentStore
from services.referrals import ReferralService
from services.stripe_events import StripeEvents
from services.stripe_payments import StripePayments
from ville.settings import Settings


async def _session(request: Request) -> AsyncIterator[Session]:
    # async on purpose, like the getters below: FastAPI runs a sync dependency in a worker thread, and those
    # hand-offs cost more than the work itself (bench/pages.py)
    session: Session = request.app.state.sessions.open()
    try:
        yield session
    finally:
        if session.in_transaction():  # giving a connection back to the pool is a ROLLBACK: off the event loop
            # not on the routes' threads: a route waiting for a pooled connection holds one of them, and the
            # close that would free that connection must not wait behind it (a deadlock seen under bench/pages.py)
            await asyncio.to_thread(session.close)
        else:
            session.close()


async def _temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _signer(request: Request) -> TokenSigner:
    signer: TokenSigner = request.app.state.signer
    return signer


async def _s3(request: Request) -> Any:
    return request.app.state.s3


# the services the app builds once (api/app.py); routes receive them typed, never through app.state
async def _billing_store(request: Request) -> BillingStore:
    store: BillingStore = request.app.state.billing_store
    return store


async def _payments(request: Request) -> StripePayments:
    payments: StripePayments = request.app.state.payments
    return payments


async def _payment_store(request: Request) -> PaymentStore:
    payments: StripePayments = request.app.state.payments
    return payments.store


async def _stripe_events(request: Request) -> StripeEvents:
    events: StripeEvents = request.app.state.stripe_events
    return events


async def _notifier(request: Request) -> Notifier:
    notifier: Notifier = request.app.state.notifier
    return notifier


async def _attendance(request: Request) -> AttendanceIngest:
    ingest: AttendanceIngest = request.app.state.attendance
    return ingest


async def _referrals(session: Annotated[Session, Depends(_session)]) -> ReferralService:
    # on the request's session, shared with the route's other dependencies (audit log): one transaction
    return ReferralService(session)


SessionDep = Annotated[Session, Depends(_session)]
TemporalDep = Annotated[Client, Depends(_temporal)]
SettingsDep = Annotated[Settings, Depends(_settings)]
SignerDep = Annotated[TokenSigner, Depends(_signer)]
S3Dep = Annotated[Any, Depends(_s3)]
BillingStoreDep = Annotated[BillingStore, Depends(_billing_store)]
PaymentsDep = Annotated[StripePayments, Depends(_payments)]
PaymentStoreDep = Annotated[PaymentStore, Depends(_payment_store)]
NotifierDep = Annotated[Notifier, Depends(_notifier)]
StripeEventsDep = Annotated[StripeEvents, Depends(_stripe_events)]
AttendanceDep = Annotated[AttendanceIngest, Depends(_attendance)]
ReferralsDep = Annotated[ReferralService, Depends(_referrals)]

# a row id in a path: bounded so that a huge number answers 422, not an overflow in the database driver (500)
DB_ID_MAX = 2_147_483_647
DbId = Annotated[int, Path(ge=1, le=DB_ID_MAX)]

# a page of rows: `limit=-1` must not return every row, nor a huge offset reach the driver
PAGE_MAX = 500
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX, description=f"rows per page (1 to {PAGE_MAX})")]
Offset = Annotated[int, Query(ge=0, le=DB_ID_MAX, description="rows to skip")]


# the QualiParis services, over the request's session
async def _audit_tasks(session: SessionDep) -> AuditTasks:
    return AuditTasks(session)


async def _audit_campaigns(session: SessionDep) -> AuditCampaigns:
    return AuditCampaigns(session)


async def _audit_results(session: SessionDep) -> AuditResults:
    return AuditResults(session)


AuditTasksDep = Annotated[AuditTasks, Depends(_audit_tasks)]
AuditCampaignsDep = Annotated[AuditCampaigns, Depends(_audit_campaigns)]
AuditResultsDep = Annotated[AuditResults, Depends(_audit_results)]


# the database engine itself, for the writes that must commit apart from the request's session (a revocation)
async def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.sessions.engine
    return engine


async def _oidc(request: Request, settings: SettingsDep) -> OidcClient:
    # 404 when no provider is configured; one client per app, as it caches the provider's discovery and keys
    if not settings.oidc_enabled:
        raise not_found()
    client: OidcClient | None = getattr(request.app.state, "oidc", None)
    if client is None:
        client = request.app.state.oidc = OidcClient(settings)
    return client


EngineDep = Annotated[Engine, Depends(_engine)]
OidcDep = Annotated[OidcClient, Depends(_oidc)]
