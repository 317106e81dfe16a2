"""The webhook benchmark's reading of the histories: when each event was seen by its payment workflow."""

from __future__ import annotations

import asyncio
import time

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from bench.webhooks_driver import Shot
from contracts.billing import InvoicePaymentInput, StripeEventSignal
from ville.ids import invoice_payment_id
from workflows.payment import InvoicePaymentWorkflow


async def seen_times(client: Client, workflow_id: str) -> dict[str, float]:
    """Event id -> wall time of the WorkflowTaskCompleted that follows its WorkflowExecutionSignaled event."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    pending: list[str] = []
    out: dict[str, float] = {}
    for ev in history.events:
        if ev.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            payloads = ev.workflow_execution_signaled_event_attributes.input.payloads
            (signal,) = await client.data_converter.decode(payloads, [StripeEventSignal])
            pending.append(signal.event_id)
        elif ev.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            out["started"] = out.get("started", float(ev.event_time.ToMicroseconds()) / 1e6)
            for event_id in pending:
                out[event_id] = float(ev.event_time.ToMicroseconds()) / 1e6
            pending = []
    return out


async def collect_seen(
    client: Client, shots: list[Shot], targets: dict[int, tuple[str, str]], timeout_s: float
) -> None:
    """Fill `seen_wall` from the histories, retrying workflows not done yet, up to `timeout_s`."""
    by_workflow: dict[str, list[Shot]] = {}
    for shot in shots:
        if shot.status == 200:
            by_workflow.setdefault(invoice_payment_id(targets[shot.index][0]), []).append(shot)
    sem = asyncio.Semaphore(16)
    deadline = time.perf_counter() + timeout_s

    async def one(workflow_id: str, mine: list[Shot]) -> None:
        async with sem:
            while time.perf_counter() < deadline:
                try:
                    seen = await seen_times(client, workflow_id)
                except RPCError:  # not started yet
                    seen = {}
                for shot in mine:
                    shot.seen_wall = seen.get(targets[shot.index][1])
                if all(s.seen_wall is not None for s in mine):
                    return
                await asyncio.sleep(0.5)

    await asyncio.gather(*(one(w, mine) for w, mine in by_workflow.items()))


async def start_pool(client: Client, numbers: list[str], task_queue: str) -> float:
    """Start the payment workflows the events will target (as the cycle or the card page does); seconds."""
    t0 = time.perf_counter()
    sem = asyncio.Semaphore(20)

    async def one(number: str) -> None:
        async with sem:
            await client.start_workflow(
                InvoicePaymentWorkflow.run,
                InvoicePaymentInput(number),
                id=invoice_payment_id(number),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            while "started" not in await seen_times(client, invoice_payment_id(number)):
                await asyncio.sleep(0.5)

    await asyncio.gather(*(one(n) for n in numbers))
    return time.perf_counter() - t0
