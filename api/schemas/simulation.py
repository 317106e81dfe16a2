"""Request and response models of the tariff impact simulation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from contracts.simulation import SimulationProgress
from domain.simulation import ImpactTotals, TrancheMedian


class SimulationIn(BaseModel):
    """A proposed grid (JSON, same format as the versioned grids) or a stored grid's id, and billed periods."""

    grid: dict[str, Any] | None = None
    grid_id: str | None = Field(None, max_length=40)
    periods: list[str] = Field(min_length=1, max_length=12, examples=[["2026-09", "2026-11"]])
    batch_size: int = Field(500, ge=10, le=5_000)


class SimulationStarted(BaseModel):
    """Where to follow the simulation."""

    simulation_ref: str
    workflow_id: str
    status_url: str
    result_url: str


class SimulationStatus(BaseModel):
    """Where a simulation stands: en_cours, terminee or echec, with its progress when known."""

    simulation_ref: str
    status: str
    progress: SimulationProgress | None = None


class SimulationFiles(BaseModel):
    """Presigned links to the report (valid 15 minutes)."""

    csv_url: str
    pdf_url: str
    svg_url: str


class SimulationOutcome(BaseModel):
    """The figures and the report's links."""

    simulation_ref: str
    period_keys: list[str]
    grid_id: str
    totals: ImpactTotals
    medians: list[TrancheMedian]
    files: SimulationFiles
