"""What the demo seeders share: the registry they join on import, their context, the accounts they create."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.engine import Engine

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
