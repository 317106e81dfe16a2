"""What the console's home page shows: the billing cycle, running campaigns, referrals, workflow counts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog
from sqlmodel import Session
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.pages.console import period_label, status_name, ui_url
from api.temporal_query import QUERY_TIMEOUT, bounded
from contracts.billing import CycleProgress
from domain import labels
from services import invoices
from services.audit_campaigns import AuditCampaigns
from services.invoices import InvoiceTotals
from services.referral_reports import ReferralReports
from ville.ids import billing_cycle_id
from ville.settings import Settings
from ville.temporal import SA_BILLING_PERIOD, SA_BUSINESS_STATUS
from workflows.billing import BillingCycleWorkflow
from workflows.registry import WORKFLOWS

log = structlog.get_logger(__name__)
WORKFLOW_TYPES = {w.__name__: w.__name__ for w in WORKFLOWS}


@dataclass
class CycleView:
    """The billing cycle shown on the home page."""

    workflow_id: str
    period_key: str
    period_label: str
    running: bool
    status_fr: str
    ui_url: str
    progress: CycleProgress | None
    totals: InvoiceTotals
    percent: int = 0


@dataclass
class CampaignView:
    """One running campaign: tasks by state, late tasks, results so far."""

    id: int
    name: str
    ui_url: str
    tasks_by_state: list[tuple[str, int]]
    late: int
    unassigned: int
    results: int
    labelled: int


@dataclass
class ReferralView:
    """Referrals: open, breaching the SLA, per relay; case workflows by business status."""

    open: int = 0
    breaching: int = 0
    by_relay: list[tuple[int, str, int, int]] = field(default_factory=list)
    cases_by_status: dict[str, int] = field(default_factory=dict)


async def _count(temporal: Client, query: str) -> int:
    return (await temporal.count_workflows(query)).count


async def _chosen_cycle(temporal: Client, period_key: str | None) -> WorkflowExecution | None:
    """The cycle of `period_key` if it exists, else the running cycle started last (else the latest one).

    A cycle runs for months (its dunning steps), so several run at once; and visibility lags behind a start, so
    the cycle an operator has just launched is read by its id, which is consistent at once.
    """
    if period_key is not None:
        try:
            return await temporal.get_workflow_handle(billing_cycle_id(period_key)).describe()
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
    for query in (
        "WorkflowType = 'BillingCycleWorkflow' AND ExecutionStatus = 'Running'",
        "WorkflowType = 'BillingCycleWorkflow'",
    ):
        runs = [e async for e in temporal.list_workflows(query, limit=20) if not e.id.endswith("-apercu")]
        if runs:
            return max(runs, key=lambda e: e.start_time)
    return None


async def current_cycle(
    temporal: Client, session: Session, settings: Settings, period_key: str | None = None
) -> CycleView | None:
    """`period_key`'s cycle, else the running one (else the latest), with its progress query and DB totals."""
    chosen = await _chosen_cycle(temporal, period_key)
    if chosen is None:
        return None
    period_key = chosen.typed_search_attributes.get(SA_BILLING_PERIOD) or chosen.id.removeprefix("billing-cycle-")
    running = chosen.status is WorkflowExecutionStatus.RUNNING
    progress = None
    if running:
        try:
            progress = await bounded(
                temporal.get_workflow_handle_for(BillingCycleWorkflow.run, chosen.id).query(
                    BillingCycleWorkflow.progress, rpc_timeout=QUERY_TIMEOUT
                )
            )
        except (RPCError, WorkflowQueryFailedError) as err:  # no worker answering: the DB totals still show
            log.warning("operator.cycle_query_failed", error=type(err).__name__)
    view = CycleView(
        workflow_id=chosen.id,
        period_key=period_key,
        period_label=period_label(period_key),
        running=running,
        status_fr=labels.execution_status(status_name(chosen.status)),
        ui_url=ui_url(settings, chosen.id),
        progress=progress,
        totals=invoices.period_totals(session, period_key),
    )
    if progress and progress.batches_total:
        view.percent = progress.batches_done * 100 // progress.batches_total
    return view


def campaigns(session: Session, settings: Settings) -> list[CampaignView]:
    """Running campaigns, with task counts and results so far."""
    return [
        CampaignView(
            id=p.campaign.id,
            name=p.campaign.name,
            ui_url=ui_url(settings, f"audit-campaign-{p.campaign.id}"),
            tasks_by_state=p.tasks_by_state,
            late=p.late,
            unassigned=p.unassigned,
            results=p.results,
            labelled=p.labelled,
        )
        for p in AuditCampaigns(session).active_progress()
        if p.campaign.id is not None
    ]


async def referral_view(session: Session, temporal: Client) -> ReferralView:
    """Open and breaching referrals per relay (database), case workflows per business status (visibility)."""
    view = ReferralView()
    for relay in ReferralReports(session).open_by_relay():
        view.by_relay.append((relay.relay_id, relay.code, relay.open, relay.breaching))
        view.open += relay.open
        view.breaching += relay.breaching
    labels = {"open": "Ouverts", "awaiting_partner": "En attente du partenaire", "sla_breached": "Délai dépassé"}
    counts = await asyncio.gather(
        *(
            _count(temporal, f"WorkflowType = 'ReferralCaseWorkflow' AND ExecutionStatus = 'Running' AND "
                   f"{SA_BUSINESS_STATUS.name} = '{key}'")
            for key in labels
        )
    )  # fmt: skip
    view.cases_by_status = {labels[k]: n for k, n in zip(labels, counts, strict=True)}
    return view


async def workflow_counts(temporal: Client) -> list[tuple[str, str, int, int]]:
    """(type, French label, running, failed) per workflow type, from visibility counts."""
    names = list(WORKFLOW_TYPES)
    queries = [f"WorkflowType = '{n}' AND ExecutionStatus = '{s}'" for n in names for s in ("Running", "Failed")]
    counts = await asyncio.gather(*(_count(temporal, q) for q in queries))
    return [(n, labels.workflow_type(n), counts[2 * i], counts[2 * i + 1]) for i, n in enumerate(names)]
