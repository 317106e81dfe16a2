"""Benchmark: signed Stripe webhooks posted open-loop at increasing rates to the real API and worker.

Run: ``.venv/bin/python -m bench.webhooks [--rates 50,100,200,400] [--duration 10] [--api-processes 2] [--db sqlite]``.
Modules: ``bench/webhooks_driver.py`` (events, open loop), ``bench/webhooks_history.py`` (latency to the workflow
from the histories), ``bench/webhooks_report.py`` (figures, verdict).

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
import os
import time
from typing import Any

from bench.api_proc import process_tree_hwm_mb, start_apis
from bench.billing_cycle import start_worker
from bench.rawhttp import RoundRobin
from bench.stack import Stack, add_db_option, cpu_delta, cpu_snapshot, embedded_stack, table, vm_hwm_mb, write_result
from bench.webhooks_driver import Shot, Step, event_body, fire, fire_signal, open_loop, seed_targets, sign
from bench.webhooks_history import collect_seen, start_pool
from bench.webhooks_report import cpu_per_event, step_rows, summarise, verdict
from contracts.billing import StripeEventSignal
from domain.numbering import format_invoice_number
from ville.temporal import connect, register_search_attributes


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

            cpu0 = cpu_snapshot(services, stack.postgres)
            await open_loop(signal_step, signal)
            await collect_seen(client, signal_step.shots, signal_targets, args.drain_timeout)
            index += len(signal_step.shots)
            cpu[f"signal@{rate}"] = cpu_delta(cpu0, cpu_snapshot(services, stack.postgres))
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

            cpu0 = cpu_snapshot(services, stack.postgres)
            await open_loop(step, post)
            await collect_seen(client, step.shots, targets, args.drain_timeout)
            cpu[f"webhook@{rate}"] = cpu_delta(cpu0, cpu_snapshot(services, stack.postgres))
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


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--rates", type=_rates, nargs="+", default=[[50, 100, 200, 400]], help="events/s, in order: 50 200 or 50,200"
    )
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
    args = p.parse_args(argv)
    args.rates = [rate for group in args.rates for rate in group]
    return args


def _rates(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


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
