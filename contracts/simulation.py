"""Inputs, results and messages of the tariff impact simulation (plain dataclasses, safe in the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.simulation import ImpactTotals, TrancheMedian


class SimulationActivity:
    """Activity names of the tariff simulation: workflows call them by these names, activities register under them."""

    PREPARE = "prepare_simulation"
    SIMULATE_BATCH = "simulate_batch"
    FINALISE = "finalise_simulation"


class SimulationPhase(StrEnum):
    """Where a simulation stands (also its BusinessStatus search attribute)."""

    PLANNING = "planning"
    SIMULATING = "simulating"
    FINALISING = "finalising"
    DONE = "done"


@dataclass
class SimulationState:
    """What a simulation carries across continue-as-new: aggregates only, never per-family data."""

    phase: SimulationPhase = SimulationPhase.PLANNING
    bounds: list[int] = field(default_factory=list)
    families: int = 0
    grid_key: str = ""
    grid_id: str = ""
    next_batch: int = 0
    done_batches: int = 0
    totals: ImpactTotals = field(default_factory=ImpactTotals)


@dataclass
class TariffSimulationInput:
    """A proposed grid (JSON, same format as the versioned grids) or the id of a stored grid, and closed periods."""

    simulation_ref: str
    period_keys: list[str]
    grid: dict[str, Any] | None = None
    grid_id: str | None = None
    period_months: int = 2
    batch_size: int = 500
    parallelism: int = 4
    max_batches_per_run: int = 100
    state: SimulationState | None = None


@dataclass
class SimulationPlanRequest:
    """Check the periods and the grid, store the grid for the batches, cut the accounts into batches."""

    simulation_ref: str
    period_keys: list[str]
    batch_size: int
    grid: dict[str, Any] | None = None
    grid_id: str | None = None


@dataclass
class SimulationPlan:
    """Upper account id of each batch, how many families, where the proposed grid is stored."""

    bounds: list[int]
    families: int
    grid_key: str
    grid_id: str


@dataclass
class SimulationBatchRequest:
    """One batch of accounts: lo < account id <= hi, over every simulated period."""

    simulation_ref: str
    period_keys: list[str]
    grid_key: str
    lo: int
    hi: int


@dataclass
class SimulationFinaliseRequest:
    """Build the report from the aggregates and the batches' anonymous changes."""

    simulation_ref: str
    period_keys: list[str]
    grid_id: str
    bounds: list[int]
    totals: ImpactTotals


@dataclass
class SimulationReport:
    """Medians and where the files are (S3 keys)."""

    medians: list[TrancheMedian]
    csv_key: str
    pdf_key: str
    svg_key: str
    summary_key: str


@dataclass
class TariffSimulationResult:
    """What the simulation found, and its report files."""

    simulation_ref: str
    period_keys: list[str]
    grid_id: str
    totals: ImpactTotals
    medians: list[TrancheMedian]
    csv_key: str
    pdf_key: str
    svg_key: str
    summary_key: str


@dataclass
class SimulationProgress:
    """Answer of the progress query."""

    simulation_ref: str
    phase: SimulationPhase
    period_keys: list[str]
    grid_id: str
    batches_total: int
    batches_done: int
    families: int
    totals: ImpactTotals
