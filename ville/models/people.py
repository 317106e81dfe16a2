"""Accounts of the people who sign in, with their role and what they may see."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from ville.models.common import ts_field


class Role(StrEnum):
    """Who is asking: every route declares the roles it admits."""

    family = "family"
    inspector = "inspector"
    partner = "partner"
    rif_agent = "rif_agent"
    coordinator = "coordinator"
    billing_operator = "billing_operator"
    quality_team = "quality_team"
    operator = "operator"
    admin = "admin"


class UserAccount(SQLModel, table=True):
    """A person who signs in; scoped to one family account, inspector, partner organisation or relay."""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True, max_length=254)
    display_name: str = Field(max_length=200)
    role: Role = Field(index=True)
    family_account_id: int | None = Field(default=None, foreign_key="family_account.id", index=True)
    inspector_id: int | None = Field(default=None, index=True)
    partner_org_id: int | None = Field(default=None, index=True)
    relay_id: int | None = Field(default=None, index=True)
    active: bool = True
    created_at: datetime = ts_field()


class UsedToken(SQLModel, table=True):
    """One-time tokens (magic links) already consumed: replaying one is refused."""

    __tablename__ = "used_token"

    token_id: str = Field(primary_key=True, max_length=64)
    used_at: datetime = ts_field()


class OperatorAuditLog(SQLModel, table=True):
    """Append-only record of operator actions: who did what, when and why."""

    __tablename__ = "operator_audit_log"

    id: int | None = Field(default=None, primary_key=True)
    actor_user_id: int = Field(index=True)
    action: str = Field(max_length=80)
    target: str = Field(max_length=200, index=True)
    reason: str = Field(default="", max_length=1000)
    at: datetime = ts_field(index=True)


class RevokedSession(SQLModel, table=True):
    """Sessions closed before their end (sign-out): their tokens are refused until they would have expired."""

    __tablename__ = "revoked_session"

    session_id: str = Field(primary_key=True, max_length=64)
    revoked_at: datetime = ts_field()
    expires_at: datetime = ts_field(index=True)
