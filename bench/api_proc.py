"""The API as production runs it (uvicorn, one process per container) on the benchmark stack, and latency maths."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stack import Stack
from stack import devstack

# infra/Dockerfile and infra/k8s/base/api-deployment.yaml: one uvicorn process per container (no --workers),
# scaled by replicas; uvicorn's [standard] extras are installed, so the loop is uvloop and HTTP is httptools.
UVICORN_APP = ["api.app:create_app", "--factory"]


def start_api(
    stack: Stack,
    db_url: str,
    task_queue: str,
    name: str = "api",
    workers: int = 1,
    access_log: bool = True,
    extra_env: dict[str, str] | None = None,
) -> tuple[devstack.Service, str]:
    """`uvicorn api.app:create_app --factory` on a free port (access log on, as in the image); returns (svc, url)."""
    port = devstack.free_port()
    argv = [sys.executable, "-m", "uvicorn", *UVICORN_APP, "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    if not access_log:
        argv.append("--no-access-log")
    env = {
        **stack.env,
        "DATABASE_URL": db_url,
        "TASK_QUEUE": task_queue,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **(extra_env or {}),
    }
    svc = devstack.Service(name, argv, port=port, env=env)
    svc.log_file = stack.root / f"{name}.log"
    return svc.start(), f"http://127.0.0.1:{port}"


def start_apis(
    stack: Stack, db_url: str, task_queue: str, name: str, processes: int, workers: int = 1
) -> list[tuple[devstack.Service, str]]:
    """`processes` separate uvicorn processes on their own ports (replicas, as Kubernetes scales the API); the
    load driver spreads its requests over them round-robin, in place of the load balancer."""
    if processes == 1:
        return [start_api(stack, db_url, task_queue, name, workers)]
    return [start_api(stack, db_url, task_queue, f"{name}-{i + 1}", workers) for i in range(processes)]


def pct(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of `values`, or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def latency_ms(values_s: Sequence[float]) -> dict[str, Any]:
    """p50/p90/p99/max of latencies given in seconds, in milliseconds."""
    out: dict[str, Any] = {"n": len(values_s)}
    for label, q in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)):
        v = pct(values_s, q)
        out[label] = None if v is None else round(1000 * v, 1)
    return out


def process_tree_hwm_mb(pid: int) -> float | None:
    """Peak RSS (VmHWM) of a process and its children (uvicorn --workers forks), summed, in MB."""
    from bench.stack import vm_hwm_mb

    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    values = [v for v in (vm_hwm_mb(p) for p in pids) if v is not None]
    return round(sum(values), 1) if values else None
