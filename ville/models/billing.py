"""Facil'familles tables: accounts, children, attendance, invoices, payments, ledger, notifications."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.dunning import InvoiceStatus, own_due, remaining
from domain.payments import PaymentMethod
from domain.sepa import MandateStatus
from ville.models.common import opt_ts_field, ts_field


class DeliveryChannel(StrEnum):
    """How a family receives its invoices."""

    email = "email"
    post = "post"


class FamilyAccount(SQLModel, table=True):
    """A Facil'familles account: one invoice per period, addressed to its payer."""

    __tablename__ = "family_account"

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True, max_length=20)  # opaque, e.g. FA-000123: safe in workflow ids
    arrondissement: int = Field(index=True, ge=1, le=20)
    qf_cents: int | None = None  # None: no valid QF file, priced at tranche 10
    qf_valid_until: date | None = None
    delivery_channel: DeliveryChannel = DeliveryChannel.email
    sms_opt_in: bool = False
    stripe_customer_id: str | None = Field(default=None, max_length=64)
    stripe_payment_method_id: str | None = Field(default=None, max_length=64)
    mandate_status: MandateStatus = MandateStatus.none
    sepa_rejections: int = 0
    # bumped by a conditional UPDATE at the start of every money change on the account's invoices: the row
    # lock it takes makes those changes one at a time, on SQLite and PostgreSQL alike (services/money_guard.py)
    money_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = ts_field()


class Payer(SQLModel, table=True):
    """The debtor parent of an account: the personal data, kept apart from process state."""

    __tablename__ = "payer"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="family_account.id", unique=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    email: str = Field(max_length=254)
    phone: str | None = Field(default=None, max_length=30)
    address: str = Field(max_length=300)
    iban_last4: str | None = Field(default=None, max_length=4)


class Child(SQLModel, table=True):
    """A child of a family account."""

    __tablename__ = "child"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="family_account.id", index=True)
    ref: str = Field(unique=True, max_length=20)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    birth_date: date


class Activity(SQLModel, table=True):
    """Catalogue of billable activities (périscolaire, restauration, crèche, conservatoire)."""

    __tablename__ = "activity"

    code: str = Field(primary_key=True, max_length=40)
    label: str = Field(max_length=200)
    family: str = Field(max_length=40)  # periscolaire | restauration | creche | conservatoire
    cesu_eligible: bool = False


class Registration(SQLModel, table=True):
    """A child registered for an activity over a date range (attendance outside it is surcharged)."""

    __tablename__ = "registration"
    __table_args__ = (UniqueConstraint("child_id", "activity_code", "start"),)

    id: int | None = Field(default=None, primary_key=True)
    child_id: int = Field(foreign_key="child.id", index=True)
    activity_code: str = Field(foreign_key="activity.code")
    start: date
    end: date | None = None


class TariffGridVersion(SQLModel, table=True):
    """A voted tariff grid, in force from `effective_from`: data, never code."""

    __tablename__ = "tariff_grid"

    id: str = Field(primary_key=True, max_length=40)
    effective_from: date
    effective_to: date | None = None
    data: dict = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = ts_field()


class Attendance(SQLModel, table=True):
    """One pointage: a child attended an activity on a day. Idempotent on (child, activity, day)."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("child_id", "activity_code", "day", name="uq_attendance"),)

    id: int | None = Field(default=None, primary_key=True)
    child_id: int = Field(foreign_key="child.id")
    account_id: int = Field(foreign_key="family_account.id", index=True)
    activity_code: str = Field(foreign_key="activity.code", max_length=40)
    day: date = Field(index=True)
    registered: bool = True
    source: str = Field(default="api", max_length=20)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)


class InvoiceCounter(SQLModel, table=True):
    """Next invoice sequence per year: numbers are taken in the same transaction as the invoices."""

    __tablename__ = "invoice_counter"

    year: int = Field(primary_key=True)
    next_seq: int = 1


class Invoice(SQLModel, table=True):
    """One invoice per family account and period; immutable once issued except its payment status."""

    __tablename__ = "invoice"
    __table_args__ = (UniqueConstraint("account_id", "period_key", name="uq_invoice_account_period"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, index=True, max_length=20)
    account_id: int = Field(foreign_key="family_account.id", index=True)
    period_key: str = Field(index=True, max_length=7)
    period_start: date
    period_end: date
    issue_date: date
    due_date: date = Field(index=True)
    tranche: int
    lines_total_cents: int
    previous_unpaid_cents: int = 0
    credit_applied_cents: int = 0
    amount_due_cents: int
    paid_cents: int = 0
    status: InvoiceStatus = Field(default=InvoiceStatus.ISSUED, index=True)
    delivery_channel: DeliveryChannel = DeliveryChannel.email
    reminders_sent: int = 0
    recalled_on_invoice_id: int | None = None  # the later invoice that recalled this unpaid amount
    transferred_at: datetime | None = opt_ts_field()
    created_at: datetime = ts_field()

    @property
    def own_due_cents(self) -> int:
        """What this invoice itself charges, without the recalled earlier balance."""
        return own_due(self.amount_due_cents, self.previous_unpaid_cents)

    @property
    def remaining_cents(self) -> int:
        """What is still to pay on this invoice's own charges."""
        return remaining(self.amount_due_cents, self.previous_unpaid_cents, self.paid_cents)


class InvoiceLine(SQLModel, table=True):
    """A priced line of an invoice: one child, one activity, one unit price."""

    __tablename__ = "invoice_line"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    child_ref: str = Field(max_length=20)
    child_first_name: str = Field(max_length=100)
    activity_code: str = Field(max_length=40)
    label: str = Field(max_length=200)
    quantity: int
    unit_price_cents: int
    amount_cents: int


class PaymentStatus(StrEnum):
    """Outcome of a payment attempt."""

    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    refunded = "refunded"


class Payment(SQLModel, table=True):
    """A payment attempt or a recorded payment; `key` makes every recording idempotent."""

    __tablename__ = "payment"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=120)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    account_id: int = Field(foreign_key="family_account.id", index=True)
    method: PaymentMethod
    amount_cents: int
    refunded_cents: int = 0
    status: PaymentStatus = Field(default=PaymentStatus.pending, index=True)
    stripe_payment_intent_id: str | None = Field(default=None, unique=True, max_length=64)
    failure_reason: str | None = Field(default=None, max_length=120)
    reference: str | None = Field(default=None, max_length=80)  # cheque / CESU number
    created_at: datetime = ts_field()
    settled_at: datetime | None = opt_ts_field()


class PaymentAllocation(SQLModel, table=True):
    """The share of a payment settling one invoice (oldest open invoices first)."""

    __tablename__ = "payment_allocation"
    __table_args__ = (UniqueConstraint("payment_id", "invoice_id"),)

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payment.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    amount_cents: int


class LedgerEntry(SQLModel, table=True):
    """A balanced double-entry journal entry; never updated nor deleted."""

    __tablename__ = "ledger_entry"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=120)
    kind: str = Field(max_length=40)
    created_at: datetime = ts_field()


class LedgerPosting(SQLModel, table=True):
    """One side of a journal entry on one ledger account."""

    __tablename__ = "ledger_posting"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="ledger_entry.id", index=True)
    account: str = Field(max_length=80, index=True)
    debit_cents: int = 0
    credit_cents: int = 0


class Notification(SQLModel, table=True):
    """A message sent once per key; the log of every notification."""

    __tablename__ = "notification"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=160)
    channel: str = Field(max_length=10)  # email | sms | post
    template: str = Field(max_length=60)
    subject_ref: str = Field(max_length=40, index=True)  # business ref (invoice number, task id...)
    status: str = Field(default="sent", max_length=20)
    provider_id: str | None = Field(default=None, max_length=200)
    sent_at: datetime = ts_field()


class IdempotencyKey(SQLModel, table=True):
    """An operator's idempotency key bound to what it did: the same key with other content is refused."""

    __tablename__ = "idempotency_key"

    key: str = Field(primary_key=True, max_length=160)
    fingerprint: str = Field(max_length=64)
    created_at: datetime = ts_field()


class StripeEvent(SQLModel, table=True):
    """Each Stripe webhook event stored once, by Stripe's event id."""

    __tablename__ = "stripe_event"

    event_id: str = Field(primary_key=True, max_length=80)
    type: str = Field(max_length=80)
    object_id: str | None = Field(default=None, max_length=80)
    received_at: datetime = ts_field()
