"""Invoice statuses and the dunning ladder (reminders, then transfer to the Trésor Public), as data."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from domain.calendar import next_business_day_on_or_after
from domain.money import Cents

DEFAULT_TRANSFER_AFTER_DAYS = 45


class InvoiceStatus(StrEnum):
    """Business status of an invoice."""

    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"


# Once transferred, the Trésor Public collects: the family can no longer pay the City online.
PAYABLE_STATUSES = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE})
# Nothing left to collect online: an invoice's payment workflow ends once its invoice reaches one of these.
SETTLED_STATUSES = frozenset({InvoiceStatus.PAID, InvoiceStatus.TRANSFERRED, InvoiceStatus.CANCELLED})


def own_due(amount_due: Cents, previous_unpaid: Cents) -> Cents:
    """What an invoice itself charges, without the earlier unpaid balance it recalls."""
    return max(0, amount_due - previous_unpaid)


def remaining(amount_due: Cents, previous_unpaid: Cents, paid: Cents) -> Cents:
    """What is still to pay on an invoice's own charges."""
    return max(0, own_due(amount_due, previous_unpaid) - paid)


def status_after_payment(total_due: Cents, paid: Cents) -> InvoiceStatus:
    """Return paid / partially_paid / issued from the amount due and the total paid so far."""
    if total_due < 0 or paid < 0:
        raise ValueError("amounts must be non-negative")
    if paid >= total_due:
        return InvoiceStatus.PAID
    return InvoiceStatus.PARTIALLY_PAID if paid else InvoiceStatus.ISSUED


class DunningKind(StrEnum):
    """What a dunning step does."""

    REMINDER_EMAIL = "reminder_email"
    REMINDER_SMS = "reminder_sms"
    REMINDER_LETTER = "reminder_letter"
    TRANSFER_TRESOR = "transfer_tresor"


@dataclass(frozen=True, slots=True)
class DunningStep:
    """A step taken ``offset_days`` after the due date (moved to the next business day)."""

    offset_days: int
    kind: DunningKind

    def on(self, due: date) -> date:
        """Date the step becomes due for an invoice due on ``due``."""
        return next_business_day_on_or_after(due + timedelta(days=self.offset_days))


def validate_ladder(ladder: Sequence[DunningStep]) -> None:
    """ValueError unless offsets are positive and non-decreasing, kinds unique, any transfer last."""
    kinds = [s.kind for s in ladder]
    if len(set(kinds)) != len(kinds):
        raise ValueError("each dunning kind may appear once")
    offsets = [s.offset_days for s in ladder]
    if any(o <= 0 for o in offsets) or offsets != sorted(offsets):
        raise ValueError("offsets must be positive and non-decreasing")
    if DunningKind.TRANSFER_TRESOR in kinds[:-1]:
        raise ValueError("the transfer to the Trésor Public must be the last step")
    if kinds[-1:] == [DunningKind.TRANSFER_TRESOR] and len(offsets) > 1 and offsets[-1] == offsets[-2]:
        raise ValueError("the transfer must come strictly after the last reminder")


def default_ladder(
    first_reminder_days: int = 10,
    second_reminder_days: int = 25,
    transfer_after_days: int = DEFAULT_TRANSFER_AFTER_DAYS,
) -> tuple[DunningStep, ...]:
    """E-mail reminder at due+10, letter at due+25, transfer at due+45 (after the second deadline)."""
    ladder = (
        DunningStep(first_reminder_days, DunningKind.REMINDER_EMAIL),
        DunningStep(second_reminder_days, DunningKind.REMINDER_LETTER),
        DunningStep(transfer_after_days, DunningKind.TRANSFER_TRESOR),
    )
    validate_ladder(ladder)
    return ladder


def steps_due(
    ladder: Sequence[DunningStep], due_date: date, today: date, done_kinds: Collection[DunningKind]
) -> list[DunningStep]:
    """Steps not yet done whose date has come, in ladder order, for an invoice still unpaid.

    The transfer is held back while a reminder is still pending, so a family is always reminded first.
    """
    pending = [s for s in ladder if s.kind not in done_kinds]
    ready = [s for s in pending if s.on(due_date) <= today]
    if any(s.kind is DunningKind.TRANSFER_TRESOR for s in ready) and any(
        s.kind is not DunningKind.TRANSFER_TRESOR for s in pending
    ):
        ready = [s for s in ready if s.kind is not DunningKind.TRANSFER_TRESOR]
    return ready


def next_step_date(ladder: Sequence[DunningStep], due_date: date, done_kinds: Collection[DunningKind]) -> date | None:
    """Date of the earliest step not yet done (for a durable timer), or None when the ladder is done."""
    dates = [s.on(due_date) for s in ladder if s.kind not in done_kinds]
    return min(dates, default=None)
