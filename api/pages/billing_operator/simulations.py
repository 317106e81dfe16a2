"""Operator console page of the tariff impact simulation: propose a grid, pick periods, read the chart and tables."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import S3Dep, SessionDep, SettingsDep, TemporalDep
from api.pages.common import check_csrf, page_router, signed_in
from api.rendering import render
from api.routes.billing_operator.simulations import billed_periods, outcome, simulation_status, start_simulation
from api.schemas.simulation import SimulationIn
from domain.periods import period_from_key
from domain.simulation import THRESHOLDS_PCT, format_bp_fr, percent_change_bp
from services.tariff_grids import latest_grid_data
from ville.models.people import Role
from ville.settings import Settings

router = page_router("/operateur/simulations")


ROLES = (Role.billing_operator, Role.operator)


def _current_grid_json(session: SessionDep) -> str:
    """The latest voted grid, as the starting point of a proposal."""
    return json.dumps(latest_grid_data(session) or {}, ensure_ascii=False, indent=2)


def _period_choices(session: SessionDep, settings: Settings) -> list[tuple[str, str]]:
    out = []
    for key in billed_periods(session):
        try:
            out.append((key, period_from_key(key, settings.billing_period_months).label_fr))
        except ValueError:
            continue
    return out


def _form(
    request: Request,
    session: SessionDep,
    settings: Settings,
    status_code: int = 200,
    grid_json: str | None = None,
    chosen: list[str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "operateur_simulation.html",
        status_code,
        title="Simulation tarifaire",
        mode="form",
        grid_json=grid_json if grid_json is not None else _current_grid_json(session),
        periods=_period_choices(session, settings),
        chosen=chosen or [],
        errors=errors or {},
    )


@router.get("", response_class=HTMLResponse)
async def simulation_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The form: the grid in force as a starting point, and the billed periods."""
    signed_in(request, *ROLES)
    return _form(request, session, settings)


@router.post("", response_class=HTMLResponse)
async def simulation_submit(
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    csrf: str = Form(""),
    grid_json: str = Form(""),
    periods: list[str] = Form(default_factory=list),
) -> Response:
    """Start the simulation, or show the form again with the faulty field."""
    principal = signed_in(request, *ROLES)
    check_csrf(request, csrf)
    try:
        grid = json.loads(grid_json)
    except json.JSONDecodeError as err:
        message = f"JSON invalide (ligne {err.lineno}, colonne {err.colno}) : {err.msg}."
        return _form(request, session, settings, 422, grid_json, periods, {"grid": message})
    if not isinstance(grid, dict):
        errors = {"grid": "La grille doit être un objet JSON ({ ... })."}
        return _form(request, session, settings, 422, grid_json, periods, errors)
    if not periods:
        return _form(request, session, settings, 422, grid_json, periods, {"periods": "Choisissez une période."})
    body = SimulationIn(grid=grid, periods=periods[:12])
    try:
        ref = await start_simulation(session, temporal, settings, principal, body)
    except HTTPException as exc:
        if exc.status_code != 422 or not isinstance(exc.detail, dict):
            raise
        field = str(exc.detail["fields"][0]["field"]).removeprefix("body.")
        where = "periods" if field == "periods" else "grid"
        message = str(exc.detail["message"])
        if where == "grid" and field not in ("grid", "grid_id"):
            message = f"{field.removeprefix('grid.')} : {message}"
        return _form(request, session, settings, 422, grid_json, periods, {where: message})
    return RedirectResponse(f"{router.prefix}/{ref}", status.HTTP_303_SEE_OTHER)


def _rows(totals: Any) -> dict[str, list[dict[str, Any]]]:
    tranches = [
        {
            "label": f"T{i + 1}",
            "families": totals.families_by_tranche[i],
            "old": totals.old_by_tranche[i],
            "new": totals.new_by_tranche[i],
            "pct": format_bp_fr(percent_change_bp(totals.old_by_tranche[i], totals.new_by_tranche[i])),
        }
        for i in range(len(totals.old_by_tranche))
    ]
    activities = [
        {
            "label": code,
            "old": totals.old_by_activity.get(code, 0),
            "new": totals.new_by_activity.get(code, 0),
            "pct": format_bp_fr(
                percent_change_bp(totals.old_by_activity.get(code, 0), totals.new_by_activity.get(code, 0))
            ),
        }
        for code in sorted(set(totals.old_by_activity) | set(totals.new_by_activity))
    ]
    thresholds = [
        {"pct": p, "rises": totals.rises_over[i], "falls": totals.falls_over[i]} for i, p in enumerate(THRESHOLDS_PCT)
    ]
    return {"tranches": tranches, "activities": activities, "thresholds": thresholds}


@router.get("/{ref}", response_class=HTMLResponse)
async def simulation_page(
    ref: str, request: Request, temporal: TemporalDep, s3: S3Dep, settings: SettingsDep
) -> Response:
    """Progress while it runs; then the chart, the tables and the report's links."""
    signed_in(request, *ROLES)
    answer, result = await simulation_status(temporal, ref)
    context: dict[str, Any] = {"mode": "result", "ref": ref, "answer": answer, "bp": format_bp_fr}
    if result is not None:
        context["outcome"] = await outcome(s3, settings, result)
        context.update(_rows(result.totals))
        context["total_pct"] = format_bp_fr(
            percent_change_bp(result.totals.old_total_cents, result.totals.new_total_cents)
        )
    return render(request, "operateur_simulation.html", title="Simulation tarifaire", **context)


@router.get("/{ref}/graphique.svg")
async def simulation_chart(
    ref: str, request: Request, temporal: TemporalDep, s3: S3Dep, settings: SettingsDep
) -> Response:
    """The chart, served from the console's own origin (the page embeds it as an image)."""
    signed_in(request, *ROLES)
    _, result = await simulation_status(temporal, ref)
    if result is None:
        return Response(status_code=status.HTTP_404_NOT_FOUND)
    obj = await asyncio.to_thread(s3.get_object, Bucket=settings.s3_bucket, Key=result.svg_key)
    body = await asyncio.to_thread(obj["Body"].read)
    return Response(body, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=300"})
