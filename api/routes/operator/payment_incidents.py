"""Payment workflows in trouble, for operators: failed, timed out, terminated, or stuck retrying a step.

A payment workflow that fails or retries forever holds nothing visible in the database: before this list, an
invoice blocked by one unknown PaymentIntent looked fine in the console. Each row comes with its action:
stop a stuck run (the family can then pay again), or file a closed failure once looked at. Both are journalled.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from fastapi import APIRouter, HTTPException, status
from sqlmodel import Session
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ActivityError, ChildWorkflowError
from temporalio.service import RPCError

from api.audit_log import audit
from api.deps import SessionDep, TemporalDep
from api.errors import error_responses, temporal_refusal
from api.schemas.payment_incidents import IncidentAction, PaymentIncident
from api.security import BillingOperator, Principal
from api.temporal_query import bounded
from domain import labels
from domain.numbering import parse_invoice_number
from services import operator_journal
from ville.ids import invoice_payment_id

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/operator/payments", tags=["operator"])

WORKFLOW_TYPE = "InvoicePaymentWorkflow"
STUCK_ATTEMPT = 5  # a step retried this often is shown (Stripe or the database refusing for minutes)
RECENT = timedelta(days=30)  # closed failures older than this are the Temporal UI's business
MAX_ROWS = 100  # per state: the console lists, it does not page through a disaster
CLOSED = (WorkflowExecutionStatus.FAILED, WorkflowExecutionStatus.TIMED_OUT, WorkflowExecutionStatus.TERMINATED)
STOP, FILE = "payment.stop", "payment.file"


def _camel(s: WorkflowExecutionStatus) -> str:
    """`TIMED_OUT` → `TimedOut`: how visibility queries and the vocabulary spell a status."""
    return s.name.title().replace("_", "")  # journal actions; their targets hide the row from the list


@dataclass(frozen=True, slots=True)
class _Run:
    number: str
    execution: WorkflowExecution


def _target(workflow_id: str, run_id: str) -> str:
    return f"{workflow_id}/{run_id}"


def _number(workflow_id: str) -> str:
    return workflow_id.removeprefix(invoice_payment_id(""))


async def _listed(temporal: Client, query: str) -> list[WorkflowExecution]:
    return [e async for e in temporal.list_workflows(query, limit=MAX_ROWS)]


async def _stuck(temporal: Client, e: WorkflowExecution, gate: asyncio.Semaphore) -> PaymentIncident | None:
    async with gate:
        desc = await bounded(temporal.get_workflow_handle(e.id, run_id=e.run_id).describe())
    worst = max(desc.raw_description.pending_activities, key=lambda a: a.attempt, default=None)
    if worst is None or worst.attempt < STUCK_ATTEMPT:
        return None
    failure = worst.last_failure.message if worst.HasField("last_failure") else ""
    detail = f"{worst.activity_type.name} : tentative {worst.attempt}" + (f" ({failure[:200]})" if failure else "")
    return PaymentIncident(
        invoice_number=_number(e.id),
        workflow_id=e.id,
        run_id=e.run_id,
        state="bloqué",
        since=e.start_time,
        detail=detail,
        action="arret",
    )


async def _failure(temporal: Client, e: WorkflowExecution) -> str:
    """The run's final error: the first one past the activity wrappers (ours carry a type and a French message)."""
    try:
        await bounded(temporal.get_workflow_handle(e.id, run_id=e.run_id).result(follow_runs=False))
    except WorkflowFailureError as err:
        cause: BaseException | None = err.cause
        while isinstance(cause, (ActivityError, ChildWorkflowError)) and cause.cause is not None:
            cause = cause.cause
        return str(getattr(cause, "message", "") or cause or "")[:300]
    except RPCError:
        return ""
    return ""


async def payment_incidents(temporal: Client, session: Session, now: datetime | None = None) -> list[PaymentIncident]:
    """Closed failures of the last RECENT days and running payments stuck on a step, minus those handled."""
    since = (now or datetime.now(UTC)) - RECENT
    kind = f"WorkflowType = '{WORKFLOW_TYPE}'"
    closed_queries = [
        f"{kind} AND ExecutionStatus = '{_camel(s)}' AND CloseTime > '{since:%Y-%m-%dT%H:%M:%SZ}'" for s in CLOSED
    ]
    *closed_lists, running = await asyncio.gather(
        *(_listed(temporal, q) for q in closed_queries), _listed(temporal, f"{kind} AND ExecutionStatus = 'Running'")
    )
    gate = asyncio.Semaphore(8)
    stuck = [i for i in await asyncio.gather(*(_stuck(temporal, e, gate) for e in running)) if i is not None]
    closed = [e for runs in closed_lists for e in runs]
    messages = await asyncio.gather(*(_failure(temporal, e) for e in closed))
    failed = [
        PaymentIncident(
            invoice_number=_number(e.id),
            workflow_id=e.id,
            run_id=e.run_id,
            state=labels.execution_status(_camel(e.status or WorkflowExecutionStatus.FAILED)),
            since=e.close_time,
            detail=message or "—",
            action="classement",
        )
        for e, message in zip(closed, messages, strict=True)
    ]
    rows = stuck + failed
    handled = operator_journal.handled(session, (STOP, FILE), [_target(r.workflow_id, r.run_id) for r in rows])
    session.rollback()  # the connection goes back to the pool
    return [r for r in rows if _target(r.workflow_id, r.run_id) not in handled]


def _workflow_id(number: str) -> str:
    try:
        parse_invoice_number(number)
    except ValueError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Facture inconnue") from None
    return invoice_payment_id(number)


async def stop_payment(
    number: str, body: IncidentAction, principal: Principal, session: Session, temporal: Client
) -> None:
    """Terminate one running payment run (its attempt in flight ends; the family can pay again)."""
    workflow_id = _workflow_id(number)
    handle = temporal.get_workflow_handle(workflow_id, run_id=body.run_id)
    try:
        desc = await bounded(handle.describe())
        if desc.status is not WorkflowExecutionStatus.RUNNING:
            raise HTTPException(status.HTTP_409_CONFLICT, "Ce suivi de paiement n'est plus en cours.")
        # the reason given to Temporal is fixed: the operator's motif may name people, the journal keeps it
        await handle.terminate(reason="arrêt par l'exploitation (voir le journal des actions)")
    except RPCError as err:
        raise temporal_refusal(err, "Ce suivi de paiement n'est plus en cours.") from None
    audit(session, principal, STOP, _target(workflow_id, body.run_id), body.reason)
    log.info("operator.payment_stopped", workflow_id=workflow_id)


async def file_payment(
    number: str, body: IncidentAction, principal: Principal, session: Session, temporal: Client
) -> None:
    """File a closed failure once looked at (it leaves the list; the journal keeps who, when and why)."""
    workflow_id = _workflow_id(number)
    try:
        desc = await bounded(temporal.get_workflow_handle(workflow_id, run_id=body.run_id).describe())
    except RPCError as err:
        raise temporal_refusal(err, "Suivi de paiement introuvable.") from None
    if desc.status not in CLOSED:
        raise HTTPException(status.HTTP_409_CONFLICT, "Seul un suivi en échec, expiré ou arrêté se classe.")
    audit(session, principal, FILE, _target(workflow_id, body.run_id), body.reason)
    log.info("operator.payment_filed", workflow_id=workflow_id)


@router.get("/incidents", responses=error_responses(401, 403, 503))
async def list_incidents(
    principal: BillingOperator, session: SessionDep, temporal: TemporalDep
) -> list[PaymentIncident]:
    """Payment workflows failed, expired or stopped (last 30 days), or stuck retrying a step."""
    try:
        return await payment_incidents(temporal, session)
    except RPCError as err:
        raise temporal_refusal(err, "") from None


@router.post("/{number}/stop", status_code=204, responses=error_responses(401, 403, 404, 409, 422, 503))
async def stop(
    number: str, body: IncidentAction, principal: BillingOperator, session: SessionDep, temporal: TemporalDep
) -> None:
    """Stop a stuck payment run so that the family can pay again (journalled with the reason)."""
    await stop_payment(number, body, principal, session, temporal)


@router.post("/{number}/dismiss", status_code=204, responses=error_responses(401, 403, 404, 409, 422, 503))
async def file(
    number: str, body: IncidentAction, principal: BillingOperator, session: SessionDep, temporal: TemporalDep
) -> None:
    """File a failed payment run once looked at (journalled with the reason)."""
    await file_payment(number, body, principal, session, temporal)
