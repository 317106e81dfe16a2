"""Inputs, results and messages of the billing workflows (plain dataclasses, safe in the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class BillingActivity:
    """Activity names of the billing cycle: workflows call them by these names, activities register under them."""

    PLAN_CYCLE = "plan_cycle"
    PREVIEW_BATCH = "preview_batch"
    ISSUE_BATCH = "issue_batch"
    ARCHIVE_BATCH = "archive_batch"
    DELIVER_BATCH = "deliver_batch"
    START_SEPA_DEBITS = "start_sepa_debits"
    RUN_DUNNING_STEP = "run_dunning_step"


class PaymentActivity:
    """Activity names of one invoice's payments (same names as the methods, as recorded in histories)."""

    CREATE_INTENT = "create_intent"
    CONFIRM_INTENT = "confirm_intent"
    RETRIEVE_INTENT = "retrieve_intent"
    RECORD_INTENT_OUTCOME = "record_intent_outcome"
    ACCOUNT_OF = "account_of"
    MANDATE_ACTIVE = "mandate_active"
    INVOICE_REMAINING = "invoice_remaining"


class BillingWorkflow:
    """Workflow type names, for clients that start or signal them without importing the workflow classes."""

    CYCLE = "BillingCycleWorkflow"
    INVOICE_PAYMENT = "InvoicePaymentWorkflow"


# ApplicationError types of a Stripe refusal: the workflows treat them as final, never retried
STRIPE_NOT_FOUND = "StripeNotFound"
STRIPE_INVALID_REQUEST = "StripeInvalidRequest"


class CyclePhase(StrEnum):
    """Where a billing cycle stands (also its BusinessStatus search attribute)."""

    PLANNING = "planning"
    ISSUING = "issuing"
    PREVIEWED = "previewed"
    AWAITING_DUE_DATE = "awaiting_due_date"
    DUNNING = "dunning"
    DONE = "done"


@dataclass
class BatchTotalsView:
    """Totals of the batches done so far."""

    invoices: int = 0
    lines_total_cents: int = 0
    amount_due_cents: int = 0
    already_issued: int = 0
    emails: int = 0
    letters: int = 0
    by_tranche: dict[int, int] = field(default_factory=dict)


@dataclass
class DunningPlanStep:
    """One step of the ladder, dated for this cycle."""

    kind: str
    on: date


@dataclass
class CycleState:
    """What a cycle carries across continue-as-new."""

    phase: CyclePhase = CyclePhase.PLANNING
    issue_date: date | None = None  # None until planned (recorded histories carry "")
    due_date: date | None = None
    bounds: list[int] = field(default_factory=list)
    families: int = 0
    next_batch: int = 0
    done_batches: int = 0
    failed_batches: list[int] = field(default_factory=list)
    totals: BatchTotalsView = field(default_factory=BatchTotalsView)
    dunning_plan: list[DunningPlanStep] = field(default_factory=list)
    dunning_done: list[str] = field(default_factory=list)
    dunning_counts: dict[str, int] = field(default_factory=dict)
    paused: bool = False


@dataclass
class BillingCycleInput:
    """Start a cycle for a period; `issue_date` defaults to the workflow's current date."""

    period_key: str  # "" (scheduled runs): the last period closed before the workflow's current date
    dry_run: bool = False
    period_months: int = 2
    batch_size: int = 500
    parallelism: int = 4
    issue_date: date | None = None
    max_batches_per_run: int = 100
    state: CycleState | None = None


@dataclass
class BillingCycleResult:
    """What the cycle did."""

    period_key: str
    dry_run: bool
    families: int
    totals: BatchTotalsView
    dunning_counts: dict[str, int]


@dataclass
class CycleProgress:
    """Answer of the progress query."""

    period_key: str
    phase: CyclePhase
    dry_run: bool
    paused: bool
    batches_total: int
    batches_done: int
    failed_batches: list[int]
    families: int
    totals: BatchTotalsView
    due_date: date | None  # None until planned
    dunning_done: list[str]
    batch_size: int = 0  # the cycle's own: a start asking another one is refused


@dataclass
class PlanRequest:
    """Plan a cycle: which accounts, in which batches, with which dates."""

    period_key: str
    batch_size: int
    issue_date: date


@dataclass
class PlanResult:
    """Batch bounds (upper account id of each batch) and the invoice dates."""

    bounds: list[int]
    families: int
    issue_date: date
    due_date: date
    dunning: list[DunningPlanStep]


@dataclass
class BatchRequest:
    """One batch of accounts: lo < account id <= hi."""

    period_key: str
    lo: int
    hi: int
    issue_date: date | None = None  # always set by the cycle (recorded histories may carry "")
    due_date: date | None = None


@dataclass
class DunningRequest:
    """Run one dunning step over the period's unpaid invoices."""

    period_key: str
    kind: str


@dataclass
class InvoicePaymentInput:
    """Start the payment workflow of one invoice (card attempts, SEPA debit)."""

    invoice_number: str
    sepa_debit_on: date | None = None  # present a SEPA debit on that day
    sepa_retry_business_days: int = 5  # a rejected debit is presented once more after this delay


@dataclass
class CardPaymentRequest:
    """Pay by card with a payment method saved by the page (SetupIntent confirmed)."""

    payment_method_id: str
    amount_cents: int


class AttemptStatus(StrEnum):
    """Outcome of one payment attempt as the workflow answers it (`PaymentAttemptResult.status`)."""

    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    PENDING = "pending"  # still processing (a SEPA debit, 3-D Secure): the outcome comes later
    FAILED = "failed"  # Stripe refused the request itself


class IntentState(StrEnum):
    """A PaymentIntent's status as Stripe reports it (`IntentStatus.status`)."""

    SUCCEEDED = "succeeded"
    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    FAILED = "failed"
    CANCELED = "canceled"


FINAL_INTENT_STATES = frozenset({IntentState.SUCCEEDED, IntentState.FAILED})
"""Statuses that settle an attempt: the outcome is recorded, the family told."""
NOT_RECORDED = "open"
"""`PaymentState.invoice_status` before the workflow recorded any outcome."""


@dataclass
class PaymentAttemptResult:
    """Outcome of one attempt, as the page shows it."""

    attempt: int
    status: str  # succeeded | declined | pending | failed
    payment_intent_id: str | None = None
    message_fr: str = ""


@dataclass
class StripeEventSignal:
    """A verified Stripe event about one of this invoice's PaymentIntents."""

    event_id: str
    type: str
    payment_intent_id: str


@dataclass
class IntentRequest:
    """Create (once) the PaymentIntent of an attempt."""

    invoice_number: str
    attempt: int
    method: str  # card | sepa_debit
    amount_cents: int
    payment_method_id: str | None = None


@dataclass
class IntentStatus:
    """A PaymentIntent's state as Stripe reports it."""

    payment_intent_id: str
    status: str  # succeeded | processing | requires_action | failed | canceled
    failure_code: str | None = None


@dataclass
class RecordedPayment:
    """What recording a settled PaymentIntent changed."""

    newly_recorded: bool
    invoice_status: str
    remaining_cents: int
    mandate_active: bool = True


@dataclass
class InvoicePaymentResult:
    """How the invoice's payment workflow ended."""

    invoice_number: str
    status: str
    attempts: int


@dataclass
class PaymentState:
    """Answer of the payment workflow's state query."""

    attempts: int
    busy: bool
    invoice_status: str
    sepa_on: date | None
    webhook_intents: list[str]
