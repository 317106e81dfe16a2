"""Prometheus scrape endpoint of the API process.

`GET /metrics` is unauthenticated, as Prometheus scrapers usually are: it must only be reachable from the
private network (the public reverse proxy does not route `/metrics`). It holds counters and gauges labelled by
closed sets (payment method, channel, event type, billing period) and process metrics: no personal data.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The process's metrics in the format the scraper asks for (Prometheus text or OpenMetrics)."""
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(REGISTRY), media_type=content_type)
