"""Open contests and their age, read from the database when Prometheus scrapes the API (no personal data)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import structlog
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from domain.calendar import PARIS
from domain.contests import OPEN_STATUSES
from services import contests
from ville.db import SessionFactory

log = structlog.get_logger(__name__)
AGE_BUCKETS_DAYS = (1, 5, 10, 15, 21, 30, 60)  # 15 business days is about 21 calendar days


class ContestCollector(Collector):
    """`ville_contests_open{status}` and `ville_contests_open_age_days` (histogram), computed at scrape time."""

    def __init__(self) -> None:
        self.sessions: SessionFactory | None = None

    def collect(self) -> Iterator[Metric]:
        """The metrics of the database the process serves (nothing before an app is bound)."""
        if self.sessions is None:
            return
        today = datetime.now(PARIS).date()
        try:
            with self.sessions() as s:
                rows = contests.open_queue(s)
        except SQLAlchemyError:
            log.warning("metrics.contests_unavailable")
            return
        by_status = GaugeMetricFamily("ville_contests_open", "Réclamations en attente de décision.", labels=["status"])
        for status in sorted(OPEN_STATUSES):
            by_status.add_metric([status.value], sum(1 for r in rows if r.status == status.value))
        yield by_status
        ages = [max(0, (today - r.opened_on).days) for r in rows]
        buckets = [(str(b), sum(1 for a in ages if a <= b)) for b in AGE_BUCKETS_DAYS] + [("+Inf", len(ages))]
        age = HistogramMetricFamily("ville_contests_open_age_days", "Âge des réclamations en attente, en jours.")
        age.add_metric([], buckets, sum_value=sum(ages))
        yield age


CONTEST_COLLECTOR = ContestCollector()
REGISTRY.register(CONTEST_COLLECTOR)


def bind_contest_metrics(sessions: SessionFactory) -> None:
    """Read the contests of this database (the app being created) on each scrape."""
    CONTEST_COLLECTOR.sessions = sessions
