"""What the console's home page shows: the billing cycle, running campaigns, referrals, workflow counts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog
from sqlalchemy import case
from sqlmodel import Session, col, func, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError

from api.pages.console import period_label, status_name, ui_url
from api.temporal_query import QUERY_TIMEOUT, bounded
from contracts.billing import CycleProgress
from domain import labels
from domain.audit.scoring import LabelDecision
from domain.dunning import InvoiceStatus
from domain.referrals import ReferralState
from ville.models.audit import AuditCampaign, AuditSiteResult, AuditTask, CampaignStatus
from ville.models.billing import Invoice
from ville.models.referrals import Referral, ReferralCase, RifRelay
from ville.settings import Settings
from ville.temporal import SA_BILLING_PERIOD, SA_BUSINESS_STATUS
from workflows.billing import BillingCycleWorkflow
from workflows.registry import WORKFLOWS

log = structlog.get_logger(__name__)
WORKFLOW_TYPES = {w.__name__: w.__name__ for w in WORKFLOWS}


# The console must answer even when no worker polls: a query waits at most this long.
ACTIVE_CAMPAIGNS = [CampaignStatus.running.value, CampaignStatus.scheduled.value, CampaignStatus.closing.value]


LABELLED = [LabelDecision.GRANTED.value, LabelDecision.GRANTED_WITH_RESERVATIONS.value]


@dataclass
class InvoiceTotals:
    """Amounts of a period's invoices, from the database."""

    invoices: int = 0
    billed_cents: int = 0
    paid_cents: int = 0
    overdue_cents: int = 0
    overdue: int = 0
    transferred_cents: int = 0
    transferred: int = 0


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


def invoice_totals(session: Session, period_key: str) -> InvoiceTotals:
    """One SQL aggregation over the period's invoices."""
    own_due = col(Invoice.amount_due_cents) - col(Invoice.previous_unpaid_cents)
    remaining = own_due - col(Invoice.paid_cents)
    overdue = col(Invoice.status) == InvoiceStatus.OVERDUE
    transferred = col(Invoice.status) == InvoiceStatus.TRANSFERRED
    row = session.exec(
        select(
            func.count(),
            func.coalesce(func.sum(own_due), 0),
            func.coalesce(func.sum(Invoice.paid_cents), 0),
            func.coalesce(func.sum(case((overdue, remaining), else_=0)), 0),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
            func.coalesce(func.sum(case((transferred, remaining), else_=0)), 0),
            func.coalesce(func.sum(case((transferred, 1), else_=0)), 0),
        ).where(Invoice.period_key == period_key, Invoice.status != InvoiceStatus.CANCELLED)
    ).one()
    return InvoiceTotals(*(int(v) for v in row))


async def _count(temporal: Client, query: str) -> int:
    return (await temporal.count_workflows(query)).count


async def current_cycle(temporal: Client, session: Session, settings: Settings) -> CycleView | None:
    """The running cycle (else the latest one), found by visibility, with its progress query and DB totals."""
    chosen = None
    for query in (
        "WorkflowType = 'BillingCycleWorkflow' AND ExecutionStatus = 'Running'",
        "WorkflowType = 'BillingCycleWorkflow'",
    ):
        runs = [e async for e in temporal.list_workflows(query, limit=20) if not e.id.endswith("-apercu")]
        if runs:
            chosen = max(runs, key=lambda e: e.start_time)
            break
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
        totals=invoice_totals(session, period_key),
    )
    if progress and progress.batches_total:
        view.percent = progress.batches_done * 100 // progress.batches_total
    return view


def campaigns(session: Session, settings: Settings) -> list[CampaignView]:
    """Running campaigns, with task counts (one grouped query) and results so far."""
    rows = session.exec(
        select(AuditCampaign)
        .where(col(AuditCampaign.status).in_(ACTIVE_CAMPAIGNS))
        .order_by(col(AuditCampaign.id).desc())
        .limit(20)
    ).all()
    ids = [c.id for c in rows if c.id is not None]
    counts: dict[int, list[tuple[str, int]]] = {i: [] for i in ids}
    late: dict[int, int] = dict.fromkeys(ids, 0)
    for cid, state, is_late, n in session.exec(
        select(AuditTask.campaign_id, AuditTask.state, AuditTask.late, func.count())
        .where(col(AuditTask.campaign_id).in_(ids))
        .group_by(col(AuditTask.campaign_id), col(AuditTask.state), col(AuditTask.late))
    ).all():
        counts[cid].append((state or "unassigned", int(n)))
        if is_late:
            late[cid] += int(n)
    results: dict[int, tuple[int, int]] = {}
    for cid, n, labelled in session.exec(
        select(
            AuditSiteResult.campaign_id,
            func.count(),
            func.coalesce(func.sum(case((col(AuditSiteResult.decision).in_(LABELLED), 1), else_=0)), 0),
        )
        .where(col(AuditSiteResult.campaign_id).in_(ids))
        .group_by(col(AuditSiteResult.campaign_id))
    ).all():
        results[cid] = (int(n), int(labelled))
    out = []
    for c in rows:
        assert c.id is not None
        merged: dict[str, int] = {}
        for state, n in counts[c.id]:
            merged[state] = merged.get(state, 0) + n
        out.append(
            CampaignView(
                id=c.id,
                name=c.name,
                ui_url=ui_url(settings, f"audit-campaign-{c.id}"),
                tasks_by_state=sorted(merged.items()),
                late=late[c.id],
                unassigned=merged.get("unassigned", 0),
                results=results.get(c.id, (0, 0))[0],
                labelled=results.get(c.id, (0, 0))[1],
            )
        )
    return out


async def referral_view(session: Session, temporal: Client) -> ReferralView:
    """Open and breaching referrals per relay (database), case workflows per business status (visibility)."""
    view = ReferralView()
    breach = col(Referral.escalated_at).is_not(None)
    for relay_id, code, n_open, n_breach in session.exec(
        select(RifRelay.id, RifRelay.code, func.count(), func.coalesce(func.sum(case((breach, 1), else_=0)), 0))
        .select_from(Referral)
        .join(ReferralCase, col(ReferralCase.id) == col(Referral.case_id))
        .join(RifRelay, col(RifRelay.id) == col(ReferralCase.relay_id))
        .where(Referral.status == ReferralState.OPEN.value)
        .group_by(col(RifRelay.id), col(RifRelay.code))
        .order_by(col(RifRelay.code))
    ).all():
        view.by_relay.append((int(relay_id), code, int(n_open), int(n_breach)))
        view.open += int(n_open)
        view.breaching += int(n_breach)
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
