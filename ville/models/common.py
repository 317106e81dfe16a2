"""Column helpers shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlmodel import Field


def utcnow() -> datetime:
    """Timezone-aware now, for default column values (never used in workflows)."""
    return datetime.now(UTC)


def ts_field(nullable: bool = False, index: bool = False) -> datetime:
    """A timezone-aware timestamp column defaulting to now."""
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_type=DateTime(timezone=True),
        nullable=nullable,
        index=index,
    )


def opt_ts_field() -> datetime | None:
    """A nullable timezone-aware timestamp column."""
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=True)
