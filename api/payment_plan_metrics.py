"""Payment plans asked for, running and defaulted, read from the database when Prometheus scrapes the API."""

from __future__ import annotations

from collections.abc import Iterator

import structlog
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from domain.payment_plans import PlanStatus
from services import payment_plans
from ville.db import SessionFactory

log = structlog.get_logger(__name__)


class PaymentPlanCollector(Collector):
    """`ville_payment_plans{status}`: plans per status (requested, approved = running, defaulted...), at scrape time."""

    def __init__(self) -> None:
        self.sessions: SessionFactory | None = None

    def collect(self) -> Iterator[Metric]:
        """The metrics of the database the process serves (nothing before an app is bound)."""
        if self.sessions is None:
            return
        try:
            with self.sessions() as s:
                counts = payment_plans.counts(s)
        except SQLAlchemyError:
            log.warning("metrics.payment_plans_unavailable")
            return
        gauge = GaugeMetricFamily(
            "ville_payment_plans",
            "Échéanciers par état (approved : en cours ; defaulted : interrompus).",
            labels=["status"],
        )
        for status in PlanStatus:
            gauge.add_metric([status.value], counts.get(status.value, 0))
        yield gauge


PAYMENT_PLAN_COLLECTOR = PaymentPlanCollector()
REGISTRY.register(PAYMENT_PLAN_COLLECTOR)


def bind_payment_plan_metrics(sessions: SessionFactory) -> None:
    """Read the payment plans of this database (the app being created) on each scrape."""
    PAYMENT_PLAN_COLLECTOR.sessions = sessions
