"""Contest (réclamation) workflow contracts: its input, update, query and result, and its activities' payloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# the billing team as a notification audience, and the failure type of a credit note the invoice can no longer take
BILLING_TEAM = "billing_team"
FAMILY = "family"  # the payer of the invoice's account, as a notification audience
CREDIT_REFUSED = "ContestCreditRefused"


class ContestActivity:
    """Activity names of the contest workflow (the workflow calls them by name, activities register under them)."""

    NOTIFY = "notify_contest"
    MARK = "mark_contest"
    DECIDE = "decide_contest"
    HELD_TRANSFER = "held_transfer"
    TRANSFER_HELD = "transfer_held"


@dataclass
class LineContestInput:
    """One contest of invoice lines, recorded by the API before the workflow starts."""

    contest_id: str  # `contest-<invoice number>-<seq>`, also the workflow id
    invoice_number: str
    account_id: int
    lines: dict[str, int]  # contested amount in cents per activity code
    opened_on: date  # the day (Paris) the family opened it


@dataclass
class ContestDecisionRequest:
    """A billing operator's decision (typed update); amounts only for a partial acceptance."""

    kind: str  # domain.contests.DecisionKind
    answer: str
    operator_user_id: int
    amounts_by_activity: dict[str, int] = field(default_factory=dict)


@dataclass
class ContestDecisionResult:
    """What the decision did."""

    contest_id: str
    status: str  # domain.contests.ContestStatus
    credited_cents: int


@dataclass
class LineContestResult:
    """How the contest ended."""

    contest_id: str
    status: str
    credited_cents: int


@dataclass
class ContestView:
    """The workflow's state for the console (query)."""

    contest_id: str
    status: str
    opened_on: date
    deadline: date
    reminded: bool
    escalated: bool


@dataclass
class ContestNotice:
    """A French message about a contest, to the family (payer of the account) or to the billing team."""

    key: str
    contest_id: str
    invoice_number: str
    account_id: int
    audience: str  # FAMILY | BILLING_TEAM
    template: str
    subject: str
    body: str


@dataclass
class ContestStatusChange:
    """A status the workflow reached without a decision (reminded, escalated)."""

    contest_id: str
    status: str
    reminded: bool = False


@dataclass
class ContestOutcome:
    """A checked decision to record: the credit note (single money path) then the contest's row."""

    contest_id: str
    invoice_number: str
    status: str
    credited: dict[str, int]
    answer: str
    operator_user_id: int
    decided_on: date


@dataclass
class HeldTransfer:
    """After a decision: when an invoice held back from the transfer must be transferred, if still unpaid."""

    invoice_number: str
    transfer_on: date | None  # None when the billing cycle's own transfer step will handle it


@dataclass
class HeldTransferQuery:
    """Which invoice, and the workflow's today (ISO): activities never read the clock for business dates."""

    invoice_number: str
    today: date
