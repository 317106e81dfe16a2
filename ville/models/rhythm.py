"""People's rhythms (quiet hours, preferred windows) and the messages waiting for them."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ville.models.common import ts_field


class ContactRhythm(SQLModel, table=True):
    """When one person (a payer, an inspector, a partner service...) may be reached on one channel."""

    __tablename__ = "contact_rhythm"
    __table_args__ = (UniqueConstraint("person_kind", "person_id", "channel", name="uq_contact_rhythm_person"),)

    id: int | None = Field(default=None, primary_key=True)
    person_kind: str = Field(max_length=40)  # the notification recipient kind: payer, inspector...
    person_id: int
    channel: str = Field(max_length=10)  # email | sms
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    preferred_windows: str = Field(default="", max_length=200)  # "12:00-14:00,19:00-20:30"
    sms_on_rest_days: bool = False
    timezone: str = Field(default="Europe/Paris", max_length=64)
    updated_at: datetime = ts_field()


class ScheduledNotification(SQLModel, table=True):
    """A message waiting for its recipient's next allowed moment; sent by the delivery workflow of `due_at`."""

    __tablename__ = "scheduled_notification"
    __table_args__ = (Index("ix_scheduled_notification_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=160)
    due_at: datetime = ts_field()
    channel: str = Field(max_length=10)
    template: str = Field(max_length=60)
    recipient_kind: str = Field(max_length=40)
    recipient_id: int
    subject_ref: str = Field(max_length=40)
    urgent: bool = False
    context_json: str = Field(default="{}", sa_type=Text)  # references only, like NotificationRequest.context
    status: str = Field(default="waiting", max_length=20)  # waiting | sent | failed
    created_at: datetime = ts_field()
    sent_at: datetime | None = ts_field(nullable=True)
