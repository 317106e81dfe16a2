"""Tariff impact simulation for billing operators: start one on a proposed grid, follow it, read its report."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import structlog
from fastapi import APIRouter, HTTPException, status
from sqlmodel import Session
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.audit_log import audit
from api.deps import S3Dep, SessionDep, SettingsDep, TemporalDep
from api.errors import field_error
from api.schemas.simulation import (
    SimulationFiles,
    SimulationIn,
    SimulationOutcome,
    SimulationStarted,
    SimulationStatus,
)
from api.security import BillingOperator, Principal, not_found
from api.temporal_query import QUERY_TIMEOUT, bounded
from contracts.simulation import SimulationProgress, TariffSimulationInput, TariffSimulationResult
from domain.periods import period_from_key
from domain.simulation import ProposedGridError, current_grid, simulation_ref, validate_proposed_grid
from services import invoices
from services.billing import load_tariff_grids
from services.tariff_grids import grid_data
from ville.ids import tariff_simulation_id
from ville.settings import Settings
from workflows.simulation import TariffSimulationWorkflow

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/billing/simulations", tags=["billing"])
REF_RE = re.compile(r"[0-9a-f]{16}")
LINK_SECONDS = 900
STATUS_FR = {
    WorkflowExecutionStatus.RUNNING: "en_cours",
    WorkflowExecutionStatus.COMPLETED: "terminee",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "en_cours",
}


def billed_periods(session: Session, limit: int = 12) -> list[str]:
    """The most recent periods with issued invoices (the ones a simulation can use), newest first."""
    return invoices.billed_periods(session, limit)


def _resolve_grid(session: Session, body: SimulationIn) -> dict[str, Any]:
    if body.grid is not None:
        return body.grid
    if body.grid_id:
        data = grid_data(session, body.grid_id)
        if data is None:
            raise field_error("body.grid_id", "Grille inconnue.")
        return data
    raise field_error("body.grid", "Donnez une grille proposée (JSON) ou l'identifiant d'une grille enregistrée.")


def check_request(session: Session, settings: Settings, body: SimulationIn) -> tuple[list[str], dict[str, Any]]:
    """Validate the periods (billed) and the grid; 422 naming the field otherwise. Returns (periods, grid)."""
    raw = _resolve_grid(session, body)
    try:
        periods = sorted(
            {period_from_key(k, settings.billing_period_months) for k in body.periods}, key=lambda p: p.start
        )
    except ValueError:
        raise field_error("body.periods", "Période invalide : format AAAA-MM, mois de début d'une période.") from None
    keys = [p.key for p in periods]
    counts = invoices.counts_per_period(session, keys)
    if missing := [k for k in keys if not counts.get(k)]:
        raise field_error("body.periods", f"Période(s) pas encore facturée(s) : {', '.join(missing)}.")
    try:
        validate_proposed_grid(raw, current_grid(load_tariff_grids(session), periods))
    except ProposedGridError as err:
        raise field_error(f"body.grid.{err.field}" if err.field else "body.grid", err.message) from None
    return keys, raw


async def start_simulation(
    session: Session, temporal: Client, settings: Settings, principal: Principal, body: SimulationIn
) -> str:
    """Start (or find) the simulation of this grid on these periods; returns its reference."""
    keys, raw = check_request(session, settings, body)
    ref = simulation_ref(raw, keys)
    wf_id = tariff_simulation_id(ref)
    try:
        await temporal.start_workflow(
            TariffSimulationWorkflow.run,
            TariffSimulationInput(
                ref,
                keys,
                grid=raw,
                batch_size=body.batch_size,
                parallelism=2 if settings.database_url.startswith("sqlite") else 4,
            ),
            id=wf_id,
            task_queue=settings.task_queue,
            # the same grid on the same periods gives the same figures: a finished one is reused, a failed one rerun
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:
        log.info("simulation.reused", simulation=ref)
    audit(session, principal, "simulation.start", wf_id)
    return ref


def _handle(temporal: Client, ref: str) -> WorkflowHandle[TariffSimulationWorkflow, TariffSimulationResult]:
    if not REF_RE.fullmatch(ref):
        raise not_found()
    return temporal.get_workflow_handle_for(TariffSimulationWorkflow.run, tariff_simulation_id(ref))


async def simulation_status(temporal: Client, ref: str) -> tuple[SimulationStatus, TariffSimulationResult | None]:
    """Status and progress of a simulation, and its result once it is done; 404 if unknown."""
    handle = _handle(temporal, ref)
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise not_found() from None
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Service momentanément indisponible") from None
    state = STATUS_FR.get(desc.status, "echec") if desc.status else "echec"
    progress: SimulationProgress | None = None
    if state != "echec":
        try:
            progress = await bounded(handle.query(TariffSimulationWorkflow.progress, rpc_timeout=QUERY_TIMEOUT))
        except RPCError:
            progress = None  # no worker answering right now: the status alone
    result = await handle.result() if state == "terminee" else None
    return SimulationStatus(simulation_ref=ref, status=state, progress=progress), result


def presign(s3: Any, bucket: str, key: str) -> str:
    """A temporary GET link to a report file."""
    url: str = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=LINK_SECONDS)
    return url


async def outcome(s3: Any, settings: Settings, result: TariffSimulationResult) -> SimulationOutcome:
    """The result with presigned links to its files."""
    urls = await asyncio.gather(
        *(
            asyncio.to_thread(presign, s3, settings.s3_bucket, k)
            for k in (result.csv_key, result.pdf_key, result.svg_key)
        )
    )
    return SimulationOutcome(
        simulation_ref=result.simulation_ref,
        period_keys=result.period_keys,
        grid_id=result.grid_id,
        totals=result.totals,
        medians=result.medians,
        files=SimulationFiles(csv_url=urls[0], pdf_url=urls[1], svg_url=urls[2]),
    )


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def create_simulation(
    body: SimulationIn, principal: BillingOperator, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> SimulationStarted:
    """Start a simulation; the same grid on the same periods answers the same simulation."""
    ref = await start_simulation(session, temporal, settings, principal, body)
    base = f"{router.prefix}/{ref}"
    return SimulationStarted(
        simulation_ref=ref, workflow_id=tariff_simulation_id(ref), status_url=base, result_url=f"{base}/result"
    )


@router.get("/{ref}")
async def get_simulation(ref: str, principal: BillingOperator, temporal: TemporalDep) -> SimulationStatus:
    """Status and progress (batches, families, aggregates so far)."""
    answer, _ = await simulation_status(temporal, ref)
    return answer


@router.get("/{ref}/result")
async def get_simulation_result(
    ref: str, principal: BillingOperator, temporal: TemporalDep, s3: S3Dep, settings: SettingsDep
) -> SimulationOutcome:
    """The figures and links to the CSV, the PDF chart and the SVG chart; 409 while it runs."""
    answer, result = await simulation_status(temporal, ref)
    if result is None:
        message = "Simulation en cours." if answer.status == "en_cours" else "La simulation a échoué."
        raise HTTPException(status.HTTP_409_CONFLICT, message)
    return await outcome(s3, settings, result)
