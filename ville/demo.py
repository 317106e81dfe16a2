"""Deterministic synthetic Paris: families and attendance, sites and inspectors, relays and partners."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from domain.calendar import PARIS
from ville.db import engine_for
from ville.models.people import UserAccount
from ville.settings import Settings

log = structlog.get_logger(__name__)

DEMO_ACCOUNTS: list[tuple[str, str]] = []


@dataclass(frozen=True)
class SeedContext:
    """What every seeder receives: one engine, one seeded RNG per area, the scale and the day."""

    engine: Engine
    families: int
    today: date
    seed: int

    def rng(self, area: str) -> random.Random:
        """A deterministic RNG for one area, independent of the others' draws."""
        return random.Random(f"{self.seed}:{area}")


Seeder = Callable[[SeedContext], None]
SEEDERS: list[Seeder] = []


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
    return True


def _register_seeders() -> None:
    # Seeders register themselves on import; billing first, it creates the users' table rows others extend.
    import ville.billing_demo
    import ville.referral_demo  # noqa: F401
    from ville import audit_demo  # noqa: F401
