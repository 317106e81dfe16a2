"""RIF referral tables: relays, the HSDS partner directory, cases, referrals, history, notes, attachments.

Process state lives in the `ReferralCaseWorkflow`; these tables are its projection (written by activities)
plus the personal data that never enters Temporal. Enum columns are stored as their string values.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import overload

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from ville.models.common import opt_ts_field, ts_field


@overload
def as_utc(dt: datetime) -> datetime: ...
@overload
def as_utc(dt: None) -> None: ...
def as_utc(dt: datetime | None) -> datetime | None:
    """A stored timestamp as aware UTC: SQLite returns naive values (we always write UTC)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


class RifRelay(SQLModel, table=True):
    """A Relais Informations Familles (one per arrondissement, plus thematic relays such as housing)."""

    __tablename__ = "rif_relay"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=20)  # RIF-12, RIF-LOG
    name: str = Field(max_length=200)
    arrondissement: int | None = Field(default=None, index=True, ge=1, le=20)
    address: str = Field(default="", max_length=300)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)


class PartnerOrganization(SQLModel, table=True):
    """HSDS organization: a public or associative partner structure."""

    __tablename__ = "partner_organization"

    id: int | None = Field(default=None, primary_key=True)
    hsds_id: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    email: str | None = Field(default=None, max_length=254)
    website: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=30)
    legal_status: str | None = Field(default=None, max_length=60)
    updated_at: datetime = ts_field()


class PartnerService(SQLModel, table=True):
    """HSDS service: what a partner offers, with its status (active, inactive, temporarily closed)."""

    __tablename__ = "partner_service"

    id: int | None = Field(default=None, primary_key=True)
    hsds_id: str = Field(unique=True, max_length=64)
    organization_id: int = Field(foreign_key="partner_organization.id", index=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    email: str | None = Field(default=None, max_length=254)
    url: str | None = Field(default=None, max_length=300)
    status: str = Field(default="active", sa_type=String(20), index=True)  # domain.hsds.ServiceStatus
    eligibility_description: str = Field(default="", max_length=2000)
    minimum_age: int | None = None
    maximum_age: int | None = None
    application_process: str = Field(default="", max_length=1000)
    updated_at: datetime = ts_field()


class PartnerServiceCategory(SQLModel, table=True):
    """A category of need a service answers (domain.referral_cases.NeedCategory)."""

    __tablename__ = "partner_service_category"

    service_id: int = Field(foreign_key="partner_service.id", primary_key=True)
    category: str = Field(primary_key=True, max_length=30, index=True)


class PartnerServiceArea(SQLModel, table=True):
    """An arrondissement a service covers (HSDS service_area)."""

    __tablename__ = "partner_service_area"

    service_id: int = Field(foreign_key="partner_service.id", primary_key=True)
    arrondissement: int = Field(primary_key=True, index=True)


class PartnerLocation(SQLModel, table=True):
    """HSDS location with its physical address."""

    __tablename__ = "partner_location"

    id: int | None = Field(default=None, primary_key=True)
    hsds_id: str = Field(unique=True, max_length=64)
    organization_id: int = Field(foreign_key="partner_organization.id", index=True)
    name: str = Field(max_length=200)
    address_1: str = Field(default="", max_length=300)
    postal_code: str = Field(default="", max_length=10)
    city: str = Field(default="Paris", max_length=100)
    arrondissement: int | None = Field(default=None, index=True)
    latitude: float | None = None
    longitude: float | None = None


class PartnerServiceLocation(SQLModel, table=True):
    """HSDS service_at_location."""

    __tablename__ = "partner_service_location"

    service_id: int = Field(foreign_key="partner_service.id", primary_key=True)
    location_id: int = Field(foreign_key="partner_location.id", primary_key=True)


class PartnerContact(SQLModel, table=True):
    """HSDS contact of an organization or a service."""

    __tablename__ = "partner_contact"

    id: int | None = Field(default=None, primary_key=True)
    hsds_id: str = Field(unique=True, max_length=64)
    organization_id: int = Field(foreign_key="partner_organization.id", index=True)
    service_id: int | None = Field(default=None, foreign_key="partner_service.id", index=True)
    name: str = Field(default="", max_length=200)
    title: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)


class ReferralCaseCounter(SQLModel, table=True):
    """Next case sequence per year (RIF-2026-000042), taken in the case's own transaction."""

    __tablename__ = "referral_case_counter"

    year: int = Field(primary_key=True)
    next_seq: int = 1


class ReferralCase(SQLModel, table=True):
    """A family's case at a relay: personal data (anonymised after retention) and the process projection."""

    __tablename__ = "referral_case"

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True, max_length=20)  # opaque: safe in workflow ids
    relay_id: int = Field(foreign_key="rif_relay.id", index=True)
    arrondissement: int | None = Field(default=None, index=True)
    opened_by_user_id: int = Field(foreign_key="user_account.id")
    family_account_id: int | None = Field(default=None, foreign_key="family_account.id")
    # personal data: never passed to Temporal, blanked by the anonymisation
    contact_name: str = Field(max_length=200)
    contact_email: str | None = Field(default=None, max_length=254)
    contact_phone: str | None = Field(default=None, max_length=30)
    situation: str = Field(default="", max_length=4000)  # agent-only notes
    partner_summary: str = Field(default="", max_length=2000)  # what partners may read
    preferred_channel: str = Field(default="email", sa_type=String(10))  # domain.referral_cases.ContactChannel
    needs: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    consent_given_at: datetime = ts_field()
    consent_scope: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # projection of the workflow
    status: str = Field(default="open", sa_type=String(20), index=True)  # domain.referral_cases.CaseStatus
    business_status: str = Field(default="open", sa_type=String(20), index=True)
    outcome: str | None = Field(default=None, sa_type=String(30))
    opened_at: datetime = ts_field()
    closed_at: datetime | None = opt_ts_field()
    attachments_deleted_at: datetime | None = opt_ts_field()
    anonymised_at: datetime | None = opt_ts_field()


class Referral(SQLModel, table=True):
    """One referral of a case to a partner service: the projection of the workflow's referral state."""

    __tablename__ = "referral"

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True, max_length=24)  # RIF-2026-000042-03
    case_id: int = Field(foreign_key="referral_case.id", index=True)
    service_id: int = Field(foreign_key="partner_service.id", index=True)
    organization_id: int = Field(foreign_key="partner_organization.id", index=True)
    need: str = Field(max_length=30)
    status: str = Field(default="pending", sa_type=String(20), index=True)  # domain.referrals.ReferralState
    replaces_ref: str | None = Field(default=None, max_length=24)
    replaced_by_ref: str | None = Field(default=None, max_length=24)
    created_at: datetime = ts_field()
    sent_at: datetime | None = opt_ts_field()
    sla_deadline: datetime | None = opt_ts_field()
    acked_at: datetime | None = opt_ts_field()
    escalated_at: datetime | None = opt_ts_field()
    last_reminder_at: datetime | None = opt_ts_field()
    reminders_sent: int = 0
    links_issued: int = 0
    link_expires_at: datetime | None = opt_ts_field()
    answered_at: datetime | None = opt_ts_field()
    appointment_on: date | None = None
    contact_made: bool = False
    refusal_reason: str | None = Field(default=None, sa_type=String(30))
    refusal_note_id: int | None = None
    follow_up_at: datetime | None = opt_ts_field()
    follow_up_done_at: datetime | None = opt_ts_field()
    follow_up_channel: str | None = Field(default=None, sa_type=String(10))


class ReferralNote(SQLModel, table=True):
    """Free text written by an agent or a partner (refusal message, closing comment): personal, anonymised."""

    __tablename__ = "referral_note"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="referral_case.id", index=True)
    referral_id: int | None = Field(default=None, foreign_key="referral.id", index=True)
    kind: str = Field(max_length=20)  # refusal | closure
    author_kind: str = Field(max_length=20)
    author_user_id: int | None = None
    body: str = Field(max_length=2000)
    partner_visible: bool = False
    created_at: datetime = ts_field()


class ReferralHistory(SQLModel, table=True):
    """Append-only case history: every status change, with codes only (no personal data)."""

    __tablename__ = "referral_history"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_referral_history_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="referral_case.id", index=True)
    seq: int
    referral_id: int | None = Field(default=None, foreign_key="referral.id", index=True)
    at: datetime = ts_field()
    event: str = Field(max_length=40)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str | None = Field(default=None, max_length=20)
    actor_kind: str = Field(max_length=20)
    actor_user_id: int | None = None
    partner_visible: bool = False
    info: str = Field(default="", max_length=200)


class ReferralAttachment(SQLModel, table=True):
    """A document of a case stored in S3 (deleted after six months)."""

    __tablename__ = "referral_attachment"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="referral_case.id", index=True)
    s3_key: str = Field(unique=True, max_length=200)  # referrals/<case ref>/<random>: no file name
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size_bytes: int
    status: str = Field(default="pending", max_length=10)  # pending | uploaded | deleted
    uploaded_by_user_id: int
    created_at: datetime = ts_field()
    deleted_at: datetime | None = opt_ts_field()
