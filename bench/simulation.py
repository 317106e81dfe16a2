"""Benchmark: the tariff impact simulation (TariffSimulationWorkflow) on N seeded families with issued invoices.

Run: ``.venv/bin/python -m bench.simulation --families 10000``.
The period is issued first with the cycle's own set-based issuing (``BillingStore.issue_batch``, in process:
the amounts are the cycle's; PDFs and e-mails, which do not change them, are left out). Then ``worker.py``
runs two simulations in a subprocess: the voted grid (the reproduction check: exactly the issued totals,
no family changed) and a proposed grid (+8 % on tranches 6-10, -5 % on tranches 1-3).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import time
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bench.billing_cycle import start_worker
from bench.stack import (
    Stack,
    bench_today,
    cpu_delta,
    cpu_snapshot,
    embedded_stack,
    issue_date_for,
    seed,
    table,
    vm_hwm_mb,
    write_result,
)
from bench.temporal_counts import history_counts
from contracts.simulation import SimulationPhase, TariffSimulationInput, TariffSimulationResult
from domain.due_dates import due_date
from domain.money import format_eur
from domain.periods import BillingPeriod
from domain.simulation import simulation_ref
from services.billing import BillingStore
from stack.billing_demo import GRIDS_FILE, billing_period_to_seed
from ville.db import SessionFactory, engine_for
from ville.ids import tariff_simulation_id
from ville.models.billing import Invoice, InvoiceLine
from ville.temporal import connect, register_search_attributes
from workflows.simulation import TariffSimulationWorkflow


def proposed_grid() -> dict[str, Any]:
    """The voted grid with tranches 6-10 raised by 8 % and tranches 1-3 lowered by 5 % (whole cents, rounded down)."""
    grid: dict[str, Any] = copy.deepcopy(json.loads(GRIDS_FILE.read_text())[0])
    grid["id"] = "proposition-bench"
    for price in grid["prices"].values():
        price["per_tranche"] = [
            p * 108 // 100 if i >= 5 else p * 95 // 100 if i < 3 else p for i, p in enumerate(price["per_tranche"])
        ]
    return grid


def issue_period(sessions: SessionFactory, period: BillingPeriod, batch_size: int) -> tuple[int, float]:
    """Issue the period's invoices with the cycle's set-based store; (invoices, seconds)."""
    store = BillingStore(sessions)
    t0 = time.perf_counter()
    bounds, _ = store.batch_bounds(period, batch_size)
    issue = issue_date_for(period)
    due = due_date(issue, 25)
    invoices, lo = 0, 0
    for hi in bounds:
        invoices += store.issue_batch(period, lo, hi, issue, due).invoices
        lo = hi
    return invoices, time.perf_counter() - t0


def issued_totals(sessions: SessionFactory, period_key: str) -> tuple[list[int], dict[str, int]]:
    """What the issued invoices charged, per tranche and per activity."""
    by_tranche = [0] * 10
    by_activity: dict[str, int] = defaultdict(int)
    with sessions() as s:
        for tranche, cents in s.execute(
            select(col(Invoice.tranche), col(Invoice.lines_total_cents)).where(col(Invoice.period_key) == period_key)
        ):
            by_tranche[tranche - 1] += cents
        for code, cents in s.execute(
            select(col(InvoiceLine.activity_code), col(InvoiceLine.amount_cents))
            .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .where(col(Invoice.period_key) == period_key)
        ):
            by_activity[code] += cents
    return by_tranche, {k: v for k, v in by_activity.items() if v}


async def run_simulation(
    stack: Stack, client: Any, task_queue: str, grid: dict[str, Any], period_key: str, batch_size: int
) -> tuple[TariffSimulationResult, dict[str, Any]]:
    """One simulation to its end, measured (progress polled like the console does)."""
    ref = simulation_ref(grid, [period_key])
    wf_id = tariff_simulation_id(ref)
    t0 = time.perf_counter()
    handle = await client.start_workflow(
        TariffSimulationWorkflow.run,
        TariffSimulationInput(ref, [period_key], grid=grid, batch_size=batch_size, parallelism=2),
        id=wf_id,
        task_queue=task_queue,
    )
    queries = 0
    while True:
        progress = await handle.query(TariffSimulationWorkflow.progress)
        queries += 1
        if progress.phase is SimulationPhase.DONE:
            break
        await asyncio.sleep(0.25)  # polling the query, bounded by the simulation itself
    result: TariffSimulationResult = await handle.result()
    wall = time.perf_counter() - t0
    counts = await history_counts(client, wf_id, handle.first_execution_run_id)
    return result, {
        "wall_s": round(wall, 2),
        "families": result.totals.families,
        "families_per_s": round(result.totals.families / wall, 1),
        "batches": progress.batches_total,
        "history": counts,
        "progress_queries": queries,
        "old_total_cents": result.totals.old_total_cents,
        "new_total_cents": result.totals.new_total_cents,
        "changed": result.totals.changed,
        "rises_over_5_10_20": result.totals.rises_over,
        "falls_over_5_10_20": result.totals.falls_over,
    }


async def run(stack: Stack, families: int, today: date, batch_size: int) -> dict[str, Any]:
    """Seed, issue, then simulate the voted grid (reproduction) and a proposal."""
    db = stack.fresh_db(f"simulation-{families}")
    task_queue = f"bench-simulation-{families}"
    settings = stack.settings_for(db, task_queue)
    seed_s = seed(settings, families, today)
    period = billing_period_to_seed(today)
    sessions = SessionFactory(engine_for(settings.database_url))
    invoices, issue_s = issue_period(sessions, period, batch_size)
    expected_tranche, expected_activity = issued_totals(sessions, period.key)
    client = await connect(settings)
    await register_search_attributes(client, settings.temporal_namespace)
    worker = start_worker(stack, db, task_queue, f"simulation-worker-{families}")
    try:
        services = [*stack.services, worker]
        cpu0 = cpu_snapshot(services)
        voted = json.loads(GRIDS_FILE.read_text())[0]
        same, same_m = await run_simulation(stack, client, task_queue, voted, period.key, batch_size)
        cpu1 = cpu_snapshot(services)
        proposal, proposal_m = await run_simulation(stack, client, task_queue, proposed_grid(), period.key, batch_size)
        cpu = cpu_delta(cpu1, cpu_snapshot(services))
        rss = vm_hwm_mb(worker.proc.pid) if worker.proc is not None else None
    finally:
        worker.stop()
    reproduced = (
        same.totals.old_by_tranche == same.totals.new_by_tranche == expected_tranche
        and same.totals.old_by_activity == same.totals.new_by_activity == expected_activity
        and same.totals.changed == 0
        and same.totals.families == invoices
    )
    return {
        "families_seeded": families,
        "period": period.key,
        "invoices_issued": invoices,
        "seed_s": round(seed_s, 2),
        "issue_s": round(issue_s, 2),
        "batch_size": batch_size,
        "reproduction": {
            **same_m,
            "ok": reproduced,
            "issued_total_cents": sum(expected_tranche),
            "cpu_s_both_runs_first": cpu_delta(cpu0, cpu1),
        },
        "proposal": {**proposal_m, "cpu_s": cpu, "medians": [vars(m) for m in proposal.medians]},
        "worker_peak_rss_mb": round(rss, 1) if rss else None,
    }


def eur(cents: int) -> str:
    """French amount for the printed table."""
    return format_eur(cents)


def rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """Printable rows of one result."""
    rep, prop = r["reproduction"], r["proposal"]
    return [
        ("families seeded / invoices issued", f"{r['families_seeded']} / {r['invoices_issued']}"),
        ("seeding / issuing (in process)", f"{r['seed_s']} s / {r['issue_s']} s"),
        ("batches (size)", f"{prop['batches']} ({r['batch_size']})"),
        (
            "REPRODUCTION CHECK (voted grid)",
            f"{'OK' if rep['ok'] else 'FAILED'}: {eur(rep['old_total_cents'])} simulated vs"
            f" {eur(rep['issued_total_cents'])} issued, {rep['changed']} families changed",
        ),
        ("voted-grid run: wall / families/s", f"{rep['wall_s']} s / {rep['families_per_s']}"),
        ("proposal run: wall / families/s", f"{prop['wall_s']} s / {prop['families_per_s']}"),
        (
            "proposal: total old -> new",
            f"{eur(prop['old_total_cents'])} -> {eur(prop['new_total_cents'])}, {prop['changed']} families changed",
        ),
        ("proposal: rises > 5/10/20 %", " / ".join(map(str, prop["rises_over_5_10_20"]))),
        ("proposal: falls > 5/10/20 %", " / ".join(map(str, prop["falls_over_5_10_20"]))),
        (
            "history events (max per run), runs",
            f"{prop['history']['events']} ({prop['history']['max_events_per_run']}), {prop['history']['runs']}",
        ),
        ("Temporal actions (proposal run)", f"{prop['history']['actions']}"),
        ("worker peak RSS", f"{r['worker_peak_rss_mb']} MB"),
        ("CPU seconds (proposal run)", ", ".join(f"{k} {v}" for k, v in prop["cpu_s"].items())),
    ]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """Run the requested sizes on one embedded stack."""
    today = bench_today()
    out: dict[str, Any] = {"today": today.isoformat(), "simulations": {}}
    with embedded_stack(keep=args.keep) as stack:
        for n in args.families:
            r = await run(stack, n, today, args.batch_size)
            out["simulations"][str(n)] = r
            print(table(rows(r), f"TariffSimulationWorkflow, {n} families"), "\n", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--families", type=int, action="append", help="repeatable; default 1000")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    args = p.parse_args(argv)
    args.families = args.families or [1000]
    out = asyncio.run(main_async(args))
    print("results:", write_result("simulation", out))


if __name__ == "__main__":
    main()
