"""A small token-bucket rate limiter per client and route group (per replica; a shared store in prod)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fastapi import HTTPException, Request, status


@dataclass
class _Bucket:
    tokens: float
    updated: float = field(default_factory=time.monotonic)


class RateLimiter:
    """Allows `rate` requests per `per` seconds with bursts up to `burst`, keyed by client address."""

    def __init__(self, name: str, rate: float, per: float, burst: int) -> None:
        self.name = name
        self._refill = rate / per
        self._burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key: str) -> bool:
        """Take one token; False when the bucket is empty."""
        now = time.monotonic()
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) > 50_000:  # bounded memory under a flood of distinct clients
                self._buckets.clear()
            b = self._buckets[key] = _Bucket(tokens=self._burst, updated=now)
        b.tokens = min(self._burst, b.tokens + (now - b.updated) * self._refill)
        b.updated = now
        if b.tokens < 1:
            return False
        b.tokens -= 1
        return True

    async def __call__(self, request: Request) -> None:
        """FastAPI dependency: 429 when the caller exceeds the limit."""
        client = request.client.host if request.client else "unknown"
        if not self.check(client):
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS, "Trop de requêtes, réessayez plus tard", {"Retry-After": "10"}
            )
