"""One invoice's payments: card attempts the page waits for, SEPA debits whose result takes days."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.billing import (
        FINAL_INTENT_STATES,
        NOT_RECORDED,
        STRIPE_INVALID_REQUEST,
        STRIPE_NOT_FOUND,
        AttemptStatus,
        BillingWorkflow,
        CardPaymentRequest,
        IntentRequest,
        IntentState,
        IntentStatus,
        InvoicePaymentInput,
        InvoicePaymentResult,
        PaymentActivity,
        PaymentAttemptResult,
        PaymentState,
        RecordedPayment,
        StripeEventSignal,
    )
    from contracts.delivery import NotificationActivity, NotificationOutcome, NotificationRequest
    from domain import payment_messages as msg
    from domain.calendar import add_business_days
    from domain.dunning import SETTLED_STATUSES
    from domain.labels import decline_message
    from domain.payments import OUTCOME_EVENTS, PaymentMethod
    from domain.sepa import result_deadline
    from workflows.retries import STORE_RETRY, STRIPE_RETRY
    from workflows.timing import sleep_until_morning

CALL = timedelta(seconds=30)  # a Stripe call that takes longer is retried (the intent is recorded first)
CARD_RESULT_WAIT = timedelta(minutes=30)  # 3-D Secure and similar: the webhook normally arrives in seconds
SEPA_RECHECK = timedelta(days=2)
IDLE_CLOSE = timedelta(days=7)
RECEIPT_AFTER_ANSWER = "receipt-after-answer"  # workflow.patched id: runs recorded before sent it first
# workflow.patched id: runs recorded before woke on any event, `processing` included (which re-asked Stripe
# in a loop while a SEPA debit was processing, and fetched every orphan event)
OUTCOME_EVENTS_ONLY = "outcome-events-only"
# workflow.patched id: runs recorded before failed on any error of an orphan's look-up; now a PaymentIntent
# Stripe refuses to know is skipped, and a run with nothing else to do ends at once (releasing the invoice)
UNKNOWN_INTENT_SKIPPED = "unknown-intent-skipped"


def _refused_by_stripe(err: ActivityError) -> bool:
    """Whether the activity failed because Stripe refuses the request for good (unknown object, invalid)."""
    cause = err.cause
    return isinstance(cause, ApplicationError) and cause.type in (STRIPE_NOT_FOUND, STRIPE_INVALID_REQUEST)


@workflow.defn(name=BillingWorkflow.INVOICE_PAYMENT)
class InvoicePaymentWorkflow:
    """Holds each payment attempt of one invoice until its outcome is known and recorded."""

    @workflow.init
    def __init__(self, inp: InvoicePaymentInput) -> None:
        self.number = inp.invoice_number
        self.attempts = 0
        self.busy = False
        self.settled = False
        self.status: str = NOT_RECORDED
        self.sepa_on: date | None = inp.sepa_debit_on
        self.sepa_retry_days = inp.sepa_retry_business_days
        self.events: dict[str, StripeEventSignal] = {}
        self.outcomes: set[str] = set()  # PaymentIntents an outcome event was received for
        self.outcome_events_only = False
        self.card_requests: dict[int, IntentRequest] = {}
        self.card_results: dict[int, PaymentAttemptResult] = {}
        self.awaited: set[str] = set()  # PaymentIntents an attempt of this run is following
        self.receipts: list[asyncio.Task[None]] = []  # sent beside the main loop; awaited before the end
        self.reconciled: set[str] = set()
        self.last_activity = workflow.now()

    @workflow.run
    async def run(self, inp: InvoicePaymentInput) -> InvoicePaymentResult:
        """Serve attempts until the invoice is settled, or close after a week without any."""
        self.outcome_events_only = workflow.patched(OUTCOME_EVENTS_ONLY)
        while not self.settled:
            if self.card_requests:
                await self._run_card_attempts()
                continue
            if self.sepa_on and not self.busy:
                await self._sepa_debit(self.sepa_on)
                continue
            if self._orphans():
                await self._reconcile_orphans()
                continue
            woke = await self._wait(self._has_work, IDLE_CLOSE)
            if not woke and not self.busy and workflow.now() - self.last_activity >= IDLE_CLOSE:
                break
        await workflow.wait_condition(lambda: not self.busy and workflow.all_handlers_finished())
        await asyncio.gather(*self.receipts)
        return InvoicePaymentResult(self.number, self.status, self.attempts)

    def _has_work(self) -> bool:
        return (
            self.settled
            or bool(self.card_requests)
            or (self.sepa_on is not None and not self.busy)
            or bool(self._orphans())
        )

    def _orphans(self) -> list[str]:
        """Events about PaymentIntents no attempt of this run follows (e.g. after a restart)."""
        return [
            pi
            for pi in self.events
            if pi not in self.awaited and pi not in self.reconciled and self._event_calls_for_action(pi)
        ]

    def _event_calls_for_action(self, pi_id: str) -> bool:
        return pi_id in self.outcomes or (not self.outcome_events_only and pi_id in self.events)

    async def _reconcile_orphans(self) -> None:
        for pi_id in self._orphans():
            self.reconciled.add(pi_id)
            try:
                status = await workflow.execute_activity(
                    PaymentActivity.RETRIEVE_INTENT,
                    pi_id,
                    result_type=IntentStatus,
                    start_to_close_timeout=CALL,
                    retry_policy=STRIPE_RETRY,
                )
            except ActivityError as err:
                if not _refused_by_stripe(err) or not workflow.patched(UNKNOWN_INTENT_SKIPPED):
                    raise
                workflow.logger.warning("payment.unknown_intent_skipped", extra={"payment_intent_id": pi_id})
                if self._idle():
                    raise ApplicationError(msg.UNKNOWN_INTENT, type=STRIPE_NOT_FOUND, non_retryable=True) from err
                continue
            if status.status in FINAL_INTENT_STATES:
                await self._record(0, status)

    def _idle(self) -> bool:
        """Nothing of this run's own: no attempt made or asked for, no debit planned."""
        return not (self.attempts or self.busy or self.card_requests or self.sepa_on or self.awaited)

    async def _wait(self, condition: Callable[[], bool], timeout: timedelta) -> bool:
        try:
            await workflow.wait_condition(condition, timeout=timeout)
            return True
        except TimeoutError:
            return False

    # --- card ------------------------------------------------------------------------------------

    @workflow.update
    async def pay_by_card(self, req: CardPaymentRequest) -> PaymentAttemptResult:
        """Charge a card saved by the page; answers when the outcome is known (or still pending)."""
        self.busy = True
        self.attempts += 1
        attempt = self.attempts
        self.last_activity = workflow.now()
        # the main loop runs the attempt: one place drives every Stripe call of this invoice
        self.card_requests[attempt] = IntentRequest(
            self.number, attempt, PaymentMethod.CARD, req.amount_cents, req.payment_method_id
        )
        await workflow.wait_condition(lambda: attempt in self.card_results)
        return self.card_results.pop(attempt)

    async def _run_card_attempts(self) -> None:
        for attempt, intent in sorted(self.card_requests.items()):
            try:
                self.card_results[attempt] = await self._charge(intent, CARD_RESULT_WAIT)
            finally:
                del self.card_requests[attempt]
                self.busy = False

    @pay_by_card.validator
    def _validate_card(self, req: CardPaymentRequest) -> None:
        problem = msg.card_request_problem(self.busy, self.settled, req.amount_cents, req.payment_method_id)
        if problem is not None:
            raise ValueError(problem)

    async def _charge(self, intent: IntentRequest, wait: timedelta) -> PaymentAttemptResult:
        try:
            pi_id = await workflow.execute_activity(
                PaymentActivity.CREATE_INTENT,
                intent,
                result_type=str,
                start_to_close_timeout=CALL,
                retry_policy=STRIPE_RETRY,
            )
        except ActivityError as err:
            cause = err.cause
            message = cause.message if isinstance(cause, ApplicationError) else msg.PAYMENT_IMPOSSIBLE
            return PaymentAttemptResult(intent.attempt, AttemptStatus.FAILED, None, message)
        self.awaited.add(pi_id)
        status = await workflow.execute_activity(
            PaymentActivity.CONFIRM_INTENT,
            pi_id,
            result_type=IntentStatus,
            start_to_close_timeout=CALL,
            retry_policy=STRIPE_RETRY,
        )
        if status.status not in FINAL_INTENT_STATES:
            status = await self._await_outcome(pi_id, wait)
        if status.status not in FINAL_INTENT_STATES:
            return PaymentAttemptResult(intent.attempt, AttemptStatus.PENDING, pi_id, msg.PAYMENT_PROCESSING)
        return await self._record(intent.attempt, status)

    async def _await_outcome(self, pi_id: str, wait: timedelta) -> IntentStatus:
        """Wait for the outcome's webhook; if it never comes, ask Stripe (a missed webhook loses nothing)."""
        await self._wait(lambda: self._event_calls_for_action(pi_id), wait)
        return await workflow.execute_activity(
            PaymentActivity.RETRIEVE_INTENT,
            pi_id,
            result_type=IntentStatus,
            start_to_close_timeout=CALL,
            retry_policy=STRIPE_RETRY,
        )

    async def _record(self, attempt: int, status: IntentStatus) -> PaymentAttemptResult:
        recorded = await workflow.execute_activity(
            PaymentActivity.RECORD_INTENT_OUTCOME,
            status,
            result_type=RecordedPayment,
            start_to_close_timeout=CALL,
            retry_policy=STORE_RETRY,
        )
        self.status = recorded.invoice_status
        self.settled = recorded.invoice_status in SETTLED_STATUSES
        if status.status == IntentState.SUCCEEDED:
            receipt = self._notify("payment_receipt", f"receipt:{status.payment_intent_id}", "email", {})
            if workflow.patched(RECEIPT_AFTER_ANSWER):
                # the family waits for the answer, not for the e-mail (retried while SES is unavailable)
                self.receipts.append(asyncio.create_task(receipt))
            else:
                await receipt
            return PaymentAttemptResult(
                attempt, AttemptStatus.SUCCEEDED, status.payment_intent_id, msg.PAYMENT_ACCEPTED
            )
        message = decline_message(status.failure_code)
        return PaymentAttemptResult(attempt, AttemptStatus.DECLINED, status.payment_intent_id, message)

    # --- SEPA ------------------------------------------------------------------------------------

    @workflow.signal
    def request_sepa_debit(self, on: date) -> None:
        """Present a SEPA debit on the given day (sent by the billing cycle at the due date)."""
        if not self.settled:
            self.sepa_on = on

    async def _sepa_debit(self, on: date) -> None:
        # the family may still pay by card until the debit day: only the debit itself holds the invoice
        await sleep_until_morning(on)
        self.busy = True
        try:
            remaining = await workflow.execute_activity(
                PaymentActivity.INVOICE_REMAINING,
                self.number,
                result_type=int,
                start_to_close_timeout=CALL,
                retry_policy=STORE_RETRY,
            )
            result = None
            if remaining > 0:
                self.attempts += 1
                intent = IntentRequest(self.number, self.attempts, PaymentMethod.SEPA_DEBIT, remaining)
                result = await self._sepa_attempt(intent, on)
            self.settled = remaining <= 0 or self.settled
            self.sepa_on = None
        finally:
            self.busy = False
        if result is not None and result.status == AttemptStatus.DECLINED:
            await self._after_sepa_rejection(on)

    async def _sepa_attempt(self, intent: IntentRequest, debit_day: date) -> PaymentAttemptResult | None:
        try:
            pi_id = await workflow.execute_activity(
                PaymentActivity.CREATE_INTENT,
                intent,
                result_type=str,
                start_to_close_timeout=CALL,
                retry_policy=STRIPE_RETRY,
            )
        except ActivityError:
            return None
        self.awaited.add(pi_id)
        status = await workflow.execute_activity(
            PaymentActivity.CONFIRM_INTENT,
            pi_id,
            result_type=IntentStatus,
            start_to_close_timeout=CALL,
            retry_policy=STRIPE_RETRY,
        )
        deadline = result_deadline(debit_day)
        # The bank answers within 14 business days: wait for the webhook, re-check every two days.
        while status.status not in FINAL_INTENT_STATES:
            if workflow.now().date() > deadline:
                break
            status = await self._await_outcome(pi_id, SEPA_RECHECK)
        if status.status not in FINAL_INTENT_STATES:
            return PaymentAttemptResult(intent.attempt, AttemptStatus.PENDING, pi_id)
        return await self._record(intent.attempt, status)

    async def _after_sepa_rejection(self, debit_day: date) -> None:
        mandate_active = await workflow.execute_activity(
            PaymentActivity.MANDATE_ACTIVE,
            self.number,
            result_type=bool,
            start_to_close_timeout=CALL,
            retry_policy=STORE_RETRY,
        )
        if mandate_active:
            # first rejection: present the debit once more a few business days later
            self.sepa_on = add_business_days(debit_day, self.sepa_retry_days)
        else:
            await self._notify("sepa_fallback", f"sepa-fallback:{self.number}", "email", {})

    # --- shared ----------------------------------------------------------------------------------

    @workflow.signal
    def stripe_event(self, event: StripeEventSignal) -> None:
        """A verified webhook about one of this invoice's PaymentIntents (duplicates are ignored)."""
        self.events.setdefault(event.payment_intent_id, event)
        if event.type in OUTCOME_EVENTS:
            self.outcomes.add(event.payment_intent_id)

    @workflow.query
    def state(self) -> PaymentState:
        """Attempts, whether one is in flight, the invoice status last recorded, the webhooks seen."""
        return PaymentState(self.attempts, self.busy, self.status, self.sepa_on, sorted(self.events))

    async def _notify(self, template: str, key: str, channel: str, extra: dict[str, str]) -> None:
        account_id = await workflow.execute_activity(
            PaymentActivity.ACCOUNT_OF,
            self.number,
            result_type=int,
            start_to_close_timeout=CALL,
            retry_policy=STORE_RETRY,
        )
        ctx = {"number": self.number, **extra}
        await workflow.execute_activity(
            NotificationActivity.SEND,
            [NotificationRequest(key, channel, template, "payer", account_id, self.number, ctx)],
            result_type=NotificationOutcome,
            start_to_close_timeout=CALL,
            retry_policy=STORE_RETRY,
        )
