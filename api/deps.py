"""Annotated dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlmodel import Session
from temporalio.client import Client

from api.security import TokenSigner
from ville.settings import Settings


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def _temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _signer(request: Request) -> TokenSigner:
    signer: TokenSigner = request.app.state.signer
    return signer


def _s3(request: Request) -> Any:
    return request.app.state.s3


SessionDep = Annotated[Session, Depends(_session)]
TemporalDep = Annotated[Client, Depends(_temporal)]
SettingsDep = Annotated[Settings, Depends(_settings)]
SignerDep = Annotated[TokenSigner, Depends(_signer)]
S3Dep = Annotated[Any, Depends(_s3)]

# a row id in a path: bounded so that a huge number answers 422, not an overflow in the database driver (500)
DB_ID_MAX = 2_147_483_647
DbId = Annotated[int, Path(ge=1, le=DB_ID_MAX)]
