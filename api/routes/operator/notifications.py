"""Notifications for operators: messages waiting for their recipients' hours, failed ones, and resending one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from temporalio.service import RPCError

from api.audit_log import OperatorReason, audit
from api.deps import DbId, Limit, SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses, temporal_refusal
from api.schemas.notifications import FailedNotificationOut, WaitingAt, WaitingOut
from api.security import Principal, not_found, require
from domain.rhythm import PARIS
from services.delivery import NotResendable, failed_notifications, requeue_failed, start_delivery, waiting_notifications
from ville.models.common import utcnow
from ville.models.people import Role

router = APIRouter(prefix="/api/operator/notifications", tags=["operator"])
OperatorUser = Annotated[Principal, require(Role.operator, Role.billing_operator, Role.quality_team, Role.coordinator)]
Resender = Annotated[Principal, require(Role.operator, Role.billing_operator)]


def _fr(at: datetime) -> str:
    return at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


@router.get("/pending")
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


@router.get("/failures")
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
    "/{notification_id}/resend",
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
