"""Health probes, the API's /metrics, the worker's two metrics endpoints, tracing off by default."""

from __future__ import annotations

import gc
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.security import Principal
from stack import devstack
from ville import metrics
from ville.settings import Settings
from ville.tracing import configure_tracing, temporal_interceptors, tracing_enabled

ClientFactory = Callable[[Principal | None], httpx.AsyncClient]
BUSINESS_METRICS = [
    "ville_invoices_issued",
    "ville_amount_collected_cents",
    "ville_payments_failed",
    "ville_notifications_sent",
    "ville_notifications_failed",
    "ville_inspections_late",
    "ville_referral_sla_breaches",
    "ville_billing_cycle_progress_ratio",
    "ville_webhooks_received",
]


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


async def test_health_probes(client_for: ClientFactory) -> None:
    client = client_for(None)
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "temporal": True}


async def test_metrics_are_served_without_auth_and_list_business_metrics(client_for: ClientFactory) -> None:
    r = await client_for(None).get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(r.text)}
    assert set(BUSINESS_METRICS) <= families
    assert "ville_invoices_issued_total" in r.text


async def test_a_counter_increment_shows_on_metrics(client_for: ClientFactory) -> None:
    client = client_for(None)
    name = "ville_amount_collected_cents_total"
    before = _sample((await client.get("/metrics")).text, name, method="sepa")
    metrics.record_payment_collected("sepa", 12_345)
    metrics.WEBHOOKS_RECEIVED.labels(type="payment_intent.succeeded").inc()
    metrics.record_billing_progress("2027-01", done=250, total=1000)
    text = (await client.get("/metrics")).text
    assert _sample(text, name, method="sepa") == before + 12_345
    assert _sample(text, "ville_webhooks_received_total", type="payment_intent.succeeded") >= 1
    assert _sample(text, "ville_billing_cycle_progress_ratio", period="2027-01") == 0.25


def test_amounts_must_be_integer_cents() -> None:
    with pytest.raises(ValueError):
        metrics.record_payment_collected("card", 12.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        metrics.record_payment_collected("card", -1)


def test_worker_serves_business_metrics_on_the_port_after_the_sdk_one(settings: Settings) -> None:
    port = devstack.free_port()
    server = metrics.serve_business_metrics(settings.model_copy(update={"metrics_port": port - 1}))
    try:
        assert server.server_port == port
        metrics.INVOICES_ISSUED.inc(3)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert _sample(text, "ville_invoices_issued_total") >= 3
    finally:
        server.shutdown()
        server.server_close()


async def test_worker_runtime_exports_sdk_metrics(settings: Settings, time_env: WorkflowEnvironment) -> None:
    port = devstack.free_port()
    runtime = metrics.worker_runtime(settings.model_copy(update={"metrics_port": port}))
    client = await Client.connect(
        time_env.client.service_client.config.target_host,
        namespace=time_env.client.namespace,
        runtime=runtime,
    )
    assert await client.service_client.check_health()
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    assert "temporal_request" in text
    # the SDK's Rust objects are dropped now, not at interpreter exit (where they can abort the process)
    del client, runtime
    gc.collect()


def test_tracing_is_off_by_default(settings: Settings) -> None:
    assert settings.otel_exporter_otlp_endpoint is None
    assert not tracing_enabled(settings)
    assert configure_tracing(settings, "ville-test") is False
    assert temporal_interceptors(settings) == []
