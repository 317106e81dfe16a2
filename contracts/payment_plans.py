"""Payment plan (échéancier) workflow contracts: its input, update, query and result, and its activities' payloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# The failure type of an approval the invoice can no longer take (paid, transferred or too little left meanwhile).
PLAN_REFUSED = "PaymentPlanRefused"
PAYMENT_PLAN_WORKFLOW = "PaymentPlanWorkflow"
# A plan's SEPA debit of instalment n is the invoice's payment attempt PLAN_ATTEMPT_BASE + n: its payment key
# (`sepa_debit:<number>:<attempt>`) never meets the attempts of InvoicePaymentWorkflow, which count from 1.
PLAN_ATTEMPT_BASE = 1000


class PaymentPlanActivity:
    """Activity names of the payment plan workflow (the workflow calls them by name, activities register under them)."""

    NOTIFY = "notify_payment_plan"
    BASIS = "payment_plan_basis"
    DECIDE = "decide_payment_plan"
    PROGRESS = "payment_plan_progress"
    RECORD_PROGRESS = "record_payment_plan_progress"
    DEBIT_RESULT = "payment_plan_debit_result"


@dataclass
class PaymentPlanInput:
    """One plan request, recorded by the API before the workflow starts (references only, no personal data)."""

    plan_id: str  # `payment-plan-<invoice number>-<seq>`, also the workflow id
    invoice_number: str
    account_id: int
    asked_count: int
    requested_on: date  # the day (Paris) the family asked


@dataclass
class PlanDecisionRequest:
    """A billing operator's decision (typed update): approve, adjust (another count) or refuse."""

    kind: str  # domain.payment_plans.DecisionKind
    answer: str
    operator_user_id: int
    count: int | None = None


@dataclass
class PlanDecisionResult:
    """What the decision did: the plan's status and its instalments (due date, cents)."""

    plan_id: str
    status: str  # domain.payment_plans.PlanStatus
    instalments: list[tuple[date, int]] = field(default_factory=list)


@dataclass
class PaymentPlanResult:
    """How the plan ended."""

    plan_id: str
    status: str
    misses: int


@dataclass
class PaymentPlanView:
    """The workflow's state (query)."""

    plan_id: str
    status: str
    instalment_statuses: list[str]
    misses: int


@dataclass
class PlanNotice:
    """A French message about a plan, to the family (payer of the account) or to the billing team."""

    key: str
    plan_id: str
    invoice_number: str
    account_id: int
    audience: str  # "family" | contracts.contests.BILLING_TEAM
    template: str
    subject: str
    body: str


@dataclass
class PlanBasis:
    """What the invoice stands at when the decision is applied."""

    payable: bool
    remaining_cents: int


@dataclass
class PlanOutcome:
    """A checked decision to record, with the schedule when approved (due date, cents)."""

    plan_id: str
    status: str
    answer: str
    operator_user_id: int | None  # None: granted at the decision deadline
    decided_on: date
    instalments: list[tuple[date, int]] = field(default_factory=list)


@dataclass
class PlanProgress:
    """Where the invoice stands for the plan: still payable, what remains, what open contests hold back."""

    payable: bool
    remaining_cents: int
    held_cents: int
    sepa_mandate: bool


@dataclass
class PlanProgressUpdate:
    """The instalments' statuses and the plan's status after a check."""

    plan_id: str
    status: str
    instalment_statuses: list[str]
    misses: int
