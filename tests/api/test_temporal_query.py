"""A workflow query from a request handler answers within its bound, whatever the client's retries."""

import asyncio
from datetime import timedelta

import pytest
from temporalio.service import RPCError, RPCStatusCode

from api.temporal_query import bounded


async def test_an_unanswered_query_becomes_deadline_exceeded() -> None:
    never = asyncio.Event()
    with pytest.raises(RPCError) as raised:
        await bounded(never.wait(), timedelta(milliseconds=50))
    assert raised.value.status is RPCStatusCode.DEADLINE_EXCEEDED


async def test_an_answered_query_returns_its_value() -> None:
    async def answer() -> int:
        return 42

    assert await bounded(answer()) == 42


async def test_the_query_own_errors_pass_through() -> None:
    async def refused() -> None:
        raise RPCError("not found", RPCStatusCode.NOT_FOUND, b"")

    with pytest.raises(RPCError) as raised:
        await bounded(refused())
    assert raised.value.status is RPCStatusCode.NOT_FOUND
