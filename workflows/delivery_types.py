"""Inputs and results of the rhythm-aware delivery workflow and its activity (no SDK imports)."""

from __future__ import annotations

from dataclasses import dataclass

DELIVER_DUE = "deliver_due_notifications"
DELIVERY_BATCH = 500  # messages per activity call: one SES/SNS burst, one transaction


@dataclass
class NotificationDeliveryInput:
    """The instant (ISO 8601, UTC) at which the waiting messages of this workflow may go."""

    due_at: str


@dataclass
class DeliverDueRequest:
    """Send up to `limit` waiting messages due at or before `until`, recording `sent_at` as the send time."""

    until: str
    sent_at: str
    limit: int = DELIVERY_BATCH


@dataclass
class DeliverDueResult:
    """What one call sent, and how many due messages are still waiting after it."""

    sent: int
    failed: int
    remaining: int


@dataclass
class NotificationDeliveryResult:
    """Messages sent (or failed for good) by one delivery workflow."""

    due_at: str
    sent: int
    failed: int
