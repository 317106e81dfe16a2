"""What one family invoice prints: its lines and totals, checked on construction (immutable)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from documents.layout import check_recipient
from domain.money import Cents
from domain.tariffs import NUM_TRANCHES


@dataclass(frozen=True, slots=True)
class DocLine:
    """One printed invoice line; ``amount = quantity × unit price`` is checked."""

    child_first_name: str
    label: str
    quantity: int
    unit_price_cents: Cents
    amount_cents: Cents

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise ValueError(f"quantity must be non-negative, got {self.quantity}")
        if self.amount_cents != self.quantity * self.unit_price_cents:
            raise ValueError(f"line {self.label!r}: {self.quantity} × {self.unit_price_cents} != {self.amount_cents}")


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    """Everything printed on one family invoice (immutable, so it can be re-rendered identically)."""

    number: str
    account_ref: str
    period_label: str
    issue_date: date
    due_date: date
    payer_name: str
    payer_address: str  # lines separated by "\n"
    tranche: int
    lines: tuple[DocLine, ...]
    lines_total_cents: Cents
    previous_unpaid_cents: Cents
    credit_applied_cents: Cents
    amount_due_cents: Cents
    payment_url: str
    # Share payable by CESU (childcare activities); printed in the payment block when positive.
    cesu_eligible_cents: Cents = 0

    def __post_init__(self) -> None:
        check_recipient(self.payer_name, self.payer_address)
        if not 1 <= self.tranche <= NUM_TRANCHES:
            raise ValueError(f"tranche must be 1..{NUM_TRANCHES}, got {self.tranche}")
        if self.due_date < self.issue_date:
            raise ValueError("due date is before the issue date")
        if min(self.previous_unpaid_cents, self.credit_applied_cents, self.cesu_eligible_cents) < 0:
            raise ValueError("previous unpaid, credit applied and CESU share must be non-negative")
        if self.lines_total_cents != sum(line.amount_cents for line in self.lines):
            raise ValueError("lines_total_cents is not the sum of the lines")
        expected = self.lines_total_cents + self.previous_unpaid_cents - self.credit_applied_cents
        if self.amount_due_cents != expected or self.amount_due_cents < 0:
            raise ValueError(
                f"amount due {self.amount_due_cents} != total + previous unpaid - credit = {expected}, or < 0"
            )
