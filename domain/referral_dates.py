"""Dates of a referral case the workflow sets: the family's links, the follow-up, the appointment window."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from domain import referral_messages as msg
from domain.calendar import PARIS
from domain.referrals import FAMILY_LINK_VALIDITY_DAYS, FOLLOW_UP_DAYS, link_expiry

APPOINTMENT_HORIZON_DAYS = 366
"""An appointment a partner announces lies within the coming year."""


def family_link_expiry(issued: datetime) -> datetime:
    """Instant the family's status link (sent at opening and with the follow-up) stops working."""
    return link_expiry(issued, FAMILY_LINK_VALIDITY_DAYS)


def follow_up_at(accepted: datetime, days: int = FOLLOW_UP_DAYS) -> datetime:
    """Instant the relay checks with the family that the accepted referral helped."""
    if accepted.tzinfo is None or accepted.utcoffset() is None:
        raise ValueError("accepted must be timezone-aware")
    return accepted + timedelta(days=days)


def appointment_problem(appointment_on: str | None, contact_made: bool, now: datetime) -> str | None:
    """Why a partner's acceptance is refused (French), or None: a day from today (Paris) to a year, or a contact."""
    if appointment_on is None:
        return None if contact_made else msg.APPOINTMENT_OR_CONTACT
    try:
        day = date.fromisoformat(appointment_on)
    except ValueError:
        return msg.APPOINTMENT_INVALID
    today = now.astimezone(PARIS).date()
    if day < today:
        return msg.APPOINTMENT_PAST
    if day > today + timedelta(days=APPOINTMENT_HORIZON_DAYS):
        return msg.APPOINTMENT_TOO_FAR
    return None
