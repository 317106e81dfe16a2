"""Benchmark: N open referral cases (ReferralCaseWorkflow), each waiting on its durable timer.

Run: ``.venv/bin/python -m bench.referrals --cases 10000`` (``make bench`` uses a smaller default).

The case rows are bulk-inserted (what ``POST /api/rif/dossiers`` writes, with fictitious contacts), then each
case's workflow is started as the API starts it (same input, id and search attributes), ``--concurrency``
starts in flight. The benchmark measures the start rate (client side), the time until every case is opened
(its ``case_opened`` history row written and its family link notified by the workflow's activities), the
running cases in visibility, the pending timers of a sample of histories (each open case sleeps on one timer
until its next deadline), history sizes, and the peak RSS of the Temporal dev server and of the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, col, select
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from bench.billing_cycle import start_worker
from bench.histories import count, peaks, sample_sizes, wait_count
from bench.stack import Stack, bench_today, cpu_delta, cpu_snapshot, embedded_stack, seed, table, write_result
from contracts.referrals import ReferralCaseInput
from domain.referral_cases import format_case_ref
from ville.db import engine_for
from ville.ids import referral_case_id
from ville.models.people import Role, UserAccount
from ville.models.referrals import ReferralCase, ReferralHistory, RifRelay
from ville.temporal import SA_ARRONDISSEMENT, SA_BUSINESS_STATUS, SA_RELAY, connect, register_search_attributes
from workflows.referrals import ReferralCaseWorkflow

YEAR_OFFSET = 1  # case refs of next year: no clash with the demo's own cases


def insert_cases(db_url: str, cases: int) -> list[tuple[str, int, int, int]]:
    """Bulk-insert `cases` open cases; returns (ref, relay id, arrondissement, agent user id) of each."""
    now = datetime.now(UTC)
    year = now.year + YEAR_OFFSET
    with Session(engine_for(db_url)) as s:
        found = s.exec(
            select(UserAccount.id, UserAccount.relay_id, RifRelay.arrondissement)
            .join(RifRelay, col(RifRelay.id) == UserAccount.relay_id)
            .where(UserAccount.role == Role.rif_agent)
        ).all()
    agents = [(u, r, a) for u, r, a in found if u is not None and r is not None]
    if not agents:
        raise RuntimeError("the referral demo seeds no RIF agent")
    rng = random.Random(10_000)
    out: list[tuple[str, int, int, int]] = []
    rows = []
    for seq in range(1, cases + 1):
        user_id, relay_id, arr = agents[seq % len(agents)]
        ref = format_case_ref(year, seq)
        arrondissement = arr or rng.randint(1, 20)
        out.append((ref, relay_id, arrondissement, user_id))
        rows.append(
            {
                "ref": ref,
                "relay_id": relay_id,
                "arrondissement": arrondissement,
                "opened_by_user_id": user_id,
                "contact_name": f"Famille fictive {seq}",
                "contact_email": f"famille.bench{seq}@demo.paris.fr",
                "situation": "",
                "partner_summary": "",
                "preferred_channel": "email",
                "needs": ["childcare"],
                "consent_given_at": now,
                "consent_scope": ["share_with_partners"],
                "status": "open",
                "business_status": "open",
                "opened_at": now,
            }
        )
    with engine_for(db_url).begin() as conn:
        for i in range(0, len(rows), 1000):
            conn.execute(insert(ReferralCase), rows[i : i + 1000])
    return out


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    """Insert the cases, start their workflows, wait until each is open and asleep on its timer."""
    db = stack.fresh_db("referrals")
    task_queue = "bench-referrals"
    settings = stack.settings_for(db, task_queue)
    seed_s = seed(settings, 10, bench_today())
    t0 = time.perf_counter()
    cases = insert_cases(settings.database_url, args.cases)
    insert_s = time.perf_counter() - t0
    client = await connect(settings)
    await register_search_attributes(client, settings.temporal_namespace)
    workers = [start_worker(stack, db, task_queue, f"worker-referrals-{i + 1}") for i in range(args.workers)]
    services = [*stack.services, *workers]
    sem = asyncio.Semaphore(args.concurrency)

    async def start(ref: str, relay_id: int, arrondissement: int, user_id: int) -> None:
        async with sem:
            await client.start_workflow(
                ReferralCaseWorkflow.run,
                ReferralCaseInput(ref, relay_id, arrondissement, opened_by_user_id=user_id),
                id=referral_case_id(ref),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(SA_RELAY, str(relay_id)),
                        SearchAttributePair(SA_BUSINESS_STATUS, "open"),
                        SearchAttributePair(SA_ARRONDISSEMENT, arrondissement),
                    ]
                ),
            )

    query = "WorkflowType = 'ReferralCaseWorkflow' AND ExecutionStatus = 'Running'"
    try:
        cpu0 = cpu_snapshot(services)
        t0 = time.perf_counter()
        await asyncio.gather(*(start(*c) for c in cases))
        start_s = time.perf_counter() - t0
        opened, opened_s = 0, None
        engine = engine_for(settings.database_url)
        while time.perf_counter() - t0 < args.timeout:
            with Session(engine) as s:
                opened = s.exec(
                    select(func.count()).select_from(ReferralHistory).where(ReferralHistory.event == "case_opened")
                ).one()
            if opened >= len(cases):
                opened_s = time.perf_counter() - t0
                break
            await asyncio.sleep(1.0)
        cpu = cpu_delta(cpu0, cpu_snapshot(services))
        running, visibility_lag_s = await wait_count(client, query, len(cases), 60.0)
        mem = peaks(stack, [w.proc.pid for w in workers if w.proc is not None])
        sample = random.Random(1).sample(cases, min(args.sample, len(cases)))
        histories = await sample_sizes(client, [referral_case_id(c[0]) for c in sample])
        open_status = await count(client, f"{query} AND {SA_BUSINESS_STATUS.name} = 'open'")
    finally:
        for w in workers:
            w.stop()
    return {
        "cases": len(cases),
        "concurrency": args.concurrency,
        "worker_processes": args.workers,
        "seed_s": round(seed_s, 1),
        "insert_rows_s": round(insert_s, 1),
        "start_s": round(start_s, 1),
        "starts_per_s": round(len(cases) / start_s, 1),
        "all_opened_s": round(opened_s, 1) if opened_s is not None else None,
        "opened": opened,
        "opened_per_s": round(opened / opened_s, 1) if opened_s else None,
        "running_in_visibility": running,
        "running_with_business_status_open": open_status,
        "visibility_wait_s": round(visibility_lag_s, 1),
        "histories_sample": histories,
        "peak_rss_mb": mem,
        "cpu_s": cpu,
    }


def rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """Printable rows."""
    h = r["histories_sample"]
    return [
        ("cases (rows inserted in)", f"{r['cases']} ({r['insert_rows_s']} s)"),
        ("start (client side)", f"{r['start_s']} s, {r['starts_per_s']} starts/s, {r['concurrency']} in flight"),
        ("every case opened (history row written)", f"{r['all_opened_s']} s, {r['opened_per_s']}/s ({r['opened']})"),
        ("running cases (visibility)", f"{r['running_in_visibility']} ({r['running_with_business_status_open']} open)"),
        (
            f"histories (sample of {h.get('sampled')})",
            f"mean {h.get('events_mean')} events / {h.get('bytes_mean')} B,"
            f" pending timers per case >= {h.get('pending_timers_min')}",
        ),
        ("peak RSS (MB)", ", ".join(f"{k} {v}" for k, v in r["peak_rss_mb"].items())),
        ("CPU seconds", ", ".join(f"{k} {v}" for k, v in r["cpu_s"].items())),
    ]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=50, help="workflow starts in flight")
    p.add_argument("--workers", type=int, default=1, help="worker.py processes")
    p.add_argument("--sample", type=int, default=20, help="case histories measured")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse(argv)

    async def go() -> dict[str, Any]:
        with embedded_stack(keep=args.keep) as stack:
            return await run(args, stack)

    out = asyncio.run(go())
    out["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(table(rows(out), f"Referral cases, {out['cases']} open cases"), flush=True)
    print("results:", write_result("referrals", out))


if __name__ == "__main__":
    main()
