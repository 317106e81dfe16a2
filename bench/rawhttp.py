"""A minimal HTTP/1.1 load driver: persistent connections, one request at a time on each, bytes written by hand.

The open-loop benchmarks need a driver that costs far less CPU than the server it measures, on the same
cores. httpx spent 8 to 25 ms of CPU per webhook at 200/s (its connection pool bookkeeping grows with the
requests in flight) and fell behind its own schedule (`driver_lag_ms` p50 260 ms), so the latencies were the
driver's. This client only writes a request and reads a `Content-Length` answer; it is not a general client.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class HttpError(Exception):
    """The connection failed or the answer was not HTTP/1.1 with a Content-Length."""


class RawPool:
    """Up to `size` keep-alive connections to one `http://host:port`; a request waits for a free one."""

    def __init__(self, base_url: str, size: int, timeout: float = 30.0) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.timeout = timeout
        self._free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = asyncio.Queue()
        for _ in range(size):
            self._free.put_nowait(None)  # opened on first use

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
        """Send one request and read its whole answer; returns the status code."""
        conn = await self._free.get()
        try:
            if conn is not None:
                try:
                    return await asyncio.wait_for(self._exchange(conn, method, path, body, headers or {}), self.timeout)
                except asyncio.IncompleteReadError as err:
                    if err.partial:
                        raise
                    # closed by the server while idle (uvicorn's keep-alive is 5 s), before it read anything:
                    # what any client does, send it again on a new connection
                    conn[1].close()
            conn = await asyncio.open_connection(self.host, self.port)
            status = await asyncio.wait_for(self._exchange(conn, method, path, body, headers or {}), self.timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, HttpError) as err:
            if conn is not None:
                conn[1].close()
            conn = None
            raise HttpError(type(err).__name__) from err
        finally:
            self._free.put_nowait(conn)
        return status

    async def _exchange(
        self,
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
    ) -> int:
        reader, writer = conn
        head = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}", f"content-length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HttpError(f"not an HTTP answer: {lines[0][:40]!r}")
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length is None:
            raise HttpError("answer without Content-Length")
        await reader.readexactly(length)
        return int(parts[1])

    async def close(self) -> None:
        """Close every open connection."""
        while not self._free.empty():
            conn = self._free.get_nowait()
            if conn is not None:
                conn[1].close()


class RoundRobin(RawPool):
    """One pool per API process, used in turn: the load balancer in front of the replicas (`--api-processes`)."""

    def __init__(self, base_urls: list[str], size: int, timeout: float = 30.0) -> None:
        self.pools = [RawPool(u, max(1, size // len(base_urls)), timeout) for u in base_urls]
        self._turn = 0

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
        """The request on the next process's pool."""
        pool = self.pools[self._turn % len(self.pools)]
        self._turn += 1
        return await pool.request(method, path, body, headers)

    async def close(self) -> None:
        """Close every pool."""
        for pool in self.pools:
            await pool.close()
