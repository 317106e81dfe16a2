"""The notification activities: the shared send activity and the rhythm-aware delivery's batch."""

from __future__ import annotations

import structlog

from activities.definition import defn
from contracts.delivery import (
    DELIVER_DUE,
    DeliverDueRequest,
    DeliverDueResult,
    NotificationActivity,
    NotificationOutcome,
    NotificationRequest,
)
from services.notifications import Notifier, raise_if_retryable

log = structlog.get_logger(__name__)


class NotificationActivities:
    """Notification activities shared by the three processes."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    @defn(name=NotificationActivity.SEND)
    def send_notifications(self, requests: list[NotificationRequest]) -> NotificationOutcome:
        """Send a batch of messages, each at most once per key."""
        outcome = self.notifier.send_many(requests)
        if outcome.failed:
            log.info("notifications.partial", sent=outcome.sent, failed=outcome.failed)
        raise_if_retryable(outcome)
        return outcome

    @defn(name=DELIVER_DUE)
    def deliver_due_notifications(self, req: DeliverDueRequest) -> DeliverDueResult:
        """Send one batch of the stored messages whose moment has come (called by the delivery workflow)."""
        result = self.notifier.deliver_due(req.until, req.sent_at, req.limit)
        log.info("notifications.delivered", sent=result.sent, failed=result.failed, remaining=result.remaining)
        return result
