"""Run only by tests/infra/test_interrupted_run.py (not a test_ file): holds the cluster until the run is ended."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tests.conftest import PostgresCluster


def test_hold_the_cluster(pg_cluster: PostgresCluster) -> None:
    out = Path(os.environ["PROBE_OUT"])
    out.with_suffix(".tmp").write_text(f"{pg_cluster.base}\n{pg_cluster.postmaster_pid()}")
    out.with_suffix(".tmp").rename(out)  # whole, or not there yet
    threading.Event().wait()  # until a signal ends the run
