"""A TCP fault proxy put between the worker and an emulator: pass, refuse (RST) or hang, switchable at runtime.

The proxy runs its own event loop in a thread, so that blocking calls of the test (database checks, Stripe
calls) never stall the worker's traffic. Semantics of the modes:

- `pass`: bytes flow both ways.
- `refuse`: the listening socket is closed (new connections get ECONNREFUSED) and every open connection,
  idle keep-alive ones included, is reset (RST); listening resumes when the mode leaves `refuse`.
- `hang`: new connections are accepted and never answered; on open connections the next request bytes are
  swallowed (never forwarded), so no request sent during the fault reaches the emulator and its client
  waits for its own timeout. A connection that hung stays hung after the fault: only a client timeout frees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from enum import StrEnum
from typing import Any, TypeVar

T = TypeVar("T")
_CHUNK = 65536


class Mode(StrEnum):
    """What the proxy does with traffic."""

    PASS = "pass"
    REFUSE = "refuse"
    HANG = "hang"


class _Conn:
    """One client connection and its upstream."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.hung = False

    def reset(self) -> None:
        """Abort both sides with an RST (SO_LINGER 0), not an orderly FIN."""
        for w in (self.client, self.upstream):
            if w is None:
                continue
            sock = w.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            w.transport.abort()


class FaultProxy:
    """A loopback TCP proxy in front of `upstream_port` whose behaviour the test switches."""

    def __init__(self, name: str, upstream_port: int) -> None:
        self.name = name
        self.upstream_port = upstream_port
        self.port = 0
        self.mode = Mode.PASS
        self.stats = {"connections": 0, "reset": 0, "hung": 0}
        self._conns: set[_Conn] = set()
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"fault-proxy-{name}", daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the proxy (what the worker is given instead of the emulator's)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        """Listen on a free loopback port."""
        self._thread.start()
        self._run(self._listen())
        assert self._server is not None
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        """Close every connection and the loop."""
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def set_mode(self, mode: Mode) -> None:
        """Switch the behaviour now (thread-safe)."""
        self._run(self._switch(mode))

    async def inject(self, mode: Mode, seconds: float) -> None:
        """Apply `mode` for `seconds` (the fault's duration), then let traffic pass again."""
        self.set_mode(mode)
        try:
            await asyncio.sleep(seconds)  # the fault's duration, not a synchronisation
        finally:
            self.set_mode(Mode.PASS)

    # --- proxy thread ------------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _switch(self, mode: Mode) -> None:
        previous, self.mode = self.mode, mode
        if mode is Mode.REFUSE:
            if self._server is not None:
                self._server.close()
                self._server = None
            for conn in list(self._conns):
                conn.reset()
                self.stats["reset"] += 1
        elif previous is Mode.REFUSE:
            # the port was free for the fault's duration; a client may not bind it (loopback, no listen)
            for _ in range(50):
                try:
                    await self._listen()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{self.name} proxy could not listen again on {self.port}")

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            conn.reset()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(writer)
        self._conns.add(conn)
        self.stats["connections"] += 1
        try:
            if self.mode is Mode.REFUSE:
                self.stats["reset"] += 1
                conn.reset()
                return
            if self.mode is Mode.HANG:
                await self._swallow(conn, reader)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            except OSError:
                conn.reset()
                return
            conn.upstream = up_writer
            await asyncio.gather(self._client_to_upstream(conn, reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._conns.discard(conn)
            for w in (writer, conn.upstream):
                if w is not None and not w.is_closing():
                    w.close()

    async def _swallow(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        """Read and drop whatever the client sends, never answer, until it gives up (its timeout)."""
        if not conn.hung:
            conn.hung = True
            self.stats["hung"] += 1
        while await reader.read(_CHUNK):
            pass

    async def _client_to_upstream(
        self, conn: _Conn, reader: asyncio.StreamReader, upstream: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await reader.read(_CHUNK):
                if self.mode is Mode.HANG or conn.hung:
                    await self._swallow(conn, reader)
                    break
                upstream.write(data)
                await upstream.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if not upstream.is_closing():
                upstream.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if not writer.is_closing():
                writer.close()
