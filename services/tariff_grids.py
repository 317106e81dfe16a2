"""Reads of the stored tariff grids (versioned JSON) by id."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from ville.models.billing import TariffGridVersion


def grid_data(session: Session, grid_id: str) -> dict[str, Any] | None:
    """A stored grid's JSON, or None when no grid has this id."""
    data = session.exec(select(TariffGridVersion.data).where(TariffGridVersion.id == grid_id)).first()
    return None if data is None else dict(data)
