"""API CPU per webhook, in one process: the real app called over ASGI, without HTTP, driver or uvicorn around it.

Run: ``.venv/bin/python -m bench.webhook_api_cpu [--events 1000] [--db sqlite|postgresql]``.

The open-loop benchmark (``bench.webhooks``) shares two cores with the dev server, the worker and the driver; on a
loaded machine its latencies say little. This one counts the CPU seconds of this process (the route, its database
statements, the Temporal client and its Rust core, the logs) over `--events` validly signed webhooks about
PaymentIntents recorded against their invoices, 20 in flight, on the embedded stack's Temporal dev server
(signal-with-start; no worker, so every event lands in a workflow started by its first event).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from typing import Any

from bench.stack import add_db_option, embedded_stack, table
from bench.webhooks_driver import event_body, seed_targets, sign
from domain.numbering import format_invoice_number
from ville.temporal import connect, register_search_attributes

IN_FLIGHT = 20
WARM_UP = 200


async def post(app: Any, body: bytes, signature: bytes) -> int:
    """One POST /webhooks/stripe straight into the ASGI app; its status code."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/stripe",
        "raw_path": b"/webhooks/stripe",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"stripe-signature", signature),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def run(events: int, db: str) -> dict[str, Any]:
    """Seed, warm up, then time `events` webhooks; CPU and wall milliseconds per webhook."""
    with embedded_stack(db=db) as stack:
        url = stack.fresh_db("webhook-api-cpu")
        settings = stack.settings_for(url, "bench-webhook-api-cpu").model_copy(update={"log_format": "json"})
        client = await connect(settings)
        await register_search_attributes(client, settings.temporal_namespace)
        from api.app import create_app

        app = create_app(settings, temporal=client)
        secret = settings.stripe_webhook_secret.get_secret_value()
        run_id = f"{os.getpid()}{int(time.time()) % 100000}"
        numbers = [format_invoice_number(2099, k + 1, "BCPU") for k in range(50)]
        targets = [(numbers[i % 50], f"pi_cpu_{run_id}_{i:07d}") for i in range(WARM_UP + events)]
        seed_targets(url, targets)
        signed = []
        for i, (number, intent) in enumerate(targets):
            _, body = event_body(run_id, i, number, intent)
            signed.append((body, sign(body, secret, int(time.time())).encode()))
        limit = asyncio.Semaphore(IN_FLIGHT)

        async def one(i: int) -> int:
            async with limit:
                return await post(app, *signed[i])

        async with app.router.lifespan_context(app):
            await asyncio.gather(*(one(i) for i in range(WARM_UP)))
            cpu0, wall0 = time.process_time(), time.perf_counter()
            statuses = await asyncio.gather(*(one(WARM_UP + i) for i in range(events)))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {
        "db": db,
        "events": events,
        "statuses": dict(Counter(statuses)),
        "api_cpu_ms_per_webhook": round(1000 * cpu / events, 2),
        "wall_ms_per_webhook": round(1000 * wall / events, 2),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1000, help="webhooks timed (after 200 of warm-up)")
    add_db_option(p)
    args = p.parse_args()
    out = asyncio.run(run(args.events, args.db))
    print(table([(k, str(v)) for k, v in out.items()], "API CPU per webhook (one process, ASGI)"), flush=True)


if __name__ == "__main__":
    main()
