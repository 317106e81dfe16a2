"""The family's delivery preferences: e-mail or post, SMS reminders, and its contact rhythm per channel."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter

from api.deps import SessionDep
from api.errors import field_error
from api.routes.family.account import my_account, own_account
from api.schemas.billing import AccountOut, PreferencesIn
from api.schemas.notifications import ChannelRhythm, RhythmOut
from api.security import FamilyUser
from domain.delivery import CHANNELS, format_windows, parse_hhmm, parse_windows
from domain.rhythm import PARIS, Rhythm, Window, next_allowed
from services import accounts
from services.delivery import rhythm_rows, save_rhythm
from ville.models.common import utcnow
from ville.models.rhythm import ContactRhythm

router = APIRouter(prefix="/api/family", tags=["family"])
# the recipient kind under which family messages are sent (see the payer resolver in activities.billing)
FAMILY_KIND = "payer"


@router.put("/preferences")
def set_preferences(body: PreferencesIn, principal: FamilyUser, session: SessionDep) -> AccountOut:
    """Choose e-mail or post for invoices, and SMS reminders."""
    accounts.set_preferences(session, own_account(session, principal), body.delivery_channel, body.sms_opt_in)
    return my_account(principal, session)


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


@router.get("/preferences/rhythm")
def my_rhythm(principal: FamilyUser, session: SessionDep) -> RhythmOut:
    """Quiet hours and preferred windows of the family, per channel."""
    assert principal.family_account_id is not None
    rows = rhythm_rows(session, FAMILY_KIND, principal.family_account_id)
    return RhythmOut(channels=[_out(rows.get(c), c) for c in CHANNELS])


@router.put("/preferences/rhythm")
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
    save_rhythm(
        session, FAMILY_KIND, principal.family_account_id, body.channel, rhythm, format_windows(windows), utcnow()
    )
    return my_rhythm(principal, session)
