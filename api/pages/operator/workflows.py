"""Operator console: workflows found by visibility, filtered by type, state and business attributes."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from temporalio.service import RPCError

from api.deps import SettingsDep, TemporalDep
from api.pages.common import page_router, signed_in
from api.pages.console import CONSOLE_ROLES, PERIOD_KEY, console_page, status_name, temporal_failure, ui_url
from api.pages.operator.dashboard import WORKFLOW_TYPES
from domain import labels
from ville.temporal import SA_BILLING_PERIOD, SA_BUSINESS_STATUS, SA_CAMPAIGN, SA_RELAY

router = page_router()


KEYWORD = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@router.get("/operateur/workflows", response_class=HTMLResponse)
async def workflows_page(
    request: Request,
    temporal: TemporalDep,
    settings: SettingsDep,
    wf_type: Annotated[str, Query(alias="type")] = "",
    etat: str = "",
    statut: str = "",
    periode: str = "",
    campagne: str = "",
    relais: str = "",
) -> Response:
    """Workflows found by visibility, filtered by type, execution state and business search attributes."""
    signed_in(request, *CONSOLE_ROLES)
    clauses, errors = [], []
    if wf_type:
        if wf_type in WORKFLOW_TYPES:
            clauses.append(f"WorkflowType = '{wf_type}'")
        else:
            errors.append("Type de workflow inconnu.")
    if etat:
        if etat in labels.EXECUTION_STATUS:
            clauses.append(f"ExecutionStatus = '{etat}'")
        else:
            errors.append("État d'exécution inconnu.")
    for value, key, pattern, message in (
        (statut, SA_BUSINESS_STATUS.name, KEYWORD, "Statut métier invalide."),
        (periode, SA_BILLING_PERIOD.name, PERIOD_KEY, "Période attendue au format AAAA-MM."),
        (campagne, SA_CAMPAIGN.name, re.compile(r"^\d{1,9}$"), "Numéro de campagne invalide."),
        (relais, SA_RELAY.name, KEYWORD, "Relais invalide."),
    ):
        if value:
            if pattern.match(value):
                clauses.append(f"{key} = '{value}'")
            else:
                errors.append(message)
    rows: list[dict[str, Any]] = []
    if not errors:
        query = " AND ".join(clauses) or None
        try:
            async for e in temporal.list_workflows(query, limit=200):
                sa = e.typed_search_attributes
                rows.append(
                    {
                        "id": e.id,
                        "type": labels.workflow_type(e.workflow_type),
                        "status": labels.execution_status(status_name(e.status)),
                        "business": labels.business_status(sa.get(SA_BUSINESS_STATUS)),
                        "started": e.start_time,
                        "url": ui_url(settings, e.id),
                    }
                )
        except RPCError as err:
            raise temporal_failure(err) from None
    return console_page(
        request,
        "operateur_workflows.html",
        422 if errors else 200,
        title="Workflows",
        rows=rows,
        errors=errors,
        types=labels.WORKFLOW_TYPE,
        business_statuses=labels.BUSINESS_STATUS,
        etats=labels.EXECUTION_STATUS,
        filters={"type": wf_type, "etat": etat, "statut": statut, "periode": periode, "campagne": campagne,
                 "relais": relais},
    )  # fmt: skip
