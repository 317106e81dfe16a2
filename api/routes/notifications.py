"""Rhythm-aware delivery: a family sets its quiet hours and windows; operators see the messages waiting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import Session, select
from temporalio.service import RPCError

from api.audit_log import OperatorReason, audit
from api.deps import DbId, Limit, SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses, field_error, temporal_refusal
from api.security import FamilyUser, Principal, not_found, require
from domain.delivery import CHANNELS, format_windows, parse_hhmm, parse_windows
from domain.rhythm import PARIS, Rhythm, Window, next_allowed
from services.delivery import (
    NotResendable,
    failed_notifications,
    requeue_failed,
    start_delivery,
    waiting_notifications,
)
from ville.models.common import utcnow
from ville.models.people import Role
from ville.models.rhythm import ContactRhythm

router = APIRouter(tags=["notifications"])
# the recipient kind under which family messages are sent (see the payer resolver in activities.billing)
FAMILY_KIND = "payer"
OperatorUser = Annotated[Principal, require(Role.operator, Role.billing_operator, Role.quality_team, Role.coordinator)]
Resender = Annotated[Principal, require(Role.operator, Role.billing_operator)]
DEFAULT = Rhythm()


class ChannelRhythm(BaseModel):
    """When messages on one channel may reach the family (times are HH:MM in `timezone`)."""

    channel: Literal["email", "sms"]
    quiet_start: str = Field(default=f"{DEFAULT.quiet.start:%H:%M}", examples=["21:00"])
    quiet_end: str = Field(default=f"{DEFAULT.quiet.end:%H:%M}", examples=["08:00"])
    preferred_windows: list[str] = Field(default_factory=list, examples=[["12:00-14:00", "18:30-20:00"]])
    sms_on_rest_days: bool = False
    timezone: str = "Europe/Paris"
    customised: bool = False


class RhythmOut(BaseModel):
    """The family's rhythm on every channel (the default where it chose nothing)."""

    channels: list[ChannelRhythm]


class WaitingAt(BaseModel):
    """Messages that will go at one instant."""

    due_at: str
    due_at_paris: str  # 27/11/2026 08:00
    count: int
    by_channel: dict[str, int]


class WaitingOut(BaseModel):
    """Messages waiting for their recipients' allowed hours, and when they will go."""

    total: int
    next_due_at: str | None
    instants: list[WaitingAt]


def _out(row: ContactRhythm | None, channel: str) -> ChannelRhythm:
    if row is None:
        return ChannelRhythm(channel=channel)
    return ChannelRhythm(
        channel=channel,
        quiet_start=f"{row.quiet_start:%H:%M}",
        quiet_end=f"{row.quiet_end:%H:%M}",
        preferred_windows=[w for w in row.preferred_windows.split(",") if w],
        sms_on_rest_days=row.sms_on_rest_days,
        timezone=row.timezone,
        customised=True,
    )


def _rows(session: Session, account_id: int) -> dict[str, ContactRhythm]:
    rows = session.exec(
        select(ContactRhythm).where(ContactRhythm.person_kind == FAMILY_KIND, ContactRhythm.person_id == account_id)
    ).all()
    return {r.channel: r for r in rows}


@router.get("/api/famille/preferences/rythme")
def my_rhythm(principal: FamilyUser, session: SessionDep) -> RhythmOut:
    """Quiet hours and preferred windows of the family, per channel."""
    assert principal.family_account_id is not None
    rows = _rows(session, principal.family_account_id)
    return RhythmOut(channels=[_out(rows.get(c), c) for c in CHANNELS])


@router.put("/api/famille/preferences/rythme")
def set_my_rhythm(body: ChannelRhythm, principal: FamilyUser, session: SessionDep) -> RhythmOut:
    """Set quiet hours, preferred windows and SMS on Sundays/holidays for one channel."""
    assert principal.family_account_id is not None
    try:
        start, end = parse_hhmm(body.quiet_start), parse_hhmm(body.quiet_end)
    except ValueError as err:
        raise field_error("quiet_start", str(err)) from err
    try:
        windows = parse_windows(",".join(body.preferred_windows))
    except ValueError as err:
        raise field_error("preferred_windows", str(err)) from err
    try:
        ZoneInfo(body.timezone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise field_error("timezone", f"fuseau horaire inconnu : {body.timezone}") from err
    rhythm = Rhythm(Window(start, end), windows, body.sms_on_rest_days, body.timezone)
    try:
        # a week always has a slot unless the windows all fall in the quiet hours
        next_allowed(datetime(2026, 1, 5, 12, tzinfo=PARIS), rhythm, body.channel)
    except ValueError as err:
        raise field_error("preferred_windows", "aucun créneau préféré n'est en dehors des heures calmes") from err
    row = _rows(session, principal.family_account_id).get(body.channel) or ContactRhythm(
        person_kind=FAMILY_KIND, person_id=principal.family_account_id, channel=body.channel
    )
    row.quiet_start, row.quiet_end = start, end
    row.preferred_windows = format_windows(windows)
    row.sms_on_rest_days = body.sms_on_rest_days
    row.timezone = body.timezone
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    return my_rhythm(principal, session)


def _fr(at: datetime) -> str:
    return at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


@router.get("/api/operateur/notifications/en-attente")
def waiting(principal: OperatorUser, session: SessionDep, limit: Limit = 50) -> WaitingOut:
    """How many messages wait for their recipients' allowed hours, and when they will go."""
    groups = waiting_notifications(session)
    return WaitingOut(
        total=sum(g.count for g in groups),
        next_due_at=groups[0].due_at.isoformat() if groups else None,
        instants=[
            WaitingAt(due_at=g.due_at.isoformat(), due_at_paris=_fr(g.due_at), count=g.count, by_channel=g.by_channel)
            for g in groups[:limit]
        ],
    )


class FailedNotificationOut(BaseModel):
    """A message whose delivery failed (references only: no address, no content)."""

    id: int
    key: str
    channel: str
    template: str
    subject_ref: str
    at: AwareDatetime
    resendable: bool


@router.get("/api/operateur/notifications/echecs")
def failed(principal: Resender, session: SessionDep, limit: Limit = 100) -> list[FailedNotificationOut]:
    """Messages whose delivery failed, newest first; `resendable` when their content was kept."""
    return [
        FailedNotificationOut(
            id=n.id or 0,
            key=n.key,
            channel=n.channel,
            template=n.template,
            subject_ref=n.subject_ref,
            at=n.sent_at.replace(tzinfo=UTC) if n.sent_at.tzinfo is None else n.sent_at,
            resendable=kept,
        )
        for n, kept in failed_notifications(session, limit)
    ]


@router.post(
    "/api/operateur/notifications/{notification_id}/renvoi",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409, 422, 503),
)
async def resend(
    notification_id: DbId,
    body: OperatorReason,
    principal: Resender,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> dict[str, str]:
    """Resend a failed message now, through the delivery workflow of this minute (durable, sent once)."""
    try:
        key, at = requeue_failed(session, notification_id, utcnow())
    except LookupError:
        raise not_found() from None
    except NotResendable as err:
        raise HTTPException(status.HTTP_409_CONFLICT, err.message_fr) from None
    audit(session, principal, "notification.resend", key, body.reason)
    # queued first: should this start fail, the next delivery workflow (of any later instant) sends it
    try:
        await start_delivery(temporal, settings.task_queue, at)
    except RPCError as err:
        raise temporal_refusal(err, "Message remis en file ; son envoi reprendra au prochain passage.") from None
    return {"status": "scheduled", "due_at": at.isoformat()}
