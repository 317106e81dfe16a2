"""Builds every activity with its injected clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.client import Client

from activities.audit import AuditActivities
from activities.billing import BillingActivities
from activities.contests import ContestActivities
from activities.notifications import NotificationActivities
from activities.payment_plans import PaymentPlanActivities
from activities.payments import PaymentActivities
from activities.referrals import ReferralActivities
from activities.simulation import SimulationActivities
from services.billing import BillingStore
from services.delivery import TemporalDeliveryScheduler, load_rhythms
from services.notifications import Notifier
from services.payments import PaymentStore
from services.stripe_client import make_stripe_client
from ville.aws import aws_client
from ville.db import SessionFactory, engine_for
from ville.settings import Settings


def build_activities(settings: Settings, client: Client | None = None) -> list[Callable[..., Any]]:
    """Instantiate the activity classes for this process and return their bound activities."""
    sessions = SessionFactory(engine_for(settings.database_url))
    s3 = aws_client(settings, "s3")
    # Rhythm-aware delivery needs the client: non-urgent messages outside allowed hours wait in a workflow.
    scheduler = (
        TemporalDeliveryScheduler(client, settings.task_queue)
        if client is not None and settings.rhythm_delivery
        else None
    )
    notifier = Notifier(
        sessions, aws_client(settings, "ses"), aws_client(settings, "sns"), settings, scheduler, load_rhythms
    )
    notifications = NotificationActivities(notifier)
    billing = BillingActivities(BillingStore(sessions), notifier, s3, settings, client)
    payments = PaymentActivities(make_stripe_client(settings), PaymentStore(sessions))
    return [
        notifications.send_notifications,
        notifications.deliver_due_notifications,
        billing.plan_cycle,
        billing.preview_batch,
        billing.issue_batch,
        billing.archive_batch,
        billing.deliver_batch,
        billing.start_sepa_debits,
        billing.run_dunning_step,
        payments.create_intent,
        payments.confirm_intent,
        payments.retrieve_intent,
        payments.record_intent_outcome,
        payments.account_of,
        payments.mandate_active,
        payments.invoice_remaining,
        *ReferralActivities(sessions, s3, notifier, settings).activities(),
        *AuditActivities(sessions, s3, notifier, settings, client).activities(),
        *SimulationActivities(sessions, s3, settings).activities(),
        *ContestActivities(sessions, notifier, PaymentStore(sessions), s3, settings).activities(),
        *PaymentPlanActivities(sessions, notifier, settings, payments).activities(),
    ]
