"""Notification contracts: the shared send activity, the rhythm-aware delivery workflow (no SDK imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class NotificationActivity:
    """Activity names of `services/notifications.py`: workflows call them by these names."""

    SEND = "send_notifications"
    DELIVER_DUE = "deliver_due_notifications"


DELIVERY_WORKFLOW = "NotificationDeliveryWorkflow"  # its type name, for the activity that starts it
DELIVER_DUE = NotificationActivity.DELIVER_DUE
DELIVERY_BATCH = 500  # messages per activity call: one SES/SNS burst, one transaction


@dataclass
class NotificationDeliveryInput:
    """The instant (UTC) at which the waiting messages of this workflow may go."""

    due_at: datetime


@dataclass
class DeliverDueRequest:
    """Send up to `limit` waiting messages due at or before `until`, recording `sent_at` as the send time."""

    until: datetime
    sent_at: datetime
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

    due_at: datetime
    sent: int
    failed: int


@dataclass(frozen=True)
class NotificationRequest:
    """A message to send once: recipients are references, context holds no personal data."""

    key: str
    channel: str  # email | sms
    template: str
    recipient_kind: str
    recipient_id: int
    subject_ref: str
    context: dict[str, str] = field(default_factory=dict)
    urgent: bool = False  # the person is waiting for it: it ignores quiet hours (see domain.delivery)


@dataclass(frozen=True)
class NotificationOutcome:
    """How many messages of a call were sent now, or had been sent before."""

    sent: int
    already_sent: int
    failed: int
    scheduled: int = 0  # waiting for the recipient's next allowed moment (rhythm-aware delivery)
    retryable: int = 0  # of `failed`: the provider did not answer (not a missing address): worth retrying
