"""The benchmarks' CPU accounting counts child processes, living and reaped (bench.stack.cpu_seconds)."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.stack import cpu_seconds, machine_busy_seconds

# burns at least 0.5 s of its own CPU, says so, then waits for its stdin to close
CHILD = """
import sys, time
while time.process_time() < 0.5:
    pass  # the kernel counts in 10 ms ticks: the checks below allow a few of them
print("burnt", flush=True)
sys.stdin.read()
"""


def test_a_child_process_cpu_is_counted_while_it_lives_and_after_it_is_reaped() -> None:
    me = os.getpid()
    own0, tree0, busy0 = cpu_seconds(me), cpu_seconds(me, tree=True), machine_busy_seconds()
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "burnt"

    living = cpu_seconds(me, tree=True) - tree0
    assert living >= 0.45, living  # the living child's CPU is in the tree
    assert cpu_seconds(me) - own0 < 0.45  # and not in this process's own figure

    child.stdin.close()
    assert child.wait(timeout=30) == 0
    reaped = cpu_seconds(me, tree=True) - tree0
    assert reaped >= 0.45, reaped  # once reaped, the kernel adds it to this process's cutime
    assert machine_busy_seconds() - busy0 >= 0.45  # the machine was busy at least that long


def test_a_process_that_is_gone_counts_nothing() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    assert cpu_seconds(child.pid) == 0.0
    assert cpu_seconds(child.pid, tree=True) == 0.0
