"""Request and response models of delivery: the family's contact rhythm, the operators' waiting and failed lists."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from domain.rhythm import Rhythm

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


class FailedNotificationOut(BaseModel):
    """A message whose delivery failed (references only: no address, no content)."""

    id: int
    key: str
    channel: str
    template: str
    subject_ref: str
    at: AwareDatetime
    resendable: bool
