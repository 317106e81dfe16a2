"""OpenTelemetry traces, off by default: on when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Spans go to an OTLP/HTTP collector (`<endpoint>/v1/traces`). The API instruments FastAPI; both the API's and
the worker's Temporal clients carry `temporalio.contrib.opentelemetry.TracingInterceptor`, so a request that
starts or signals a workflow, the workflow and its activities share one trace.

The OpenTelemetry SDK is imported lazily so that the default install does not need it. To enable tracing,
install: opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http, opentelemetry-instrumentation-fastapi.
Span attributes hold ids and routes only (no request bodies, no query strings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from ville.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = structlog.get_logger(__name__)

REQUIRED_PACKAGES = (
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation-fastapi",
)
_EXCLUDED_URLS = "healthz,readyz,metrics,static"
_configured_service: str | None = None


def tracing_enabled(settings: Settings) -> bool:
    """True when an OTLP endpoint is configured."""
    return bool(settings.otel_exporter_otlp_endpoint)


def _missing(err: ImportError) -> RuntimeError:
    return RuntimeError(
        "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed: add "
        + ", ".join(REQUIRED_PACKAGES)
        + f" ({err})"
    )


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a base endpoint, as the OTEL_EXPORTER_OTLP_ENDPOINT convention has it."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def configure_tracing(settings: Settings, service_name: str, exporter: Any = None) -> bool:
    """Install the global tracer provider once; False (and nothing imported) when tracing is off."""
    global _configured_service
    if not tracing_enabled(settings):
        return False
    if _configured_service is not None:
        return True
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as err:
        raise _missing(err) from err
    if exporter is None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as err:
            raise _missing(err) from err
        assert settings.otel_exporter_otlp_endpoint is not None
        exporter = OTLPSpanExporter(endpoint=traces_url(settings.otel_exporter_otlp_endpoint))
    resource = Resource.create({"service.name": service_name, "deployment.environment": settings.env})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured_service = service_name
    log.info("tracing.configured", service=service_name, endpoint=settings.otel_exporter_otlp_endpoint)
    return True


def instrument_fastapi(app: FastAPI, settings: Settings) -> bool:
    """Trace the API's requests (health, metrics and static files excluded); no-op when tracing is off."""
    if not configure_tracing(settings, "ville-api"):
        return False
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError as err:
        raise _missing(err) from err
    FastAPIInstrumentor.instrument_app(app, excluded_urls=_EXCLUDED_URLS)
    return True


def temporal_interceptors(settings: Settings, service_name: str = "ville") -> list[Any]:
    """Client (and so worker) interceptors propagating traces through Temporal; empty when tracing is off."""
    if not configure_tracing(settings, service_name):
        return []
    try:
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError as err:
        raise _missing(err) from err
    return [TracingInterceptor()]
