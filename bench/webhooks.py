"""Benchmark: signed Stripe webhooks posted open-loop at increasing rates to the real API and worker.

Run: ``.venv/bin/python -m bench.webhooks [--rates 50 100 200 400] [--duration 10]``.

Each event is a ``payment_intent.processing`` about a PaymentIntent of one invoice: the API verifies it,
stores it once and signals-with-start the invoice's ``InvoicePaymentWorkflow``, which notes it (an event that
announces no outcome calls for no Stripe call). Latency "to the workflow" is measured from the history, not
by polling: from the moment the driver sent the POST (wall clock) to the ``WorkflowTaskCompleted`` event that
follows the ``WorkflowExecutionSignaled`` event of that webhook (server clock, same machine), i.e. the worker
ran the signal handler and Temporal recorded it.
Baselines, at each rate and in the same run: ``GET /healthz`` of the same uvicorn process (the HTTP stack),
and the API's own Temporal call made directly by the driver (signal-with-start, no HTTP, no signature, no
database): what Temporal and the worker sustain for one signal per event on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import col
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from bench.api_proc import latency_ms, process_tree_hwm_mb, start_apis
from bench.billing_cycle import start_worker
from bench.rawhttp import HttpError, RawPool, RoundRobin
from bench.stack import Stack, add_db_option, cpu_delta, cpu_snapshot, embedded_stack, table, vm_hwm_mb, write_result
from contracts.billing import InvoicePaymentInput, StripeEventSignal
from domain.dunning import InvoiceStatus
from domain.numbering import format_invoice_number
from domain.payments import PaymentMethod
from ville.db import make_engine
from ville.ids import invoice_payment_id
from ville.models.billing import FamilyAccount, Invoice, Payment
from ville.temporal import connect, register_search_attributes
from workflows.clients import signal_stripe_event
from workflows.payment import InvoicePaymentWorkflow

TARGET_RATE = 200
TARGET_P99_MS = 250.0
SIGNALLED = ("signal", "webhook")  # steps whose events reach a workflow (the others are plain HTTP)


@dataclass
class Shot:
    """One request of the open-loop driver."""

    index: int
    due: float  # perf_counter when the rate limiter scheduled it
    sent_wall: float = 0.0  # time.time() just before the request was written
    lag_s: float = 0.0  # how late the driver sent it (a lag means the driver, not the API, fell behind)
    latency_s: float | None = None  # HTTP round trip
    status: int | None = None
    error: str | None = None
    seen_wall: float | None = None  # WorkflowTaskCompleted after the signal (webhooks only)


@dataclass
class Step:
    """One rate step of one endpoint."""

    endpoint: str
    rate: int
    duration_s: float
    shots: list[Shot] = field(default_factory=list)
    wall_s: float = 0.0


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header Stripe would send (v1 scheme: HMAC-SHA256 of `t.payload`)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event_body(run: str, index: int, number: str, payment_intent_id: str) -> tuple[str, bytes]:
    """(event id, JSON body) of one webhook about one PaymentIntent of invoice `number`."""
    event_id = f"evt_bench_{run}_{index:06d}"
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": "payment_intent.processing",
        "data": {
            "object": {
                "id": payment_intent_id,
                "object": "payment_intent",
                "status": "processing",
                "metadata": {"invoice_number": number},
            }
        },
    }
    return event_id, json.dumps(event).encode()


def seed_targets(db_url: str, pairs: list[tuple[str, str]]) -> None:
    """Record each (invoice, PaymentIntent) as ours, as a card attempt does before confirming it.

    The webhook route ignores an event about an invoice or a PaymentIntent we never recorded (issue 16): the
    events must name ours to reach the workflows. No Stripe call is needed: a `processing` event is never fetched.
    """
    engine = make_engine(db_url)
    try:
        with engine.begin() as c:
            c.execute(insert(FamilyAccount).values(id=1, ref="FA-BENCH", arrondissement=4))
            numbers = sorted({n for n, _ in pairs})
            c.execute(
                insert(Invoice),
                [
                    {"number": n, "account_id": 1, "period_key": f"{k:07d}", "period_start": date(2026, 9, 1),
                     "period_end": date(2026, 10, 31), "issue_date": date(2026, 11, 2), "due_date": date(2026, 12, 28),
                     "tranche": 3, "lines_total_cents": 1_000, "amount_due_cents": 1_000,
                     "status": InvoiceStatus.ISSUED}
                    for k, n in enumerate(numbers)
                ],
            )  # fmt: skip
            ids = {number: invoice_id for number, invoice_id in c.execute(select(col(Invoice.number), col(Invoice.id)))}
            c.execute(
                insert(Payment),
                [
                    {"key": f"card:{pi}", "invoice_id": ids[n], "account_id": 1, "method": PaymentMethod.CARD,
                     "amount_cents": 1_000, "stripe_payment_intent_id": pi}
                    for n, pi in pairs
                ],
            )  # fmt: skip
    finally:
        engine.dispose()


async def open_loop(step: Step, send: Any) -> None:
    """Fire `send(shot)` at `step.rate` per second for `step.duration_s`, never waiting for answers."""
    n = int(step.rate * step.duration_s)
    t0 = time.perf_counter()
    tasks = []
    for i in range(n):
        due = t0 + i / step.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        shot = Shot(i, due)
        step.shots.append(shot)
        tasks.append(asyncio.create_task(send(shot)))
    await asyncio.gather(*tasks)
    step.wall_s = time.perf_counter() - t0


async def _timed(shot: Shot, call: Awaitable[int]) -> None:
    """Run one request: its wall-clock send time, lateness against the schedule, round trip and status."""
    shot.sent_wall = time.time()
    t = time.perf_counter()
    shot.lag_s = t - shot.due
    try:
        shot.status = await call
    except (HttpError, RPCError) as err:
        shot.error = f"RPCError {err.status}" if isinstance(err, RPCError) else str(err)
    shot.latency_s = time.perf_counter() - t


async def fire(
    http: RawPool, shot: Shot, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> None:
    """One HTTP request (waiting for a free connection counts in its round trip)."""
    await _timed(shot, http.request(method, path, body, headers))


async def fire_signal(client: Client, task_queue: str, shot: Shot, number: str, event: StripeEventSignal) -> None:
    """The webhook route's own Temporal call (`signal_stripe_event`), made directly by the driver."""

    async def call() -> int:
        await signal_stripe_event(client, task_queue, number, event)
        return 200

    await _timed(shot, call())


async def seen_times(client: Client, workflow_id: str) -> dict[str, float]:
    """Event id -> wall time of the WorkflowTaskCompleted that follows its WorkflowExecutionSignaled event."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    pending: list[str] = []
    out: dict[str, float] = {}
    for ev in history.events:
        if ev.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            payloads = ev.workflow_execution_signaled_event_attributes.input.payloads
            (signal,) = await client.data_converter.decode(payloads, [StripeEventSignal])
            pending.append(signal.event_id)
        elif ev.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            out["started"] = out.get("started", float(ev.event_time.ToMicroseconds()) / 1e6)
            for event_id in pending:
                out[event_id] = float(ev.event_time.ToMicroseconds()) / 1e6
            pending = []
    return out


async def collect_seen(
    client: Client, shots: list[Shot], targets: dict[int, tuple[str, str]], timeout_s: float
) -> None:
    """Fill `seen_wall` from the histories, retrying workflows not done yet, up to `timeout_s`."""
    by_workflow: dict[str, list[Shot]] = {}
    for shot in shots:
        if shot.status == 200:
            by_workflow.setdefault(invoice_payment_id(targets[shot.index][0]), []).append(shot)
    sem = asyncio.Semaphore(16)
    deadline = time.perf_counter() + timeout_s

    async def one(workflow_id: str, mine: list[Shot]) -> None:
        async with sem:
            while time.perf_counter() < deadline:
                try:
                    seen = await seen_times(client, workflow_id)
                except RPCError:  # not started yet
                    seen = {}
                for shot in mine:
                    shot.seen_wall = seen.get(targets[shot.index][1])
                if all(s.seen_wall is not None for s in mine):
                    return
                await asyncio.sleep(0.5)

    await asyncio.gather(*(one(w, mine) for w, mine in by_workflow.items()))


async def start_pool(client: Client, numbers: list[str], task_queue: str) -> float:
    """Start the payment workflows the events will target (as the cycle or the card page does); seconds."""
    t0 = time.perf_counter()
    sem = asyncio.Semaphore(20)

    async def one(number: str) -> None:
        async with sem:
            await client.start_workflow(
                InvoicePaymentWorkflow.run,
                InvoicePaymentInput(number),
                id=invoice_payment_id(number),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            while "started" not in await seen_times(client, invoice_payment_id(number)):
                await asyncio.sleep(0.5)

    await asyncio.gather(*(one(n) for n in numbers))
    return time.perf_counter() - t0


def summarise(step: Step) -> dict[str, Any]:
    """Achieved rate, HTTP latency and (webhooks) latency to the workflow of one step."""
    ok = [s for s in step.shots if s.status == 200]
    errors: dict[str, int] = {}
    for s in step.shots:
        if s.status != 200:
            key = s.error or str(s.status)
            errors[key] = errors.get(key, 0) + 1
    out: dict[str, Any] = {
        "endpoint": step.endpoint,
        "offered_per_s": step.rate,
        "duration_s": step.duration_s,
        "sent": len(step.shots),
        "ok": len(ok),
        "errors": errors,
        "http_ms": latency_ms([s.latency_s for s in ok if s.latency_s is not None]),
        "driver_lag_ms": latency_ms([s.lag_s for s in step.shots]),
    }
    first = min((s.sent_wall for s in step.shots), default=0.0)
    last_answer = max((s.sent_wall + (s.latency_s or 0.0) for s in ok), default=first)
    out["answered_per_s"] = round(len(ok) / max(1e-9, last_answer - first), 1)
    if step.endpoint in SIGNALLED:
        seen = [s for s in ok if s.seen_wall is not None]
        out["seen_by_workflow"] = len(seen)
        out["to_workflow_ms"] = latency_ms([s.seen_wall - s.sent_wall for s in seen if s.seen_wall is not None])
        last_seen = max((s.seen_wall for s in seen if s.seen_wall is not None), default=first)
        # sustained: events the workflows processed per second, from the first send to the last processing
        out["sustained_per_s"] = round(len(seen) / max(1e-9, last_seen - first), 1)
    return out


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    """Start the worker and uvicorn, then each rate: /healthz, then webhooks."""
    db = stack.fresh_db("webhooks")
    task_queue = "bench-webhooks"
    settings = stack.settings_for(db, task_queue)
    client = await connect(settings)
    await register_search_attributes(client, settings.temporal_namespace)
    worker = start_worker(stack, db, task_queue, "worker-webhooks")
    apis = start_apis(stack, db, task_queue, "api-webhooks", args.api_processes, workers=args.api_workers)
    secret = settings.stripe_webhook_secret.get_secret_value()
    run_id = f"{os.getpid()}{int(time.time()) % 100000}"
    total = sum(int(rate * args.duration) for rate in args.rates)
    pool = [format_invoice_number(2099, k + 1, "BPOOL") for k in range(args.pool)]

    def target(i: int) -> tuple[str, str]:
        """(invoice number, PaymentIntent) of the i-th event of the run: each event about a PaymentIntent of its own."""
        number = pool[i % len(pool)] if pool else format_invoice_number(2098, i + 1, "BNEW")
        return number, f"pi_bench_{run_id}_{i:07d}"

    t0 = time.perf_counter()
    seed_targets(db, [target(i) for i in range(2 * total)])  # each rate runs a signal step and a webhook step
    setup = {"seed_s": round(time.perf_counter() - t0, 1)}
    if pool:
        setup["pool_start_s"] = round(await start_pool(client, pool, task_queue), 1)

    results: list[dict[str, Any]] = []
    services = [*stack.services, worker, *(api for api, _ in apis)]
    cpu: dict[str, dict[str, float]] = {}
    index = 0
    http = RoundRobin([base for _, base in apis], args.connections)
    try:
        for _ in range(20):  # warm-up: imports, DB pool, Temporal client connection
            await http.request("GET", "/healthz")
        for rate in args.rates:
            base_step = Step("healthz", rate, args.duration)
            await open_loop(base_step, lambda s: fire(http, s, "GET", "/healthz"))
            results.append(summarise(base_step))

            signal_step = Step("signal", rate, args.duration)
            signal_targets: dict[int, tuple[str, str]] = {}
            signal_offset = index

            async def signal(
                shot: Shot, offset: int = signal_offset, targets: dict[int, tuple[str, str]] = signal_targets
            ) -> None:
                number, intent = target(offset + shot.index)
                event_id = f"evt_signal_{run_id}_{offset + shot.index:06d}"
                targets[shot.index] = (number, event_id)
                event = StripeEventSignal(event_id, "payment_intent.processing", intent)
                await fire_signal(client, task_queue, shot, number, event)

            cpu0 = cpu_snapshot(services)
            await open_loop(signal_step, signal)
            await collect_seen(client, signal_step.shots, signal_targets, args.drain_timeout)
            index += len(signal_step.shots)
            cpu[f"signal@{rate}"] = cpu_delta(cpu0, cpu_snapshot(services))
            results.append(summarise(signal_step) | cpu_per_event(cpu[f"signal@{rate}"], signal_step))

            step = Step("webhook", rate, args.duration)
            targets: dict[int, tuple[str, str]] = {}
            offset = index

            async def post(shot: Shot, offset: int = offset, targets: dict[int, tuple[str, str]] = targets) -> None:
                number, intent = target(offset + shot.index)
                event_id, body = event_body(run_id, offset + shot.index, number, intent)
                targets[shot.index] = (number, event_id)
                headers = {
                    "stripe-signature": sign(body, secret, int(time.time())),
                    "content-type": "application/json",
                }
                await fire(http, shot, "POST", "/webhooks/stripe", body, headers)

            cpu0 = cpu_snapshot(services)
            await open_loop(step, post)
            await collect_seen(client, step.shots, targets, args.drain_timeout)
            cpu[f"webhook@{rate}"] = cpu_delta(cpu0, cpu_snapshot(services))
            index += len(step.shots)
            results.append(summarise(step) | cpu_per_event(cpu[f"webhook@{rate}"], step))
            print(table(step_rows(results[-3:]), f"{rate}/s for {args.duration:g} s"), "\n", flush=True)
        rss = {
            **{api.name: process_tree_hwm_mb(api.proc.pid) if api.proc else None for api, _ in apis},
            "worker": vm_hwm_mb(worker.proc.pid) if worker.proc else None,
        }
    finally:
        await http.close()
        for api, _ in apis:
            api.stop()
        worker.stop()
    mode = f"{len(pool)} running payment workflows" if pool else "one new payment workflow per event"
    return {"steps": results, "cpu_s": cpu, "peak_rss_mb": rss, "intents": 2 * total, "setup": setup, "mode": mode}


def cpu_per_event(cpu: dict[str, float], step: Step) -> dict[str, Any]:
    """CPU milliseconds per processed event of each process, and the rate the machine's cores would cap.

    Robust to a shared machine: other people's load stretches latencies but not the CPU each event costs.
    """
    seen = sum(1 for s in step.shots if s.seen_wall is not None)
    if not seen:
        return {}
    per = {k: round(1000 * v / seen, 1) for k, v in cpu.items() if k not in ("localstripe", "moto")}
    server_side = sum(v for k, v in per.items() if not k.startswith("bench"))
    return {
        "cpu_ms_per_event": per,
        "cpu_bound_ceiling_per_s": round((os.cpu_count() or 1) * 1000 / server_side, 0) if server_side else None,
    }


def step_rows(steps: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Printable rows of one rate's steps (healthz, direct signal, webhook)."""
    rows = []
    for r in steps:
        h = r["http_ms"]
        line = f"{r['ok']}/{r['sent']} ok, {r['answered_per_s']}/s answered, HTTP p50 {h['p50']} p99 {h['p99']} ms" + (
            f", errors {r['errors']}" if r["errors"] else ""
        )
        rows.append((r["endpoint"], line))
        if r["endpoint"] in SIGNALLED:
            w = r["to_workflow_ms"]
            rows.append(
                (
                    "  to the workflow",
                    f"{r['seen_by_workflow']} seen, {r['sustained_per_s']}/s sustained,"
                    f" p50 {w['p50']} p99 {w['p99']} max {w['max']} ms",
                )
            )
            if "cpu_ms_per_event" in r:
                per = ", ".join(f"{k} {v}" for k, v in r["cpu_ms_per_event"].items())
                rows.append(("  CPU ms per event", f"{per}; all cores would cap at {r['cpu_bound_ceiling_per_s']}/s"))
    return rows


def verdict(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The highest offered rate fully processed with p99 to the workflow under the target."""
    good = [
        s
        for s in steps
        if s["endpoint"] == "webhook"
        and s["seen_by_workflow"] == s["sent"]
        and s["to_workflow_ms"]["p99"] is not None
        and s["to_workflow_ms"]["p99"] < TARGET_P99_MS
        and s["sustained_per_s"] >= 0.95 * s["offered_per_s"]
    ]
    best = max(good, key=lambda s: s["offered_per_s"], default=None)
    by_rate: dict[int, dict[str, dict[str, Any]]] = {}
    for s in steps:
        by_rate.setdefault(s["offered_per_s"], {})[s["endpoint"]] = s
    ratios = {}
    for rate, at in by_rate.items():
        hook, hz, sig = at.get("webhook"), at.get("healthz"), at.get("signal")
        if hook is None:
            continue
        ratios[str(rate)] = {
            "webhook_http_p99_over_healthz_p99": _ratio(hook["http_ms"]["p99"], hz["http_ms"]["p99"] if hz else None),
            # 1.0: the API adds nothing to what Temporal and the worker sustain for one signal per event
            "webhook_sustained_over_direct_signal": _ratio(
                hook.get("sustained_per_s"), sig["sustained_per_s"] if sig else None
            ),
        }
    return {
        "best_rate_meeting_p99": best["offered_per_s"] if best else None,
        "target": f">= {TARGET_RATE} events/s with p99 < {TARGET_P99_MS:g} ms to the workflow",
        "met": bool(best and best["offered_per_s"] >= TARGET_RATE),
        "ratios": ratios,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / max(0.1, b), 2) if a is not None and b is not None else None


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", type=int, nargs="+", default=[50, 100, 200, 400], help="events/s, in order")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per rate step")
    p.add_argument(
        "--pool",
        type=int,
        default=200,
        help="payment workflows started first, events spread over them; 0: one new workflow per event",
    )
    p.add_argument("--connections", type=int, default=256, help="max HTTP connections of the driver")
    p.add_argument("--api-workers", type=int, default=1, help="uvicorn --workers (production: 1 per container)")
    p.add_argument("--drain-timeout", type=float, default=120.0, help="seconds to wait for the workflows")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    p.add_argument("--api-processes", type=int, default=1, help="separate uvicorn processes, used round-robin")
    add_db_option(p)
    return p.parse_args(argv)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """One embedded stack for every step."""
    with embedded_stack(keep=args.keep, db=args.db) as stack:
        out = await run(args, stack)
    out["verdict"] = verdict(out["steps"])
    out["args"] = vars(args)
    out["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    v = out["verdict"]
    rows = [
        ("mode", out["mode"]),
        ("database, API processes", f"{args.db}, {args.api_processes}"),
        ("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"),
        ("highest rate with p99 < 250 ms", f"{v['best_rate_meeting_p99']} events/s"),
        ("target", f"{v['target']}: {'met' if v['met'] else 'missed'}"),
        ("peak RSS (MB)", ", ".join(f"{k} {val}" for k, val in out["peak_rss_mb"].items())),
    ]
    print(table(rows, "Webhooks"), flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    out = asyncio.run(main_async(parse(argv)))
    print("results:", write_result("webhooks", out))


if __name__ == "__main__":
    main()
