"""A payment plan's state and the activity steps its decision and instalments share: store, notify, debit, ladder."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts.billing import IntentRequest, IntentStatus, PaymentActivity, RecordedPayment
    from contracts.payment_plans import (
        PLAN_ATTEMPT_BASE,
        PaymentPlanActivity,
        PaymentPlanInput,
        PlanDecisionResult,
        PlanNotice,
        PlanProgress,
        PlanProgressUpdate,
    )
    from domain.payment_plans import Decision, Instalment, InstalmentStatus, PlanStatus
    from domain.sepa import result_deadline
    from ville.temporal import SA_BUSINESS_STATUS
    from workflows.held_transfer import transfer_if_held_back
    from workflows.retries import STORE_RETRY, STRIPE_RETRY

CALL = timedelta(seconds=30)
SEPA_RECHECK = timedelta(days=2)
FINAL = ("succeeded", "failed")


class PaymentPlanCalls:
    """One payment plan's state as its workflow holds it, with the activity steps every part of it uses."""

    def __init__(self, inp: PaymentPlanInput) -> None:
        self.inp = inp
        self.status = PlanStatus.REQUESTED
        self.pending: Decision | None = None
        self.pending_by: int | None = 0  # None: decided by the deadline, not by an operator
        self.result: PlanDecisionResult | None = None
        self.refusal: str | None = None
        self.instalments: list[Instalment] = []
        self.statuses: list[InstalmentStatus] = []
        self.total = 0
        self.checked = 0
        self.misses = 0

    async def _debit(self, inst: Instalment, amount: int) -> None:
        """The instalment's SEPA debit through the payment activities (single money path), followed to its result."""
        intent = IntentRequest(self.inp.invoice_number, PLAN_ATTEMPT_BASE + inst.seq, "sepa_debit", amount)
        try:
            pi_id = await workflow.execute_activity(
                PaymentActivity.CREATE_INTENT,
                intent,
                result_type=str,
                start_to_close_timeout=CALL,
                retry_policy=STRIPE_RETRY,
            )
        except ActivityError:
            return  # refused (no mandate any more, nothing payable): the check sees the instalment unpaid
        status = await workflow.execute_activity(
            PaymentActivity.CONFIRM_INTENT,
            pi_id,
            result_type=IntentStatus,
            start_to_close_timeout=CALL,
            retry_policy=STRIPE_RETRY,
        )
        if status.status not in FINAL:
            status = await workflow.execute_activity(
                PaymentPlanActivity.DEBIT_RESULT,
                pi_id,
                result_type=IntentStatus,
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=timedelta(seconds=10),
                retry_policy=STRIPE_RETRY,
            )
        deadline = result_deadline(inst.due_on)
        while status.status not in FINAL and workflow.now().date() <= deadline:
            await workflow.sleep(SEPA_RECHECK)
            status = await workflow.execute_activity(
                PaymentActivity.RETRIEVE_INTENT,
                pi_id,
                result_type=IntentStatus,
                start_to_close_timeout=CALL,
                retry_policy=STRIPE_RETRY,
            )
        if status.status in FINAL:
            await workflow.execute_activity(
                PaymentActivity.RECORD_INTENT_OUTCOME,
                status,
                result_type=RecordedPayment,
                start_to_close_timeout=CALL,
                retry_policy=STORE_RETRY,
            )

    async def _save(self) -> None:
        update = PlanProgressUpdate(self.inp.plan_id, self.status.value, [s.value for s in self.statuses], self.misses)
        await workflow.execute_activity(
            PaymentPlanActivity.RECORD_PROGRESS, update, start_to_close_timeout=CALL, retry_policy=STORE_RETRY
        )

    async def _progress(self) -> PlanProgress:
        return await workflow.execute_activity(
            PaymentPlanActivity.PROGRESS,
            self.inp.invoice_number,
            result_type=PlanProgress,
            start_to_close_timeout=CALL,
            retry_policy=STORE_RETRY,
        )

    async def _back_to_ladder(self) -> None:
        """A refused or defaulted plan's invoice follows the ladder from where it stood: if the cycle's transfer
        day passed while the plan held it, it is transferred here after a grace (the contests' activities)."""
        await transfer_if_held_back(self.inp.invoice_number, CALL, STORE_RETRY)

    async def _notify(self, template: str, step: str, audience: str, subject: str, body: str) -> None:
        notice = PlanNotice(
            f"payment-plan-{step}:{self.inp.plan_id}",
            self.inp.plan_id,
            self.inp.invoice_number,
            self.inp.account_id,
            audience,
            template,
            subject,
            body,
        )
        await workflow.execute_activity(
            PaymentPlanActivity.NOTIFY, notice, result_type=int, start_to_close_timeout=CALL, retry_policy=STORE_RETRY
        )

    def _publish(self) -> None:
        workflow.upsert_search_attributes([SA_BUSINESS_STATUS.value_set(self.status.value)])
