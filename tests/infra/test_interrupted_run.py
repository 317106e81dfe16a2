"""A test run ended by SIGTERM (`kill`, a CI time limit) stops and deletes its throwaway PostgreSQL cluster."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("interrupted_probe.py")


def _postmaster_runs(pid: int, base: str) -> bool:
    """The cluster's postmaster still runs (not merely a process that reuses its pid)."""
    try:
        return base in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return False


def test_a_terminated_run_stops_and_deletes_its_postgresql_cluster(tmp_path: Path) -> None:
    out = tmp_path / "cluster.txt"
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PROBE)],
        cwd=ROOT,
        env={**os.environ, "DB": "postgresql", "PROBE_OUT": str(out)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _terminate_and_check(run, out)
    finally:  # a failed check leaves neither the run nor its cluster behind
        run.kill()
        if out.exists():
            base, pid = out.read_text().split("\n")
            if _postmaster_runs(int(pid), base):
                os.kill(int(pid), signal.SIGQUIT)  # the postmaster's immediate shutdown
            shutil.rmtree(base, ignore_errors=True)


def _terminate_and_check(run: subprocess.Popen[str], out: Path) -> None:
    deadline = time.monotonic() + 120
    while not out.exists():
        assert run.poll() is None, run.communicate()[0]
        assert time.monotonic() < deadline, "the probe never held its cluster"
        time.sleep(0.1)  # polling for the probe's file, not waiting for a guessed duration
    base, pid = out.read_text().split("\n")
    assert Path(base).is_dir() and _postmaster_runs(int(pid), base)

    run.send_signal(signal.SIGTERM)
    output = run.communicate(timeout=120)[0]

    assert run.returncode == 2, output  # pytest's "interrupted"
    assert not Path(base).exists(), output
    deadline = time.monotonic() + 30
    while _postmaster_runs(int(pid), base):  # pg_ctl waited for its shutdown; init may not have reaped it yet
        assert time.monotonic() < deadline, f"the cluster's postmaster {pid} still runs"
        time.sleep(0.1)
