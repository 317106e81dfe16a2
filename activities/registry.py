"""Builds every activity with its injected clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.notifications import NotificationActivities, Notifier
from ville.aws import aws_client
from ville.db import SessionFactory, engine_for
from ville.settings import Settings


def build_activities(settings: Settings) -> list[Callable[..., Any]]:
    """Instantiate the activity classes for this process and return their bound activities."""
    sessions = SessionFactory(engine_for(settings.database_url))
    notifier = Notifier(sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), settings)
    notifications = NotificationActivities(notifier)
    return [
        notifications.send_notifications,
    ]
