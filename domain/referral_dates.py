"""Dates of a referral case: SLA clocks, reminders and expiry, retention, links, follow-up, appointment window."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple, TypeVar

from domain import referral_messages as msg
from domain.calendar import PARIS, add_business_days, add_months
from domain.referrals import ReferralState

ACK_BUSINESS_DAYS = 3
REMINDER_EVERY_DAYS = 10
EXPIRY_DAYS = 30
LINK_VALIDITY_DAYS = 8
ATTACHMENT_RETENTION_MONTHS = 6
ANONYMISATION_DAYS = 730
FOLLOW_UP_DAYS = 15
"""Days after an acceptance before the relay checks with the family that help was received."""
FAMILY_LINK_VALIDITY_DAYS = 90
APPOINTMENT_HORIZON_DAYS = 366
"""An appointment a partner announces lies within the coming year."""

_D = TypeVar("_D", date, datetime)


def require_aware(**values: datetime | None) -> None:
    """Raise ValueError for a naive datetime: every instant of a case is timezone-aware."""
    for name, value in values.items():
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"{name} must be timezone-aware")


# --- SLA clocks and retention ------------------------------------------------------------------


def ack_deadline(sent_at_date: date, business_days: int = ACK_BUSINESS_DAYS) -> date:
    """Last day for the partner to acknowledge: the n-th French business day after sending."""
    if business_days < 1:
        raise ValueError("business_days must be >= 1")
    return add_business_days(sent_at_date, business_days)


def ack_deadline_at(sent_at: datetime, business_days: int = ACK_BUSINESS_DAYS) -> datetime:
    """Instant the acknowledgement SLA is breached: the end of the deadline day, Paris time."""
    require_aware(sent_at=sent_at)
    last_day = ack_deadline(sent_at.astimezone(PARIS).date(), business_days)
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=PARIS)


def ack_last_day(deadline_at: datetime) -> date:
    """The last day (Paris) to acknowledge, from the instant the SLA is breached (`ack_deadline_at`).

    The breach instant is midnight after that day: its own date would print one day late.
    """
    require_aware(deadline_at=deadline_at)
    return (deadline_at.astimezone(PARIS) - timedelta(microseconds=1)).date()


def expires_at(opened: datetime, days: int = EXPIRY_DAYS) -> datetime:
    """Instant an unanswered referral expires."""
    require_aware(opened=opened)
    return opened + timedelta(days=days)


def reminder_times(
    opened: datetime, every_days: int = REMINDER_EVERY_DAYS, expiry_days: int = EXPIRY_DAYS
) -> list[datetime]:
    """Reminder instants of a referral left unanswered: every `every_days`, strictly before expiry."""
    if every_days < 1:
        raise ValueError("every_days must be >= 1")
    end = expires_at(opened, expiry_days)
    times: list[datetime] = []
    at = opened + timedelta(days=every_days)
    while at < end:
        times.append(at)
        at += timedelta(days=every_days)
    return times


def link_expiry(issued: datetime, days: int = LINK_VALIDITY_DAYS) -> datetime:
    """Instant a partner's secure answer link stops working."""
    require_aware(issued=issued)
    return issued + timedelta(days=days)


def _shift_months(value: _D, months: int) -> _D:
    target = add_months(value.date() if isinstance(value, datetime) else value, months)
    return value.replace(year=target.year, month=target.month, day=target.day)


def attachments_delete_at(opened: _D, months: int = ATTACHMENT_RETENTION_MONTHS) -> _D:
    """When a referral's attachments are deleted (calendar months, day clamped to month end)."""
    return _shift_months(opened, months)


def anonymise_at(closed_or_opened: _D, days: int = ANONYMISATION_DAYS) -> _D:
    """When the personal data of a case is anonymised."""
    return closed_or_opened + timedelta(days=days)


# --- timers ------------------------------------------------------------------------------------


class ReferralAction(StrEnum):
    """What the referral workflow must do next."""

    REMIND = "remind"
    ESCALATE = "escalate"
    EXPIRE = "expire"
    NONE = "none"


class NextAction(NamedTuple):
    """The next action and when to apply it (`at` may be in the past: apply it now)."""

    action: ReferralAction
    at: datetime | None


def next_referral_action(
    state: ReferralState,
    now: datetime,
    opened_at: datetime | None,
    acked: bool,
    last_reminder_at: datetime | None,
    sla_deadline: datetime | None,
    escalated: bool,
    *,
    every_days: int = REMINDER_EVERY_DAYS,
    expiry_days: int = EXPIRY_DAYS,
) -> NextAction:
    """The earliest due timer of an open referral, so the workflow sleeps until `at` then applies it.

    Expiry wins over everything at the same instant, escalation over a reminder; an unacknowledged
    referral is escalated once at `sla_deadline`; reminders run every `every_days` after the later of
    opening and the last reminder, so a late worker sends one catch-up reminder, not a burst.
    Call again after applying the action (or when a signal arrives) to get the next one.
    """
    require_aware(now=now, opened_at=opened_at, last_reminder_at=last_reminder_at, sla_deadline=sla_deadline)
    if ReferralState(state) is not ReferralState.OPEN:
        return NextAction(ReferralAction.NONE, None)
    if opened_at is None:
        raise ValueError("an open referral needs opened_at")
    expiry = expires_at(opened_at, expiry_days)
    if now >= expiry:
        return NextAction(ReferralAction.EXPIRE, expiry)
    # (instant, priority) so that ties resolve expire < escalate < remind
    candidates: list[tuple[datetime, int, ReferralAction]] = [(expiry, 0, ReferralAction.EXPIRE)]
    if not acked and not escalated and sla_deadline is not None:
        candidates.append((sla_deadline, 1, ReferralAction.ESCALATE))
    base = opened_at if last_reminder_at is None else max(opened_at, last_reminder_at)
    reminder = base + timedelta(days=every_days)
    if reminder < expiry:
        candidates.append((reminder, 2, ReferralAction.REMIND))
    at, _, action = min(candidates, key=lambda c: (c[0], c[1]))
    return NextAction(action, at)


# --- case closure ------------------------------------------------------------------------------


# --- the family's links, the follow-up, the appointment ----------------------------------------


def family_link_expiry(issued: datetime) -> datetime:
    """Instant the family's status link (sent at opening and with the follow-up) stops working."""
    return link_expiry(issued, FAMILY_LINK_VALIDITY_DAYS)


def follow_up_at(accepted: datetime, days: int = FOLLOW_UP_DAYS) -> datetime:
    """Instant the relay checks with the family that the accepted referral helped."""
    require_aware(accepted=accepted)
    return accepted + timedelta(days=days)


def appointment_problem(appointment_on: date | None, contact_made: bool, now: datetime) -> str | None:
    """Why a partner's acceptance is refused (French), or None: a day from today (Paris) to a year, or a contact."""
    if appointment_on is None:
        return None if contact_made else msg.APPOINTMENT_OR_CONTACT
    today = now.astimezone(PARIS).date()
    if appointment_on < today:
        return msg.APPOINTMENT_PAST
    if appointment_on > today + timedelta(days=APPOINTMENT_HORIZON_DAYS):
        return msg.APPOINTMENT_TOO_FAR
    return None
