"""Identities of an OpenID Connect provider (FranceConnect...) linked to the accounts they sign in to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ville.models.common import opt_ts_field, ts_field


class OidcIdentity(SQLModel, table=True):
    """One provider subject (`iss`, `sub`) linked to one user account: the subject, never the e-mail, is stable."""

    __tablename__ = "oidc_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_oidc_identity_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=300)
    subject: str = Field(max_length=255)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    linked_at: datetime = ts_field()
    last_sign_in_at: datetime | None = opt_ts_field()
