"""Workflow queries from request handlers, bounded in time."""

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from temporalio.service import RPCError, RPCStatusCode

T = TypeVar("T")

QUERY_TIMEOUT = timedelta(seconds=5)


async def bounded(call: Awaitable[T], timeout: timedelta = QUERY_TIMEOUT) -> T:
    """Await a Temporal query for at most `timeout`, else raise DEADLINE_EXCEEDED like the server would.

    `rpc_timeout` bounds one RPC, but the client retries some answers (a server busy, no poller yet) with
    backoff, so under load a query to a workflow nobody polls can outlive it: a page must still answer.
    """
    try:
        return await asyncio.wait_for(call, timeout.total_seconds())
    except TimeoutError:
        raise RPCError("query not answered in time", RPCStatusCode.DEADLINE_EXCEEDED, b"") from None
