"""The embedded stack of a benchmark run: Temporal dev server (SQLite, WAL), localstripe, moto, fresh databases."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from bench.pg_statements import PG_STATEMENTS_OPTIONS
from domain.calendar import next_business_day_on_or_after
from domain.periods import BillingPeriod, period_for
from stack import devstack
from stack.bootstrap import ensure_aws_resources, migrate
from stack.pgcluster import ThrowawayCluster
from ville.settings import Settings

log = structlog.get_logger(__name__)
RESULTS = Path(__file__).resolve().parent / "results"


def bench_today(now: date | None = None) -> date:
    """A 'today' whose last closed period is billed in the future, so the cycle waits for its due date."""
    now = now or datetime.now(UTC).date()
    return period_for(now).end + timedelta(days=6)


def issue_date_for(period: BillingPeriod) -> date:
    """First business day after the period."""
    return next_business_day_on_or_after(period.end + timedelta(days=1))


@dataclass
class Stack:
    """Running emulators and where they listen."""

    root: Path
    env: dict[str, str]
    settings: Settings
    services: list[devstack.Service] = field(default_factory=list)
    postgres: ThrowawayCluster | None = None  # `--db postgresql`: databases live on this cluster
    pg_statements: bool = False  # the cluster loads pg_stat_statements

    def settings_for(self, db_url: str, task_queue: str) -> Settings:
        """Settings of the stack pointed at one database and task queue."""
        return self.settings.model_copy(update={"database_url": db_url, "task_queue": task_queue})

    def fresh_db(self, name: str, template: str | None = None) -> str:
        """A migrated database's URL (a copy of `template`, a URL from here, if given): SQLite or PostgreSQL."""
        if self.postgres is not None:
            return self.postgres.create(name, template.rsplit("/", 1)[1] if template else None)
        path = self.root / f"{name}.db"
        if template is not None:
            source = template.removeprefix("sqlite:///")
            with sqlite3.connect(source) as c:  # fold the WAL into the file before copying it
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copyfile(source, path)
        else:
            migrate(f"sqlite:///{path}")
        return f"sqlite:///{path}"


@contextmanager
def embedded_stack(keep: bool = False, db: str = "sqlite", pg_statements: bool = False) -> Iterator[Stack]:
    """Start Temporal (on a SQLite file), localstripe and moto on free loopback ports; stop them at exit.

    `db="postgresql"`: the app's databases go to a throwaway PostgreSQL cluster (production's database);
    `pg_statements`: with pg_stat_statements loaded (bench/pg_statements.py).
    """
    root = Path(tempfile.mkdtemp(prefix="ville-bench-"))
    ports = {k: devstack.free_port() for k in ("temporal", "stripe", "aws", "api")}
    env = {
        **devstack.emulator_env(ports["temporal"], ports["stripe"], ports["aws"]),
        "ENV": "dev",
        # the figures count e-mails sent during the cycle, at whatever hour the benchmark runs
        "RHYTHM_DELIVERY": "false",
        "DATA_DIR": str(root),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['api']}",
        "LOG_FORMAT": "json",
    }
    settings = Settings(
        _env_file=None,
        temporal_address=env["TEMPORAL_ADDRESS"],
        stripe_api_base=env["STRIPE_API_BASE"],
        aws_endpoint_url=env["AWS_ENDPOINT_URL"],
        data_dir=root,
        public_base_url=env["PUBLIC_BASE_URL"],
    )
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        os.environ[k] = env[k]
    services = [
        devstack.temporal_dev_server(root / "temporal.db", ports["temporal"], None),
        devstack.localstripe(ports["stripe"]),
        devstack.moto(ports["aws"]),
    ]
    stack = Stack(root, env, settings)
    try:
        if db == "postgresql":
            stack.postgres = ThrowawayCluster(server_options=PG_STATEMENTS_OPTIONS if pg_statements else ()).start()
            stack.pg_statements = pg_statements
        for s in services:
            s.log_file = root / f"{s.name}.log"
            stack.services.append(s.start())
        ensure_aws_resources(settings)
        yield stack
    finally:
        for s in reversed(stack.services):
            s.stop()
        if stack.postgres is not None:
            stack.postgres.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def seed(settings: Settings, families: int, today: date) -> float:
    """Seed the deterministic demo data; returns seconds."""
    from stack.demo import seed_demo

    t0 = time.perf_counter()
    seed_demo(settings, families=families, today=today, force=True)
    return time.perf_counter() - t0


def vm_hwm_mb(pid: int) -> float | None:
    """Peak resident set size of a process (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (field 3 onwards); empty once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _children(pid: int) -> list[int]:
    """Living child processes of `pid` (of any of its threads)."""
    kids: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            kids += [int(k) for k in (task / "children").read_text().split()]
    except OSError:
        pass
    return kids


def cpu_seconds(pid: int, *, tree: bool = False) -> float:
    """User + system CPU time of a process so far, in seconds; with `tree`, plus its descendants': the living
    ones (the worker's PDF processes, PostgreSQL's backends) and those it has reaped (counted by the kernel in
    the parent's cutime/cstime)."""
    fields = _stat_fields(pid)
    if not fields:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if tree:
        ticks += int(fields[13]) + int(fields[14])
    own = ticks / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(k, tree=True) for k in _children(pid)) if tree else own


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and I/O wait), every process
    of the machine included."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(services: list[devstack.Service], postgres: ThrowawayCluster | None = None) -> dict[str, float]:
    """CPU seconds of each running service with its child processes, of the PostgreSQL cluster when there is one
    (the server and its backends), and of this process."""
    snap = {s.name: cpu_seconds(s.proc.pid, tree=True) for s in services if s.proc is not None}
    if postgres is not None and (pid := postgres.postmaster_pid()) is not None:
        snap["postgresql"] = cpu_seconds(pid, tree=True)
    snap["bench (this process)"] = cpu_seconds(os.getpid())
    return snap


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds spent by each service between two snapshots."""
    return {k: round(after[k] - before.get(k, 0.0), 1) for k in after}


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write a JSON result under bench/results/."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def add_db_option(p: argparse.ArgumentParser) -> None:
    """`--db sqlite|postgresql`: the database the app runs on (`embedded_stack(db=...)`)."""
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite", help="the app's database")


def table(rows: list[tuple[str, str]], title: str) -> str:
    """A two-column plain-text table."""
    width = max(len(k) for k, _ in rows)
    lines = [title, "-" * len(title)] + [f"{k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)


__all__ = [
    "Stack",
    "add_db_option",
    "bench_today",
    "cpu_delta",
    "cpu_snapshot",
    "embedded_stack",
    "issue_date_for",
    "machine_busy_seconds",
    "seed",
    "table",
    "vm_hwm_mb",
    "write_result",
]
