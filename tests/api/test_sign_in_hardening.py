"""Sign-in and sessions against the real API server (uvicorn as `make run` starts it)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.workflows.conftest import BillingWorld, billing_world, serve_api  # noqa: F401


@pytest.fixture
def api(billing_world: BillingWorld, local_env: WorkflowEnvironment) -> Iterator[str]:  # noqa: F811
    """The real API, trusting no proxy (the default)."""
    with serve_api(billing_world, local_env) as url:
        yield url


def _sign_in_statuses(base: str, n: int, forwarded: bool) -> list[int]:
    with httpx.Client(base_url=base, timeout=30) as c:
        return [
            c.post(
                "/auth/magic-link",
                json={"email": f"personne{i}@exemple.fr"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"} if forwarded else {},
            ).status_code
            for i in range(n)
        ]


def test_forwarded_for_from_loopback_does_not_bypass_the_sign_in_limit(api: str) -> None:
    statuses = _sign_in_statuses(api, 7, forwarded=True)
    assert statuses[:5] == [200] * 5
    assert 429 in statuses[5:], statuses


def test_a_listed_proxy_is_believed(billing_world: BillingWorld, local_env: WorkflowEnvironment) -> None:  # noqa: F811
    with serve_api(billing_world, local_env, TRUSTED_PROXIES="127.0.0.1") as url:
        # each request names another client: none of them reaches its own limit
        assert _sign_in_statuses(url, 7, forwarded=True) == [200] * 7
