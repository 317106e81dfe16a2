"""Reads of the stored tariff grids (versioned JSON): by id, the latest one."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from ville.models.billing import TariffGridVersion


def grid_data(session: Session, grid_id: str) -> dict[str, Any] | None:
    """A stored grid's JSON, or None when no grid has this id."""
    data = session.exec(select(TariffGridVersion.data).where(TariffGridVersion.id == grid_id)).first()
    return None if data is None else dict(data)


def latest_grid_data(session: Session) -> dict[str, Any] | None:
    """The JSON of the grid in force last (latest effective date), or None when no grid is stored."""
    data = session.exec(
        select(TariffGridVersion.data).order_by(col(TariffGridVersion.effective_from).desc()).limit(1)
    ).first()
    return None if data is None else dict(data)
