"""What the QualiParis activity classes share: their injected clients, and refusals as Temporal errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

from services.audit import AuditRefusal
from services.notifications import Notifier
from ville.db import SessionFactory
from ville.settings import Settings
from ville.temporal import SA_BUSINESS_STATUS, SA_CAMPAIGN


class AuditActivityBase:
    """Sessions, S3, the notifier and the worker's Temporal client (to start inspections and follow-ups)."""

    def __init__(
        self, sessions: SessionFactory, s3: Any, notifier: Notifier, settings: Settings, client: Client | None = None
    ) -> None:
        self.sessions = sessions
        self.s3 = s3
        self.notifier = notifier
        self.bucket = settings.s3_bucket
        self.client = client


@contextmanager
def refusals() -> Iterator[None]:
    """A service's refusal becomes a non-retryable `ApplicationError` of the same type (the workflow maps it)."""
    try:
        yield
    except AuditRefusal as err:
        raise ApplicationError(err.message, type=err.type, non_retryable=True) from None


def search_attributes(enabled: bool, campaign_id: int, status: str) -> TypedSearchAttributes | None:
    """Operator search attributes (business keys only) when the namespace has them."""
    if not enabled:
        return None
    return TypedSearchAttributes(
        [SearchAttributePair(SA_CAMPAIGN, str(campaign_id)), SearchAttributePair(SA_BUSINESS_STATUS, status)]
    )
