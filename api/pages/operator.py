"""Operator console (French pages): state of the three processes, drill-down lists, actions, audit log.

Counts and lists come from Temporal visibility (search attributes) and from the database, never from
workflow histories; every action goes through the JSON API's own service function and is journalled.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import case
from sqlmodel import Session, col, func, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.audit_log import OperatorReason, audit
from api.deps import DbId, SessionDep, SettingsDep, TemporalDep
from api.form_dates import FormDateError, parse_form_date
from api.pages.common import check_csrf, guarded, render, signed_in
from api.routes.audit import AssignIn, DeadlineIn, assign_task, extend_task_deadline
from api.routes.billing_operator.cycles import cancel_cycle, pause_cycle, resume_cycle, retry_batches
from api.routes.billing_operator.invoices import search_invoices
from api.routes.billing_operator.journal import audit_log
from api.routes.operator.notifications import resend
from api.routes.referrals import CloseIn, close_case, escalate_referral, sla_breaches
from api.schemas.billing import ActionReason
from api.security import Principal, current_principal
from api.temporal_query import QUERY_TIMEOUT, bounded
from contracts.billing import CycleProgress
from domain import labels
from domain.audit.scoring import LabelDecision
from domain.dunning import InvoiceStatus
from domain.periods import period_from_key
from domain.referrals import CaseOutcome, ReferralState
from services.delivery import failed_notifications
from ville.ids import billing_cycle_id, inspection_id, invoice_payment_id, referral_case_id
from ville.models.audit import AuditCampaign, AuditInspector, AuditSite, AuditSiteResult, AuditTask, CampaignStatus
from ville.models.billing import Invoice
from ville.models.people import Role, UserAccount
from ville.models.referrals import Referral, ReferralCase, RifRelay
from ville.settings import Settings
from ville.temporal import SA_BILLING_PERIOD, SA_BUSINESS_STATUS, SA_CAMPAIGN, SA_RELAY
from workflows.billing import BillingCycleWorkflow
from workflows.registry import WORKFLOWS

log = structlog.get_logger(__name__)
router = APIRouter(tags=["pages"], include_in_schema=False)

# Who sees which part of the console (admin sees everything, see `signed_in`).
BILLING_ROLES = (Role.operator, Role.billing_operator)
AUDIT_ROLES = (Role.operator, Role.quality_team)
REFERRAL_ROLES = (Role.operator,)
CONSOLE_ROLES = (Role.operator, Role.billing_operator, Role.quality_team)

JOURNAL_ROLES = (Role.operator, Role.billing_operator)  # like the JSON API's journal
NOTIFICATION_ROLES = (Role.operator, Role.billing_operator)  # like the JSON API's resend
NAV: list[tuple[str, str, tuple[Role, ...]]] = [
    # not "/operateur": the menu marks the entry whose href prefixes the path, and every console path has that one
    ("/operateur/accueil", "Tableau de bord", CONSOLE_ROLES),
    ("/operateur/workflows", "Workflows", CONSOLE_ROLES),
    ("/operateur/factures", "Factures", BILLING_ROLES),
    ("/operateur/taches", "Tâches d'audit", AUDIT_ROLES),
    ("/operateur/orientations", "Orientations", REFERRAL_ROLES),
    ("/operateur/notifications", "Messages en échec", NOTIFICATION_ROLES),
    ("/operateur/paiements", "Paiements en difficulté", BILLING_ROLES),
    ("/operateur/journal", "Journal", JOURNAL_ROLES),
]
WORKFLOW_TYPES = {w.__name__: w.__name__ for w in WORKFLOWS}
_KEYWORD = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_PERIOD = re.compile(r"^\d{4}-\d{2}$")
MOTIF_MIN = 3
# The console must answer even when no worker polls: a query waits at most this long.
ACTIVE_CAMPAIGNS = [CampaignStatus.running.value, CampaignStatus.scheduled.value, CampaignStatus.closing.value]
LABELLED = [LabelDecision.GRANTED.value, LabelDecision.GRANTED_WITH_RESERVATIONS.value]


def _ui_url(settings: Settings, workflow_id: str) -> str:
    """The workflow's page in the Temporal Web UI."""
    base = settings.temporal_ui_url.rstrip("/")
    return f"{base}/namespaces/{quote(settings.temporal_namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a console page with the console's navigation (the entries the caller may open)."""
    principal = current_principal(request)
    nav = [(href, label) for href, label, roles in NAV if principal is not None and _can(principal, roles)]
    return render(request, template, status_code, nav=nav, **context)


def _can(principal: Principal, roles: tuple[Role, ...]) -> bool:
    return principal.role is Role.admin or principal.role in roles


def _motif(raw: str) -> str:
    """The operator's reason, required (it goes to the audit log); a 422 page otherwise."""
    motif = raw.strip()
    if len(motif) < MOTIF_MIN:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "Indiquez le motif de l'action (3 caractères au moins)."
        )
    return motif[:500]


def _temporal_failure(err: RPCError) -> HTTPException:
    if err.status is RPCStatusCode.NOT_FOUND:
        return HTTPException(status.HTTP_409_CONFLICT, "Ce workflow n'est pas en cours : action impossible.")
    log.warning("operator.temporal_error", status=err.status.name)
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal est momentanément indisponible.")


def _done(location: str, message_key: str) -> RedirectResponse:
    sep = "&" if "?" in location else "?"
    return RedirectResponse(f"{location}{sep}fait={message_key}", status.HTTP_303_SEE_OTHER)


NOTICES = {
    "lancement": "Cycle de facturation lancé : l'émission des factures commence.",
    "pause": "Cycle mis en pause : les lots en cours se terminent, aucun nouveau lot ne démarre.",
    "reprise": "Cycle repris.",
    "relance": "Lots en échec relancés.",
    "attribution": "Tâche attribuée.",
    "cloture": "Dossier clos.",
    "annulation": "Annulation demandée : les lots en cours se terminent, aucun autre ne démarre.",
    "echeance": "Échéance reportée : rappels et détection du retard suivent la nouvelle date.",
    "escalade": "Orientation escaladée : la coordination du relais est alertée.",
    "renvoi": "Message remis en envoi.",
}


# --- data ------------------------------------------------------------------------------------------------


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


def _period_label(period_key: str) -> str:
    try:
        return period_from_key(period_key).label_fr
    except ValueError:
        return period_key


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
        period_label=_period_label(period_key),
        running=running,
        status_fr=labels.execution_status(_status_name(chosen.status)),
        ui_url=_ui_url(settings, chosen.id),
        progress=progress,
        totals=invoice_totals(session, period_key),
    )
    if progress and progress.batches_total:
        view.percent = progress.batches_done * 100 // progress.batches_total
    return view


def _status_name(s: WorkflowExecutionStatus | None) -> str:
    if s is None:
        return ""
    return "".join(p.capitalize() for p in s.name.split("_"))


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
                ui_url=_ui_url(settings, f"audit-campaign-{c.id}"),
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


# --- pages -----------------------------------------------------------------------------------------------


@router.get("/exploitation")
def legacy_home() -> Response:
    """Where sign-in sends staff: the operator console."""
    return RedirectResponse("/operateur", status.HTTP_303_SEE_OTHER)


async def _home(
    request: Request, session: Session, temporal: Client, settings: Settings, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    principal = signed_in(request, *CONSOLE_ROLES)
    try:
        cycle = await current_cycle(temporal, session, settings) if _can(principal, BILLING_ROLES) else None
        counts = await workflow_counts(temporal)
        referrals = await referral_view(session, temporal) if _can(principal, REFERRAL_ROLES) else None
    except RPCError as err:
        raise _temporal_failure(err) from None
    return _page(
        request,
        "operateur_accueil.html",
        status_code,
        title="Console d'exploitation",
        show_billing=_can(principal, BILLING_ROLES),
        show_audit=_can(principal, AUDIT_ROLES),
        show_referrals=_can(principal, REFERRAL_ROLES),
        cycle=cycle,
        counts=counts,
        campaigns=campaigns(session, settings) if _can(principal, AUDIT_ROLES) else [],
        referrals=referrals,
        state_fr=labels.task_state,
        notice=NOTICES.get(request.query_params.get("fait", "")),
        **extra,
    )


@router.get("/operateur", response_class=HTMLResponse)
@router.get("/operateur/accueil", response_class=HTMLResponse)
async def home(request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep) -> Response:
    """State of each process: billing cycle, audit campaigns, referrals."""
    try:
        return await _home(request, session, temporal, settings)
    except Exception as exc:
        return guarded(request, exc)


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
    try:
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
            (statut, SA_BUSINESS_STATUS.name, _KEYWORD, "Statut métier invalide."),
            (periode, SA_BILLING_PERIOD.name, _PERIOD, "Période attendue au format AAAA-MM."),
            (campagne, SA_CAMPAIGN.name, re.compile(r"^\d{1,9}$"), "Numéro de campagne invalide."),
            (relais, SA_RELAY.name, _KEYWORD, "Relais invalide."),
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
                            "status": labels.execution_status(_status_name(e.status)),
                            "business": labels.business_status(sa.get(SA_BUSINESS_STATUS)),
                            "started": e.start_time,
                            "url": _ui_url(settings, e.id),
                        }
                    )
            except RPCError as err:
                raise _temporal_failure(err) from None
        return _page(
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
    except Exception as exc:
        return guarded(request, exc)


@router.get("/operateur/factures", response_class=HTMLResponse)
def invoices_page(
    request: Request, session: SessionDep, settings: SettingsDep, periode: str = "", statut: str = ""
) -> Response:
    """Invoices by period and status (the operators' invoice search), each linked to its payment workflow."""
    try:
        principal = signed_in(request, *BILLING_ROLES)
        errors = []
        status_filter = None
        if statut:
            try:
                status_filter = InvoiceStatus(statut)
            except ValueError:
                errors.append("Statut de facture inconnu.")
        if periode and not _PERIOD.match(periode):
            errors.append("Période attendue au format AAAA-MM.")
        rows = [] if errors else search_invoices(principal, session, periode or None, status_filter, None, 200, 0)
        return _page(
            request,
            "operateur_factures.html",
            422 if errors else 200,
            title="Factures",
            rows=[(i, _ui_url(settings, invoice_payment_id(i.number))) for i in rows],
            errors=errors,
            status_fr=labels.INVOICE_STATUS,
            filters={"periode": periode, "statut": statut},
        )
    except Exception as exc:
        return guarded(request, exc)


def _tasks(session: Session, campaign_id: int | None, only: str) -> list[dict[str, Any]]:
    query = select(AuditTask, AuditSite).join(AuditSite, col(AuditSite.id) == AuditTask.site_id)
    if campaign_id is not None:
        query = query.where(AuditTask.campaign_id == campaign_id)
    if only == "retard":
        query = query.where(col(AuditTask.late).is_(True))
    elif only == "sans-inspecteur":
        query = query.where(col(AuditTask.state).is_(None), col(AuditTask.opened_at).is_not(None))
    rows = session.exec(query.order_by(col(AuditTask.due_on), col(AuditTask.id)).limit(300)).all()
    return [{"task": t, "site": s} for t, s in rows]


@router.get("/operateur/taches", response_class=HTMLResponse)
def tasks_page(
    request: Request, session: SessionDep, settings: SettingsDep, campagne: str = "", filtre: str = "retard"
) -> Response:
    """Late tasks, or tasks left without inspector (with the assignment form)."""
    try:
        signed_in(request, *AUDIT_ROLES)
        return _tasks_page(request, session, settings, campagne, filtre)
    except Exception as exc:
        return guarded(request, exc)


def _tasks_page(
    request: Request, session: Session, settings: Settings, campagne: str, filtre: str, status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:  # fmt: skip
    campaign_id = int(campagne) if campagne.isdigit() else None
    only = filtre if filtre in ("retard", "sans-inspecteur", "toutes") else "retard"
    inspectors = session.exec(
        select(AuditInspector).where(col(AuditInspector.active).is_(True)).order_by(col(AuditInspector.ref))
    ).all()
    return _page(
        request,
        "operateur_taches.html",
        status_code,
        title="Tâches d'audit",
        rows=[{**r, "url": _ui_url(settings, inspection_id(r["task"].id))} for r in _tasks(session, campaign_id, only)],
        inspectors=inspectors,
        state_fr=labels.task_state,
        filters={"campagne": campagne, "filtre": only},
        notice=NOTICES.get(request.query_params.get("fait", "")),
        **extra,
    )


@router.get("/operateur/orientations", response_class=HTMLResponse)
def referrals_page(request: Request, session: SessionDep, settings: SettingsDep, ouvertes: str = "1") -> Response:
    """Referrals that breached their acknowledgement SLA, each linked to its case workflow."""
    try:
        principal = signed_in(request, *REFERRAL_ROLES)
        return _referrals_page(request, session, settings, principal, ouvertes != "0")
    except Exception as exc:
        return guarded(request, exc)


def _referrals_page(
    request: Request, session: Session, settings: Settings, principal: Principal, open_only: bool,
    status_code: int = 200, **extra: Any,
) -> HTMLResponse:  # fmt: skip
    rows = sla_breaches(principal, session, open_only)
    waiting = session.exec(
        select(Referral.ref, ReferralCase.ref, Referral.sent_at, Referral.sla_deadline)
        .join(ReferralCase, col(ReferralCase.id) == col(Referral.case_id))
        .where(Referral.status == ReferralState.OPEN.value, col(Referral.escalated_at).is_(None))
        .order_by(col(Referral.sla_deadline))
        .limit(100)
    ).all()
    return _page(
        request,
        "operateur_orientations.html",
        status_code,
        title="Orientations hors délai",
        rows=[(b, _ui_url(settings, referral_case_id(b.case_ref))) for b in rows],
        outcomes=[(o.value, o.label) for o in CaseOutcome],
        waiting=[{"referral_ref": r, "case_ref": c, "sent_at": at, "sla_deadline": d} for r, c, at, d in waiting],
        open_only=open_only,
        notice=NOTICES.get(request.query_params.get("fait", "")),
        **extra,
    )


@router.get("/operateur/journal", response_class=HTMLResponse)
def journal_page(request: Request, session: SessionDep) -> Response:
    """The audit log of operator actions: who, what, when, why."""
    try:
        principal = signed_in(request, *JOURNAL_ROLES)
        entries = audit_log(principal, session, 200)
        ids = {int(e["actor"]) for e in entries}
        names = {
            u.id: u.display_name for u in session.exec(select(UserAccount).where(col(UserAccount.id).in_(ids))).all()
        }
        rows = [
            {
                **e,
                "at": datetime.fromisoformat(e["at"]),
                "actor_name": names.get(int(e["actor"]), f"Utilisateur {e['actor']}"),
                "action_fr": labels.journal_action(e["action"]),
            }
            for e in entries
        ]
        return _page(request, "operateur_journal.html", title="Journal des actions", rows=rows)
    except Exception as exc:
        return guarded(request, exc)


# --- actions ---------------------------------------------------------------------------------------------


async def _cycle_action(
    request: Request, period_key: str, csrf: str, motif: str, session: Session, temporal: Client, settings: Settings,
    action: str,
) -> Response:  # fmt: skip
    try:
        principal = signed_in(request, *BILLING_ROLES)
        check_csrf(request, csrf)
        if not _PERIOD.match(period_key):
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        try:
            reason = ActionReason(reason=_motif(motif))
        except HTTPException as exc:
            return await _home(request, session, temporal, settings, 422, error=str(exc.detail), motif_for=action)
        try:
            if action == "pause":
                await pause_cycle(period_key, reason, principal, session, temporal)
            elif action == "annulation":
                await cancel_cycle(period_key, OperatorReason(reason=reason.reason), principal, session, temporal)
            elif action == "reprise":
                await resume_cycle(period_key, reason, principal, session, temporal)
            else:
                await retry_batches(period_key, reason, principal, session, temporal)
        except RPCError as err:
            raise _temporal_failure(err) from None
        log.info("operator.cycle_action", action=action, workflow_id=billing_cycle_id(period_key))
    except Exception as exc:
        return guarded(request, exc)
    return _done("/operateur", action)


@router.post("/operateur/cycles/{period_key}/pause")
async def cycle_pause(
    request: Request, period_key: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Pause the cycle (no new batch starts)."""
    return await _cycle_action(request, period_key, csrf, motif, session, temporal, settings, "pause")


@router.post("/operateur/cycles/{period_key}/reprise")
async def cycle_resume(
    request: Request, period_key: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Resume the cycle."""
    return await _cycle_action(request, period_key, csrf, motif, session, temporal, settings, "reprise")


@router.post("/operateur/cycles/{period_key}/relance-lots")
async def cycle_retry(
    request: Request, period_key: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Run the cycle's failed batches again."""
    return await _cycle_action(request, period_key, csrf, motif, session, temporal, settings, "relance")


@router.post("/operateur/taches/{task_id}/attribuer")
async def task_assign(
    request: Request, task_id: DbId, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""), inspector_id: str = Form(""),
) -> Response:  # fmt: skip
    """Assign a task left without inspector (the inspection workflow checks area, conflicts, capacity)."""
    try:
        principal = signed_in(request, *AUDIT_ROLES)
        check_csrf(request, csrf)
        try:
            reason = _motif(motif)
            if not inspector_id.isdigit():
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Choisissez un inspecteur.")
            await assign_task(task_id, AssignIn(inspector_id=int(inspector_id)), principal, session, temporal)
        except HTTPException as exc:
            if exc.status_code != 422:
                raise
            message = exc.detail.get("message", "") if isinstance(exc.detail, dict) else str(exc.detail)
            return _tasks_page(
                request, session, settings, "", "sans-inspecteur", 422, error=message or "Attribution refusée."
            )
        audit(session, principal, "task.assign", inspection_id(task_id), f"{reason} (inspecteur {inspector_id})")
    except Exception as exc:
        return guarded(request, exc)
    return _done("/operateur/taches?filtre=sans-inspecteur", "attribution")


@router.post("/operateur/orientations/{case_ref}/clore")
async def case_close(
    request: Request, case_ref: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""), outcome: str = Form(""), force: str = Form(""),
) -> Response:  # fmt: skip
    """Close a case with an outcome (`force` withdraws the referrals still awaiting an answer)."""
    try:
        principal = signed_in(request, *REFERRAL_ROLES)
        check_csrf(request, csrf)
        try:
            reason = _motif(motif)
            try:
                body = CloseIn(outcome=CaseOutcome(outcome), comment=reason, force=force == "1")
            except ValueError:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Choisissez l'issue du dossier.") from None
            await close_case(case_ref, body, principal, session, temporal)
        except HTTPException as exc:
            if exc.status_code not in (409, 422):
                raise
            message = exc.detail.get("message", "") if isinstance(exc.detail, dict) else str(exc.detail)
            return _referrals_page(
                request, session, settings, principal, True, exc.status_code, error=message or "Clôture refusée."
            )
        audit(session, principal, "case.close", referral_case_id(case_ref), reason)
    except Exception as exc:
        return guarded(request, exc)
    return _done("/operateur/orientations", "cloture")


@router.post("/operateur/cycles/{period_key}/annulation")
async def cycle_cancel(
    request: Request, period_key: str, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""), confirmation: str = Form(""),
) -> Response:  # fmt: skip
    """Cancel the cycle (confirmed): batches in flight finish, issued invoices stay."""
    if confirmation != "1":
        try:
            signed_in(request, *BILLING_ROLES)
            check_csrf(request, csrf)
            return await _home(
                request, session, temporal, settings, 422,
                error="Cochez la case de confirmation pour annuler le cycle.", motif_for="annulation",
            )  # fmt: skip
        except Exception as exc:
            return guarded(request, exc)
    return await _cycle_action(request, period_key, csrf, motif, session, temporal, settings, "annulation")


def _http_message(exc: HTTPException, default: str) -> str:
    detail = exc.detail
    message = detail.get("message", "") if isinstance(detail, dict) else str(detail)
    return message or default


@router.post("/operateur/taches/{task_id}/echeance")
async def task_deadline(
    request: Request, task_id: DbId, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""), echeance: str = Form(""),
) -> Response:  # fmt: skip
    """Move a task's due date later (the inspection workflow moves its reminders and late detection)."""
    try:
        principal = signed_in(request, *AUDIT_ROLES)
        check_csrf(request, csrf)
        try:
            reason = _motif(motif)
            try:
                new_due = parse_form_date(echeance, "Indiquez la nouvelle échéance (jj/mm/aaaa).")
            except FormDateError as err:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from None
            await extend_task_deadline(task_id, DeadlineIn(new_due_on=new_due, reason=reason), principal, session,
                                       temporal)  # fmt: skip
        except HTTPException as exc:
            if exc.status_code not in (409, 422):
                raise
            return _tasks_page(
                request, session, settings, "", "toutes", exc.status_code,
                error=_http_message(exc, "Report refusé."),
            )  # fmt: skip
    except Exception as exc:
        return guarded(request, exc)
    return _done("/operateur/taches?filtre=toutes", "echeance")


@router.post("/operateur/orientations/{case_ref}/{referral_ref}/escalader")
async def referral_escalate(
    request: Request, case_ref: str, referral_ref: str, session: SessionDep, temporal: TemporalDep,
    settings: SettingsDep, csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Escalate a referral awaiting an answer by hand (coordination alerted, as at the SLA)."""
    try:
        principal = signed_in(request, *REFERRAL_ROLES)
        check_csrf(request, csrf)
        try:
            reason = _motif(motif)
            await escalate_referral(case_ref, referral_ref, OperatorReason(reason=reason), principal, session, temporal)
        except HTTPException as exc:
            if exc.status_code not in (409, 422):
                raise
            return _referrals_page(
                request, session, settings, principal, True, exc.status_code,
                error=_http_message(exc, "Escalade refusée."),
            )  # fmt: skip
    except Exception as exc:
        return guarded(request, exc)
    return _done("/operateur/orientations", "escalade")


def _notifications_page(request: Request, session: Session, status_code: int = 200, **extra: Any) -> HTMLResponse:
    return _page(
        request,
        "operateur_notifications.html",
        status_code,
        title="Messages en échec",
        rows=failed_notifications(session, 200),
        notice=NOTICES.get(request.query_params.get("fait", "")),
        **extra,
    )


@router.get("/operateur/notifications", response_class=HTMLResponse)
def notifications_page(request: Request, session: SessionDep) -> Response:
    """Messages whose delivery failed, with a resend button when their content was kept."""
    try:
        signed_in(request, *NOTIFICATION_ROLES)
        return _notifications_page(request, session)
    except Exception as exc:
        return guarded(request, exc)


@router.post("/operateur/notifications/{notification_id}/renvoyer")
async def notification_resend(
    request: Request, notification_id: DbId, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
    csrf: str = Form(""), motif: str = Form(""),
) -> Response:  # fmt: skip
    """Resend a failed message through the delivery workflow of this minute."""
    try:
        principal = signed_in(request, *NOTIFICATION_ROLES)
        check_csrf(request, csrf)
        try:
            reason = _motif(motif)
            await resend(notification_id, OperatorReason(reason=reason), principal, session, temporal, settings)
        except HTTPException as exc:
            if exc.status_code not in (409, 422):
                raise
            return _notifications_page(request, session, exc.status_code, error=_http_message(exc, "Renvoi refusé."))
    except Exception as exc:
        return guarded(request, exc)
    return _done("/operateur/notifications", "renvoi")
