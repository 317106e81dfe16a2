"""Benchmark: an audit campaign over N sites (AuditCampaignWorkflow, one InspectionWorkflow per task).

Run: ``.venv/bin/python -m bench.audit_campaign --sites 2000`` (``make bench`` uses a smaller default).

The demo's 50 sites and draft campaign are extended with synthetic sites (types and audit modes cycling
over the référentiel's, so ~2 tasks per site) up to ``--sites``. The campaign is started as the API starts
it; the benchmark measures the time to plan (the ``plan_campaign`` activity), the time until every
inspection workflow is started (the campaign's ``progress`` query), the campaign's history (events and
bytes of every continue-as-new run: it continues as new at ``max_history_events``, 10,000 by default) and of
a sample of inspections, and the peak RSS of the Temporal dev server and of the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from typing import Any

from sqlmodel import Session, col, select
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from bench.billing_cycle import start_worker
from bench.histories import count, history_size, peaks, sample_sizes
from bench.stack import Stack, bench_today, cpu_delta, cpu_snapshot, embedded_stack, seed, table, write_result
from contracts.audit_campaign import AuditCampaignInput
from stack.audit_demo import MODES
from ville.db import engine_for
from ville.ids import audit_campaign_id, inspection_id
from ville.models.audit import AuditCampaign, AuditCampaignSite, AuditSite, AuditTask
from ville.temporal import SA_BUSINESS_STATUS, SA_CAMPAIGN, connect, register_search_attributes
from workflows.audit_campaign import AuditCampaignWorkflow

TEMPORAL_WARNING_EVENTS = 10_240


def add_sites(db_url: str, sites: int) -> tuple[int, int]:
    """Grow the demo campaign to `sites` sites; returns (campaign id, sites in it)."""
    rng = random.Random(2000)
    types = sorted(MODES)
    with Session(engine_for(db_url)) as s:
        campaign = s.exec(select(AuditCampaign).order_by(col(AuditCampaign.id))).first()
        assert campaign is not None and campaign.id is not None, "the audit demo seeds a draft campaign"
        have = len(s.exec(select(AuditCampaignSite).where(AuditCampaignSite.campaign_id == campaign.id)).all())
        new = [
            AuditSite(
                ref=f"BENCH-{i:05d}",
                name=f"Site de charge {i}",
                site_type=types[i % len(types)],
                arrondissement=rng.randint(1, 20),
                address=f"{i} rue du Banc d'essai, Paris",
                manager_name="Responsable fictif",
                manager_email=f"responsable.bench{i}@demo.paris.fr",
            )
            for i in range(max(0, sites - have))
        ]
        s.add_all(new)
        s.flush()
        s.add_all(
            AuditCampaignSite(campaign_id=campaign.id, site_id=site.id, modes=MODES[site.site_type])  # type: ignore[arg-type]
            for site in new
        )
        s.commit()
        return campaign.id, have + len(new)


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    """Seed, start the worker and the campaign, follow it until every inspection is started and reported."""
    db = stack.fresh_db("audit")
    task_queue = "bench-audit"
    settings = stack.settings_for(db, task_queue)
    seed_s = seed(settings, 10, bench_today())
    t0 = time.perf_counter()
    campaign_id, n_sites = add_sites(settings.database_url, args.sites)
    sites_s = time.perf_counter() - t0
    client = await connect(settings)
    await register_search_attributes(client, settings.temporal_namespace)
    worker = start_worker(stack, db, task_queue, "worker-audit")
    wf_id = audit_campaign_id(campaign_id)
    services = [*stack.services, worker]
    try:
        cpu0 = cpu_snapshot(services)
        t0 = time.perf_counter()
        handle = await client.start_workflow(
            AuditCampaignWorkflow.run,
            AuditCampaignInput(campaign_id, wave_size=args.wave_size, max_history_events=args.max_history_events),
            id=wf_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(SA_CAMPAIGN, str(campaign_id)),
                    SearchAttributePair(SA_BUSINESS_STATUS, "planning"),
                ]
            ),
        )
        planned_s = started_s = None
        total = started = 0
        last_len, quiet_since = -1, time.perf_counter()
        while time.perf_counter() - t0 < args.timeout:
            p = await client.get_workflow_handle(wf_id).query(AuditCampaignWorkflow.progress)
            total, started = p.total_tasks, p.started
            if planned_s is None and total:
                planned_s = time.perf_counter() - t0
            if started_s is None and total and started >= total:
                started_s = time.perf_counter() - t0
            if started_s is not None:
                # every inspection reports to the campaign once started: wait until its history is quiet
                length = (await client.get_workflow_handle(wf_id).describe()).raw_description.workflow_execution_info
                if length.history_length != last_len:
                    last_len, quiet_since = length.history_length, time.perf_counter()
                elif time.perf_counter() - quiet_since >= args.quiet:
                    break
            await asyncio.sleep(0.5)
        settled_s = time.perf_counter() - t0 - args.quiet
        cpu = cpu_delta(cpu0, cpu_snapshot(services))
        mem = peaks(stack, [worker.proc.pid] if worker.proc else [])
        campaign_history = await history_size(client, wf_id)
        running = await count(client, f"WorkflowType = 'InspectionWorkflow' AND {SA_CAMPAIGN.name} = '{campaign_id}'")
        with Session(engine_for(settings.database_url)) as s:
            ids = s.exec(select(AuditTask.id).where(AuditTask.campaign_id == campaign_id)).all()
        task_ids = [t for t in ids if t is not None]
        sample = random.Random(1).sample(task_ids, min(args.sample, len(task_ids)))
        inspections = await sample_sizes(client, [inspection_id(t) for t in sample])
        await handle.terminate("benchmark done")
    finally:
        worker.stop()
    return {
        "sites": n_sites,
        "tasks": total,
        "inspections_started": started,
        "inspection_workflows_in_visibility": running,
        "wave_size": args.wave_size,
        "max_history_events": args.max_history_events,
        "seed_s": round(seed_s, 1),
        "add_sites_s": round(sites_s, 1),
        "plan_s": round(planned_s, 1) if planned_s is not None else None,
        "all_started_s": round(started_s, 1) if started_s is not None else None,
        "inspections_started_per_s": round(started / started_s, 1) if started_s else None,
        "settled_s": round(settled_s, 1),
        "campaign_history": campaign_history,
        "campaign_history_bounded": campaign_history["max_events_per_run"] < TEMPORAL_WARNING_EVENTS,
        "inspection_histories": inspections,
        "peak_rss_mb": mem,
        "cpu_s": cpu,
    }


def rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """Printable rows."""
    h, i = r["campaign_history"], r["inspection_histories"]
    return [
        ("sites / tasks", f"{r['sites']} / {r['tasks']}"),
        ("time to plan (start -> tasks planned)", f"{r['plan_s']} s"),
        ("time to start every inspection", f"{r['all_started_s']} s ({r['inspections_started_per_s']}/s)"),
        ("inspection workflows (visibility)", str(r["inspection_workflows_in_visibility"])),
        (
            "campaign history",
            f"{h['events']} events, {h['bytes'] / 1e6:.2f} MB in {h['runs']} run(s);"
            f" largest run {h['max_events_per_run']} events, {h['max_bytes_per_run'] / 1e6:.2f} MB",
        ),
        ("campaign history bounded (< 10,240/run)", "yes" if r["campaign_history_bounded"] else "NO"),
        (
            f"inspection histories (sample of {i.get('sampled')})",
            f"mean {i.get('events_mean')} events / {i.get('bytes_mean')} B, max {i.get('events_max')} events",
        ),
        ("peak RSS (MB)", ", ".join(f"{k} {v}" for k, v in r["peak_rss_mb"].items())),
        ("CPU seconds", ", ".join(f"{k} {v}" for k, v in r["cpu_s"].items())),
    ]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sites", type=int, default=2000)
    p.add_argument("--wave-size", type=int, default=AuditCampaignInput.wave_size)
    p.add_argument("--max-history-events", type=int, default=AuditCampaignInput.max_history_events)
    p.add_argument("--sample", type=int, default=20, help="inspection histories measured")
    p.add_argument("--quiet", type=float, default=3.0, help="seconds without campaign events meaning settled")
    p.add_argument("--timeout", type=float, default=1800.0)
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
    print(table(rows(out), f"Audit campaign, {out['sites']} sites"), flush=True)
    print("results:", write_result("audit_campaign", out))


if __name__ == "__main__":
    main()
