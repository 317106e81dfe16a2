"""Deterministic synthetic Paris: families and attendance, sites and inspectors, relays and partners."""

from __future__ import annotations

from datetime import date, datetime

import structlog
from sqlmodel import Session, select

from domain.calendar import PARIS
from stack.seeding import SEEDERS, SeedContext
from ville.db import engine_for, refresh_statistics
from ville.models.people import UserAccount
from ville.settings import Settings

log = structlog.get_logger(__name__)


def seed_demo(
    settings: Settings, families: int = 100, force: bool = False, today: date | None = None, seed: int = 75
) -> bool:
    """Load the synthetic data once (or again with `force` on an empty database); True if it loaded."""
    _register_seeders()
    engine = engine_for(settings.database_url)
    with Session(engine) as s:
        if s.exec(select(UserAccount).limit(1)).first() is not None and not force:
            log.info("demo.already_seeded")
            return False
    ctx = SeedContext(engine=engine, families=families, today=today or datetime.now(PARIS).date(), seed=seed)
    for seeder in SEEDERS:
        seeder(ctx)
        log.info("demo.seeded", area=seeder.__module__.rsplit(".", 1)[-1])
    refresh_statistics(engine)  # a bulk load, as any import: the planner needs statistics for the new rows
    return True


def _register_seeders() -> None:
    # Seeders register themselves on import; billing first, it creates the users' table rows others extend.
    import stack.billing_demo
    import stack.referral_demo  # noqa: F401
    from stack import audit_demo  # noqa: F401
