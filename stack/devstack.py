"""Child processes of the embedded default: Temporal dev server, localstripe, moto, worker, API."""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from ville.temporal import SEARCH_ATTRIBUTES

log = structlog.get_logger(__name__)
BIN = Path(sys.executable).parent
_SA_TYPES = {1: "Text", 2: "Keyword", 3: "Int", 4: "Double", 5: "Bool", 6: "Datetime", 7: "KeywordList"}


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if the process that started it dies (a killed test run leaves no orphan)
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# Service ports come from below Linux's ephemeral range (32768-60999), where outgoing connections draw their source
# ports: a port chosen there may be taken by one between its choice and the service's bind (two test passes run
# side by side, each with many connections).
_SERVICE_PORTS = range(20_000, 32_000)
_handed_out: set[int] = set()  # chosen by this process but maybe not bound yet: never handed out twice
_ports_lock = threading.Lock()


def free_port() -> int:
    """An unused loopback port for a service to bind."""
    return _free_ports(1)


def free_port_pair() -> int:
    """A loopback port p such that p and p + 1 are both free (the worker's SDK and business metrics ports)."""
    return _free_ports(2)


def _free_ports(count: int) -> int:
    last = _SERVICE_PORTS.stop - count
    start = random.randrange(_SERVICE_PORTS.start, last)  # two processes at once search from different places
    with _ports_lock:
        for port in (*range(start, last), *range(_SERVICE_PORTS.start, start)):
            ports = range(port, port + count)
            if _handed_out.isdisjoint(ports) and all(_bindable(p) for p in ports):
                _handed_out.update(ports)
                return port
    raise RuntimeError(f"no {count} free consecutive loopback port(s) in {_SERVICE_PORTS}")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Block until something accepts connections on `port`, or fail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)  # polling a port, not synchronising test logic
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Service:
    """A child process in its own process group, stopped with its children."""

    name: str
    argv: list[str]
    port: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    log_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> Service:
        """Spawn the process (output to its log file) and wait for its port."""
        out = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            self.argv,
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        if wait and self.port:
            wait_for_port(self.port, self.proc)
        log.info("service.started", service=self.name, pid=self.proc.pid, port=self.port)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait()
        log.info("service.stopped", service=self.name)

    def kill(self) -> None:
        """SIGKILL the whole group at once (crash tests)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(os.getpgid(self.proc.pid), signal.SIGKILL)
            self.proc.wait()


def api_command(port: int) -> list[str]:
    """The API server on loopback, as `ville dev` and the tests run it (client addresses: see TRUSTED_PROXIES)."""
    return [
        str(BIN / "uvicorn"), "api.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--no-proxy-headers",
    ]  # fmt: skip


def temporal_dev_server(
    db_file: Path | None, port: int, ui_port: int | None, codec_endpoint: str | None = None
) -> Service:
    """`temporal server start-dev` on loopback, persisted to `db_file` (WAL), search attributes registered."""
    argv = [
        str(BIN / "temporal"),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warn",
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--dynamic-config-value",
        "frontend.enableUpdateWorkflowExecution=true",
    ]
    if db_file is not None:
        argv += ["--db-filename", str(db_file)]
    if ui_port:
        argv += ["--ui-ip", "127.0.0.1", "--ui-port", str(ui_port), "--ui-disable-news-fetch"]
        if codec_endpoint:
            argv += ["--ui-codec-endpoint", codec_endpoint]
    else:
        argv.append("--headless")
    for name, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={_SA_TYPES[int(kind)]}"]
    return Service("temporal", argv, port=port)


def temporal_with_ui(db_file: Path | None, port: int, ui_port: int, api_url: str) -> list[Service]:
    """The dev server and, on `ui_port`, its Web UI behind a proxy that also serves the API's codec routes.

    Same origin for the UI and `/codec`: the browser sends the operator's session cookie with the UI's codec
    requests (start-dev cannot turn on the UI's `includeCredentials`); see api/temporal_ui_proxy.py.
    """
    internal_ui_port = free_port()
    proxy = Service(
        "temporal-ui",
        [
            str(BIN / "uvicorn"),
            "api.temporal_ui_proxy:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(ui_port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        port=ui_port,
        env={"UI_UPSTREAM": f"http://127.0.0.1:{internal_ui_port}", "API_UPSTREAM": api_url},
    )
    codec = f"http://127.0.0.1:{ui_port}/codec"
    return [temporal_dev_server(db_file, port, internal_ui_port, codec), proxy]


def localstripe(port: int, state_file: Path | None = None) -> Service:
    """The Stripe API emulator on loopback."""
    argv = [sys.executable, "-m", "stack.emulators.localstripe_server", "--port", str(port)]
    if state_file is not None:
        argv += ["--state", str(state_file)]
    return Service("localstripe", argv, port=port)


def moto(port: int) -> Service:
    """The AWS emulator (S3, SES, SNS, SQS) on loopback."""
    return Service("moto", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], port=port)


def emulator_env(temporal_port: int, stripe_port: int, moto_port: int) -> dict[str, str]:
    """Environment pointing the app at the local emulators (dev and tests only)."""
    return {
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
        "STRIPE_JS_URL": f"http://127.0.0.1:{stripe_port}/js.stripe.com/v3/",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-3",
    }
