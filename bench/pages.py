"""Benchmark: the family invoice list and invoice page under wrk at 50 and 200 connections, beside /healthz.

Run: ``.venv/bin/python -m bench.pages [--clients 50 200] [--duration 10] [--families 200]``.

The API runs as the image runs it (``uvicorn api.app:create_app --factory``: one process, access log on;
production scales with replicas, not ``--workers``; ``--api-workers N`` tries N processes). The database is
seeded with ``--families`` families and their invoices of the last closed period are issued
(``BillingStore.issue_batch``); every wrk connection cycles over all the families, each request carrying
that family's signed session cookie (``TokenSigner.session_token``), so the pages read different rows. wrk
(Debian package ``wrk``) prints requests/s and, with ``--latency``, the p50/p90/p99 of each run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, col, select

from bench.api_proc import process_tree_hwm_mb, start_apis
from bench.stack import (
    Stack,
    add_db_option,
    bench_today,
    cpu_delta,
    cpu_snapshot,
    embedded_stack,
    issue_date_for,
    machine_busy_seconds,
    seed,
    table,
    write_result,
)
from domain.due_dates import due_date
from stack.billing_demo import billing_period_to_seed
from ville.db import SessionFactory, engine_for

TARGET_P99_MS = 50.0
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def issue_invoices(db_url: str, today: Any, due_day: int) -> int:
    """Issue the last closed period's invoices of every seeded family (what the cycle's issue phase does)."""
    from services.billing import BillingStore

    period = billing_period_to_seed(today)
    issue = issue_date_for(period)
    store = BillingStore(SessionFactory(engine_for(db_url)))
    bounds, _ = store.batch_bounds(period, 500)
    ranges = zip([0, *bounds[:-1]], bounds, strict=True)
    return sum(store.issue_batch(period, lo, hi, issue, due_date(issue, due_day)).invoices for lo, hi in ranges)


def family_targets(db_url: str, signing_keys: list[str], limit: int) -> list[tuple[str, str]]:
    """(session cookie, invoice number) of up to `limit` families that have an invoice.

    The demo seeds a user for 3 families only; each other family gets a user of its own here (the API re-reads
    the account on every request) and the cookie the sign-in would give it.
    """
    from sqlalchemy import insert

    from api.security import Principal, TokenSigner
    from ville.models.billing import Invoice
    from ville.models.people import Role, UserAccount

    signer = TokenSigner(signing_keys)
    with Session(engine_for(db_url)) as s:
        rows = s.exec(select(Invoice.account_id, Invoice.number).order_by(col(Invoice.account_id)).limit(limit)).all()
        users = [
            {"id": 1_000_000 + account, "email": f"bench-{account}@bench.invalid", "display_name": "Famille",
             "role": Role.family, "family_account_id": account}
            for account, _ in rows
        ]  # fmt: skip
        s.execute(insert(UserAccount), users)
        s.commit()
    return [
        (signer.session_token(Principal(1_000_000 + account, Role.family, family_account_id=account)), number)
        for account, number in rows
    ]


def lua_script(path: Path, targets: list[tuple[str, str]], endpoint: str) -> Path:
    """A wrk script cycling over the families: each request carries its family's cookie."""
    if endpoint == "healthz":
        paths = [("/healthz", "")]
    else:
        paths = [
            ("/famille/factures" if endpoint == "list" else f"/famille/factures/{number}", cookie)
            for cookie, number in targets
        ]
    lines = ["local reqs = {}", "local i = 0", "init = function(args)"]
    for p, cookie in paths:
        headers = f'{{["Cookie"] = "ville_session={cookie}"}}' if cookie else "{}"
        lines.append(f'  reqs[#reqs + 1] = wrk.format("GET", "{p}", {headers})')
    lines += [
        "  i = math.random(#reqs)",
        "end",
        "request = function()",
        "  i = i % #reqs + 1",
        "  return reqs[i]",
        "end",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def parse_wrk(text: str) -> dict[str, Any]:
    """Requests/s, latency percentiles (ms), errors and non-2xx from `wrk --latency` output."""

    def ms(value: str) -> float:
        m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
        if not m:
            raise ValueError(f"unreadable wrk latency {value!r}")
        return round(float(m.group(1)) * UNITS[m.group(2)], 2)

    out: dict[str, Any] = {}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["requests_per_s"] = float(rps.group(1)) if rps else None
    total = re.search(r"(\d+) requests in", text)
    out["requests"] = int(total.group(1)) if total else None
    for q in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{q}%\s+(\S+)", text, re.M)
        out[f"p{q}_ms"] = ms(m.group(1)) if m else None
    mx = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", text)
    out["max_ms"] = ms(mx.group(1)) if mx else None
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    keys = ("connect", "read", "write", "timeout")
    out["socket_errors"] = dict(zip(keys, map(int, err.groups()), strict=True)) if err else {}
    return out


def run_wrk(url: str, script: Path, clients: int, duration: float, threads: int) -> dict[str, Any]:
    """One wrk run; the timeout is wrk's (2 s by default would hide slow answers as errors: 10 s)."""
    argv = [
        "wrk",
        f"-t{min(threads, clients)}",
        f"-c{clients}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return {**parse_wrk(done.stdout), "argv": " ".join([*argv[:-3], script.name, url])}


def run_wrk_spread(bases: list[str], script: Path, clients: int, duration: float, threads: int) -> dict[str, Any]:
    """One wrk per API process at the same time, the clients split between them (a round-robin balancer's
    share); requests/s add up, and each percentile is the worst process's (an upper bound of the merged one)."""
    if len(bases) == 1:
        return run_wrk(bases[0], script, clients, duration, threads)
    share = max(1, clients // len(bases))
    with ThreadPoolExecutor(len(bases)) as pool:
        parts = list(pool.map(lambda b: run_wrk(b, script, share, duration, max(1, threads // len(bases))), bases))
    out: dict[str, Any] = {"requests_per_s": round(sum(p["requests_per_s"] or 0 for p in parts), 1)}
    out["requests"] = sum(p["requests"] or 0 for p in parts)
    for key in ("p50_ms", "p75_ms", "p90_ms", "p99_ms", "max_ms"):
        values = [p[key] for p in parts if p[key] is not None]
        out[key] = max(values) if values else None
    out["non_2xx"] = sum(p["non_2xx"] for p in parts)
    out["socket_errors"] = {k: sum(p["socket_errors"].get(k, 0) for p in parts) for k in ("connect", "read", "timeout")}
    out["argv"] = f"{len(bases)} x ({parts[0]['argv']})"
    return out


def check_pages(base: str, targets: list[tuple[str, str]]) -> None:
    """The cookie works: both pages answer 200 with the family's invoice in them (else the figures lie)."""
    cookie, number = targets[0]
    with httpx.Client(base_url=base, cookies={"ville_session": cookie}, follow_redirects=False) as http:
        for path in ("/famille/factures", f"/famille/factures/{number}"):
            r = http.get(path)
            if r.status_code != 200 or number not in r.text:
                raise RuntimeError(f"{path} answered {r.status_code} without {number}: the benchmark would be wrong")


def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    """Seed, issue, start uvicorn, then wrk on each endpoint at each concurrency."""
    db = stack.fresh_db("pages")
    settings = stack.settings_for(db, "bench-pages")
    today = bench_today()
    seed_s = seed(settings, args.families, today)
    invoices = issue_invoices(settings.database_url, today, settings.due_day_of_month)
    targets = family_targets(settings.database_url, settings.session_keys, args.families)
    if not targets:
        raise RuntimeError("no family with an invoice: nothing to load")
    apis = start_apis(stack, db, "bench-pages", "api-pages", args.api_processes, workers=args.api_workers)
    bases = [base for _, base in apis]
    runs: list[dict[str, Any]] = []
    try:
        for base in bases:
            check_pages(base, targets)
        scripts = {e: lua_script(stack.root / f"{e}.lua", targets, e) for e in ("healthz", "list", "invoice")}
        for base in bases:
            run_wrk(base, scripts["invoice"], 10, 2, args.threads)  # warm-up: templates, DB pages, imports
        services = [*stack.services, *(api for api, _ in apis)]
        for clients in args.clients:
            for endpoint in ("healthz", "list", "invoice"):
                cpu0, busy0, t0 = cpu_snapshot(services, stack.postgres), machine_busy_seconds(), time.perf_counter()
                r = run_wrk_spread(bases, scripts[endpoint], clients, args.duration, args.threads)
                cpu = cpu_delta(cpu0, cpu_snapshot(services, stack.postgres))
                busy = (machine_busy_seconds() - busy0) / (time.perf_counter() - t0) / (os.cpu_count() or 1)
                r |= cpu_per_request(cpu, r["requests"]) | {"machine_busy": round(busy, 2)}
                runs.append({"endpoint": endpoint, "clients": clients, **r})
                print(
                    f"{endpoint:8} {clients:4} clients: {r['requests_per_s']:8.1f} req/s, p50 {r['p50_ms']} ms,"
                    f" p99 {r['p99_ms']} ms, non-2xx {r['non_2xx']}, socket errors {r['socket_errors'] or 0};"
                    f" CPU ms per request: API {r['api_cpu_ms_per_request']},"
                    f" PostgreSQL {r['postgresql_cpu_ms_per_request']}; machine busy {100 * busy:.0f} %",
                    flush=True,
                )
        rss = round(sum(process_tree_hwm_mb(api.proc.pid) or 0.0 for api, _ in apis if api.proc), 1)
    finally:
        for api, _ in apis:
            api.stop()
    return {
        "families": args.families,
        "families_with_invoice": len(targets),
        "invoices": invoices,
        "seed_s": round(seed_s, 1),
        "api_workers": args.api_workers,
        "api_processes": args.api_processes,
        "db": args.db,
        "wrk_threads": args.threads,
        "runs": runs,
        "api_peak_rss_mb": rss,
    }


def cpu_per_request(cpu: dict[str, float], requests: int | None) -> dict[str, Any]:
    """CPU seconds of the API processes in a run, and milliseconds per request of them and of PostgreSQL."""
    api = sum(v for k, v in cpu.items() if k.startswith("api-pages"))
    per = 1000 / requests if requests else None
    pg = cpu.get("postgresql")
    return {
        "api_cpu_s": round(api, 1),
        "api_cpu_ms_per_request": round(api * per, 2) if per else None,
        "postgresql_cpu_ms_per_request": round(pg * per, 2) if per and pg is not None else None,
    }


def ratios(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each page against /healthz at the same concurrency, and the target."""
    out: dict[str, Any] = {}
    hz = {r["clients"]: r for r in runs if r["endpoint"] == "healthz"}
    for r in runs:
        base = hz.get(r["clients"])
        if r["endpoint"] == "healthz" or not base or not base["requests_per_s"]:
            continue
        out[f"{r['endpoint']}@{r['clients']}"] = {
            "rps_vs_healthz": round(r["requests_per_s"] / base["requests_per_s"], 2),
            "p99_vs_healthz": round(r["p99_ms"] / base["p99_ms"], 1) if r["p99_ms"] and base["p99_ms"] else None,
        }
    page50 = next((r for r in runs if r["endpoint"] == "invoice" and r["clients"] == 50), None)
    if page50 and page50["p99_ms"] is not None:
        met = page50["p99_ms"] < TARGET_P99_MS and not page50["non_2xx"]
        out["target"] = f"invoice page p99 at 50 clients {page50['p99_ms']} ms (< {TARGET_P99_MS:g}): " + (
            "met" if met else "missed"
        )
    return out


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, nargs="+", default=[50, 200], help="wrk connections, one run each")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    p.add_argument("--families", type=int, default=200, help="seeded families (each gets one invoice)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--api-workers", type=int, default=1, help="uvicorn --workers (production: 1 per container)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    p.add_argument("--api-processes", type=int, default=1, help="separate uvicorn processes, one wrk on each")
    add_db_option(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `scripts/ensure-system-packages.sh wrk` (or `apt-get install wrk`)")
    t0 = time.perf_counter()
    with embedded_stack(keep=args.keep, db=args.db) as stack:
        out = run(args, stack)
    out["ratios"] = ratios(out["runs"])
    out["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    rows = [
        (
            f"{r['endpoint']} @ {r['clients']}",
            f"{r['requests_per_s']} req/s, p50 {r['p50_ms']} p99 {r['p99_ms']} ms,"
            f" CPU ms/request API {r['api_cpu_ms_per_request']} PostgreSQL {r['postgresql_cpu_ms_per_request']}",
        )
        for r in out["runs"]
    ]
    rows += [(k, str(v)) for k, v in out["ratios"].items()]
    procs = f"{out['api_processes']} process(es), --workers {out['api_workers']}"
    rows.append(("API peak RSS", f"{out['api_peak_rss_mb']} MB ({procs})"))
    print(table(rows, f"Family pages, {out['families_with_invoice']} families"), flush=True)
    print("results:", write_result("pages", out))


if __name__ == "__main__":
    main()
