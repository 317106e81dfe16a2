"""Business metrics (prometheus_client) shared by the API and the worker; labels never carry personal data.

Where they are scraped:

- API process: `GET /metrics` on the API port (unauthenticated, see `api/routes/metrics.py`).
- Worker process: two endpoints, both bound to 127.0.0.1:
  - `:<METRICS_PORT>/metrics`: Temporal SDK runtime metrics (task slots, latencies, polls, `temporal_*`),
    served by the SDK's Rust core through `temporalio.runtime.PrometheusConfig` (see `worker_runtime`);
  - `:<METRICS_PORT + 1>/metrics`: these business metrics as incremented by activities, served by
    prometheus_client (see `serve_business_metrics`).
  Two ports because the SDK core owns its exporter's HTTP server and cannot include Python collectors;
  bridging through `MetricBuffer` would re-implement histograms for no gain.

Label values are small closed sets (payment methods, channels, failure types, billing periods): never ids,
names or addresses. With several API processes per host (uvicorn `--workers`), each process has its own
registry: scrape each replica, or set up prometheus_client's multiprocess mode.
"""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, start_http_server
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from ville.settings import Settings

INVOICES_ISSUED = Counter("ville_invoices_issued", "Factures émises (invoices issued).")
AMOUNT_COLLECTED_CENTS = Counter(
    "ville_amount_collected_cents",
    "Montant encaissé en centimes d'euro, par moyen de paiement (card, sepa, cesu, cheque, ...).",
    ["method"],
)
PAYMENTS_FAILED = Counter(
    "ville_payments_failed", "Paiements échoués, par type d'échec (card_declined, sepa_rejected, ...).", ["reason"]
)
NOTIFICATIONS_SENT = Counter("ville_notifications_sent", "Notifications envoyées, par canal.", ["channel"])
NOTIFICATIONS_FAILED = Counter("ville_notifications_failed", "Notifications en échec, par canal.", ["channel"])
INSPECTIONS_LATE = Gauge("ville_inspections_late", "Missions d'audit QualiParis en retard (dernière mesure).")
REFERRAL_SLA_BREACHES = Counter(
    "ville_referral_sla_breaches", "Orientations RIF dont le délai de réponse du partenaire est dépassé."
)
BILLING_CYCLE_PROGRESS = Gauge(
    "ville_billing_cycle_progress_ratio",
    "Avancement du cycle de facturation (0 à 1), par période (2027-01).",
    ["period"],
)
WEBHOOKS_RECEIVED = Counter("ville_webhooks_received", "Webhooks reçus, par type d'événement.", ["type"])


def record_payment_collected(method: str, amount_cents: int) -> None:
    """Count an amount collected; integer cents only, so no float ever enters the money path."""
    if not isinstance(amount_cents, int) or amount_cents < 0:
        raise ValueError("amount_cents must be a non-negative int")
    AMOUNT_COLLECTED_CENTS.labels(method=method).inc(amount_cents)


def record_billing_progress(period: str, done: int, total: int) -> None:
    """Set the billing cycle's progress for `period` from counts of processed and total families."""
    BILLING_CYCLE_PROGRESS.labels(period=period).set(done / total if total else 1.0)


def worker_runtime(settings: Settings) -> Runtime:
    """A Temporal runtime exporting SDK metrics on METRICS_BIND_HOST:METRICS_PORT (create once per process)."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"{settings.metrics_bind_host}:{settings.metrics_port}")
        )
    )


def serve_business_metrics(settings: Settings, registry: CollectorRegistry = REGISTRY) -> WSGIServer:
    """Serve this process's business metrics on METRICS_BIND_HOST:METRICS_PORT+1 (a daemon thread; `shutdown()`)."""
    server, _thread = start_http_server(settings.metrics_port + 1, addr=settings.metrics_bind_host, registry=registry)
    return server


CONTESTS_DECIDED = Counter(
    "ville_contests_decided",
    "Réclamations tranchées, par décision (accepted, partially_accepted, refused).",
    ["status"],
)
