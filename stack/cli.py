"""`ville` command line: the embedded default (`ville dev`), migrations, bootstrap and demo data."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

import httpx
import structlog

from stack import devstack
from stack.bootstrap import ensure_aws_resources, migrate
from ville.logging import configure_logging
from ville.settings import DEV_WEBHOOK_SECRET, Settings, get_settings

log = structlog.get_logger("ville")

PORTS = {"temporal": 7233, "temporal_ui": 8233, "api": 8000, "stripe": 8420, "aws": 5055}


def _dev(args: argparse.Namespace) -> int:
    """Run the whole system on loopback until Ctrl-C."""
    if args.port_offset:  # a second stack beside the first (tests/infra/test_dev_postgres.py runs one)
        PORTS.update({name: port + args.port_offset for name, port in PORTS.items()})
    data = Path(args.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    env = {
        **devstack.emulator_env(PORTS["temporal"], PORTS["stripe"], PORTS["aws"]),
        "ENV": "dev",
        "DATA_DIR": str(data),
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{data / 'ville.db'}"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{PORTS['api']}",
        "STRIPE_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET,
    }
    os.environ.update(env)
    get_settings.cache_clear()
    settings = get_settings()
    configure_logging(settings)
    for name, port in PORTS.items():
        if not _port_free(port):
            log.error("dev.port_in_use", service=name, port=port)
            return 1
    api_url = f"http://127.0.0.1:{PORTS['api']}"
    services = [
        *devstack.temporal_with_ui(data / "temporal.db", PORTS["temporal"], PORTS["temporal_ui"], api_url),
        devstack.localstripe(PORTS["stripe"], data / "localstripe.pickle"),
        devstack.moto(PORTS["aws"]),
    ]
    app = [
        devstack.Service("worker", [sys.executable, "worker.py"], env=env),
        devstack.Service(
            "api",
            devstack.api_command(PORTS["api"]),
            port=PORTS["api"],
            env=env,
        ),
    ]
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started: list[devstack.Service] = []
    try:
        for s in [*services, *app]:
            s.log_file = logs / f"{s.name}.log"
            started.append(s.start())
            if s.name == "moto":
                # moto keeps state in memory only: recreate bucket, sender and queue at each start
                ensure_aws_resources(settings)
                env["SQS_ATTENDANCE_QUEUE_URL"] = settings.sqs_attendance_queue_url or ""
                migrate(settings.database_url)
                _seed_if_empty(settings, args.families)
            if s.name == "localstripe":
                _register_webhook(settings)
        asyncio.run(_bootstrap_temporal(settings))
        _banner(data, asyncio.run(_start_demo_cycle(settings)))
        while not stop.is_set():
            for s in started:
                if s.proc is not None and s.proc.poll() is not None:
                    log.error("dev.service_died", service=s.name, code=s.proc.returncode, log=str(s.log_file))
                    stop.set()
            stop.wait(1.0)
    finally:
        for s in reversed(started):
            s.stop()
    log.info("dev.stopped")
    return 0


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _register_webhook(settings: Settings) -> None:
    httpx.post(
        f"{settings.stripe_api_base}/_config/webhooks/ville",
        data={"url": f"{settings.public_base_url}/webhooks/stripe", "secret": DEV_WEBHOOK_SECRET},
        timeout=10,
    ).raise_for_status()


def _seed_if_empty(settings: Settings, families: int) -> None:
    from stack.demo import seed_demo

    seed_demo(settings, families=families)


async def _bootstrap_temporal(settings: Settings) -> None:
    from stack.schedules import ensure_schedules
    from ville.temporal import connect, register_search_attributes

    client = await connect(settings)
    await register_search_attributes(client, settings.temporal_namespace)
    await ensure_schedules(client, settings)


async def _start_demo_cycle(settings: Settings) -> str | None:
    # the demo period's invoices come from the real BillingCycleWorkflow (first start only: see demo_cycle)
    from stack.demo_cycle import start_demo_cycle
    from ville.temporal import connect

    return await start_demo_cycle(await connect(settings), settings)


def _banner(data: Path, demo_cycle: str | None = None) -> None:
    from stack.seeding import DEMO_ACCOUNTS

    lines = [
        "",
        "Ville de Paris — services aux familles : tout tourne en local.",
        f"  Pages et API     http://127.0.0.1:{PORTS['api']}/        (docs : /docs)",
        f"  Temporal UI      http://127.0.0.1:{PORTS['temporal_ui']}/",
        f"  Temporal gRPC    127.0.0.1:{PORTS['temporal']}",
        f"  localstripe      http://127.0.0.1:{PORTS['stripe']}/",
        f"  moto (AWS)       http://127.0.0.1:{PORTS['aws']}/   (mails : /moto-api/data.json)",
        f"  Données, journaux {data}",
        "Comptes de démo (connexion par lien magique, le lien s'affiche en dev) :",
        *[f"  {role:<18} {email}" for role, email in DEMO_ACCOUNTS],
        *(
            [
                f"Facturation de la période de démo en cours (workflow {demo_cycle}) : console /operateur,",
                f"  Temporal UI http://127.0.0.1:{PORTS['temporal_ui']}/namespaces/default/workflows/{demo_cycle}",
            ]
            if demo_cycle
            else []
        ),
        "Ctrl-C arrête tout.",
    ]
    sys.stderr.write("\n".join(lines) + "\n")


def _migrate(_: argparse.Namespace) -> int:
    settings = get_settings()
    configure_logging(settings)
    migrate(settings.database_url)
    return 0


def _bootstrap(_: argparse.Namespace) -> int:
    settings = get_settings()
    configure_logging(settings)
    asyncio.run(_bootstrap_temporal(settings))
    return 0


def _seed(args: argparse.Namespace) -> int:
    from stack.demo import seed_demo

    settings = get_settings()
    configure_logging(settings)
    migrate(settings.database_url)
    seed_demo(settings, families=args.families, force=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ville` command."""
    parser = argparse.ArgumentParser(prog="ville")
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run the whole system on loopback (Temporal, emulators, worker, API)")
    dev.add_argument("--data-dir", default="data")
    dev.add_argument("--families", type=int, default=100)
    dev.add_argument("--port-offset", type=int, default=0, help="added to every fixed port (8000 -> 8000+N...)")
    dev.set_defaults(fn=_dev)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=_migrate)
    sub.add_parser("bootstrap", help="register search attributes and schedules").set_defaults(fn=_bootstrap)
    seed = sub.add_parser("seed", help="load synthetic data (deterministic)")
    seed.add_argument("--families", type=int, default=100)
    seed.set_defaults(fn=_seed)
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    raise SystemExit(main())
