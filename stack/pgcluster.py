"""A throwaway PostgreSQL cluster on loopback for tests and benchmarks (dev only; production has its own server)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from stack import devstack
from stack.bootstrap import migrate


class ThrowawayCluster:
    """initdb + pg_ctl in a scratch directory (as the postgres user when run as root: initdb refuses root).

    `create()` copies a template migrated once from empty (CREATE DATABASE ... TEMPLATE is a file copy).
    """

    TEMPLATE = "ville_template"

    def __init__(
        self, base: Path | None = None, max_connections: int = 400, server_options: Sequence[str] = ()
    ) -> None:
        # by default its own directory under /tmp: a parent private to root would stop the postgres user
        self.base = base or Path(tempfile.mkdtemp(prefix="ville-pg-"))
        self.port = devstack.free_port()
        self.max_connections = max_connections
        self.server_options = tuple(server_options)  # more `-c name=value` settings (bench: pg_stat_statements)
        self.template_ready = False
        initdb = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))), None) or shutil.which("initdb")
        if initdb is None:
            raise RuntimeError("PostgreSQL is not installed: scripts/ensure-system-packages.sh postgresql")
        self.bindir = Path(initdb).parent
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_pg, str(self.bindir / tool), *args], check=True, capture_output=True)

    def start(self) -> Self:
        """initdb and start; durability off (fsync, full pages, synchronous commit): the data is thrown away."""
        self.base.mkdir(parents=True, exist_ok=True)
        if self.as_pg:
            self.base.chmod(0o755)
            shutil.chown(self.base, "postgres", "postgres")
        data = str(self.base / "data")
        self._run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8")
        # max_connections: every API process, worker and test engine holds a pool on the database it uses
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c fsync=off -c full_page_writes=off"
            f" -c synchronous_commit=off -c max_connections={self.max_connections}"
        ) + "".join(f" -c {option}" for option in self.server_options)
        self._run("pg_ctl", "-D", data, "-o", opts, "-w", "start", "-l", str(self.base / "postgres.log"))
        return self

    def stop(self) -> None:
        """Stop at once and delete the directory."""
        subprocess.run(
            [*self.as_pg, str(self.bindir / "pg_ctl"), "-D", str(self.base / "data"), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.base, ignore_errors=True)

    def postmaster_pid(self) -> int | None:
        """The server's process id while it runs (the first line of postmaster.pid), else None."""
        try:
            return int((self.base / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def url(self, name: str) -> str:
        """The SQLAlchemy URL of a database on the cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def admin(self, sql: str) -> None:
        """One statement on the maintenance database (CREATE/DROP DATABASE refuse transactions)."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(sql.encode())

    def create_empty(self, name: str) -> str:
        """A new empty database (`migrate` brings it up from nothing)."""
        self.admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def create(self, hint: str, template: str | None = None) -> str:
        """A new migrated database: a copy of `template` (a database name) or of the migrated-once template."""
        if template is None:
            if not self.template_ready:
                migrate(self.create_empty(self.TEMPLATE))
                self.template_ready = True
            template = self.TEMPLATE
        # a copy needs the template free of sessions: end those left by pools (they reconnect when used again)
        self.admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{template}'")
        name = f"{hint.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a database (FORCE ends the sessions of servers already stopped or still pooled)."""
        self.admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
