"""Request and response models of the billing API: the family's invoices, payments, account and statements; the
billing operators' cycles and money actions."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints

from domain.dunning import InvoiceStatus
from domain.money_guard import MAX_MONEY_BODY_CENTS
from domain.payments import PaymentMethod
from ville.models.billing import DeliveryChannel, MandateStatus, PaymentStatus

# --- the family's side -------------------------------------------------------------------------------------


class InvoiceSummary(BaseModel):
    """One invoice in the family's list."""

    number: str
    period_key: str
    issue_date: date
    due_date: date
    status: InvoiceStatus
    amount_due_cents: int
    remaining_cents: int


class LineOut(BaseModel):
    """One line of an invoice."""

    child_first_name: str
    activity_code: str
    label: str
    quantity: int
    unit_price_cents: int
    amount_cents: int


class InvoiceDetail(InvoiceSummary):
    """An invoice with its lines, what is payable now and how."""

    tranche: int
    lines_total_cents: int
    previous_unpaid_cents: int
    credit_applied_cents: int
    payable_now_cents: int
    payable_online: bool
    lines: list[LineOut]


class PaymentOut(BaseModel):
    """A payment of the family."""

    id: int
    invoice_number: str
    method: str
    amount_cents: int
    status: PaymentStatus
    failure_reason: str | None
    created_at: str


class CardPaymentIn(BaseModel):
    """Pay an invoice with a card saved on the page (SetupIntent confirmed by Stripe.js)."""

    payment_method_id: str = Field(pattern=r"^pm_[A-Za-z0-9_]+$", max_length=64)
    amount_cents: int = Field(gt=0, le=10_000_000)


class SetupIntentOut(BaseModel):
    """Client secret for Stripe.js to save a card or a SEPA mandate."""

    client_secret: str
    publishable_key: str


class MandateConfirmIn(BaseModel):
    """The SetupIntent confirmed by the page for a SEPA mandate."""

    setup_intent_id: str = Field(pattern=r"^seti_[A-Za-z0-9_]+$", max_length=64)


class PreferencesIn(BaseModel):
    """How the family wants to receive invoices and reminders."""

    delivery_channel: DeliveryChannel
    sms_opt_in: bool


class AccountOut(BaseModel):
    """The family account, as the family sees it."""

    ref: str
    delivery_channel: DeliveryChannel
    sms_opt_in: bool
    mandate_status: MandateStatus
    credit_cents: int
    balance_cents: int


class MandateOut(BaseModel):
    """The family's SEPA mandate: its status, reference and the debited account, masked."""

    status: MandateStatus
    reference: str | None
    iban_masked: str | None


class StatementChildOut(BaseModel):
    """One child on the yearly statement."""

    first_name: str
    birth_date: date
    paid_cents: int
    childcare_cents: int
    tax_credit_eligible: bool


class StatementOut(BaseModel):
    """Sums paid in a calendar year, per child; the PDF attestation exists once the year is over."""

    ref: str
    year: int
    account_ref: str
    children: list[StatementChildOut]
    total_paid_cents: int
    childcare_eligible_cents: int
    pdf_available: bool
    pdf_unavailable_reason: str | None


class StatementYearOut(BaseModel):
    """A year the family paid something in."""

    ref: str
    year: int
    total_paid_cents: int
    complete: bool


# --- the billing operators' side ---------------------------------------------------------------------------


class CycleStart(BaseModel):
    """Start the cycle of a period that has ended, saying why (the reason goes to the journal)."""

    period_key: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-09"])
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)] = Field(
        examples=["Facturation de septembre–octobre 2026"]
    )
    batch_size: int = Field(500, ge=10, le=5_000)
    dry_run: bool = Field(False, description="obsolète : l'aperçu est POST /api/billing/cycles/preview")


class CyclePreviewIn(BaseModel):
    """The period to preview."""

    period_key: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-09"])


class ActionReason(BaseModel):
    """Why an operator acts (kept in the audit log)."""

    reason: str = Field("", max_length=500)


def _json_number(value: object) -> object:
    # a string or a boolean is never taken for an amount ("100" is refused, not coerced); an integral JSON
    # number such as 100.0 is an integer for JSON Schema and is accepted, 100.5 is refused by the int type
    if isinstance(value, str | bool):
        raise ValueError("un montant en centimes est un nombre entier JSON, pas une chaîne")
    return value


# money in bodies: positive integers of cents, bounded, never a string
MoneyCents = Annotated[int, Field(gt=0, le=MAX_MONEY_BODY_CENTS), BeforeValidator(_json_number)]


class CounterPaymentIn(BaseModel):
    """A CESU, cheque or cash payment received at the counter."""

    key: str = Field(min_length=8, max_length=80, description="idempotency key chosen by the counter")
    method: PaymentMethod
    amount_cents: MoneyCents
    reference: str = Field("", max_length=80, description="cheque or CESU number")


class CreditNoteIn(BaseModel):
    """An avoir: amounts given back per activity of the invoice."""

    key: str = Field(min_length=8, max_length=80)
    amounts_by_activity: dict[Annotated[str, Field(max_length=40)], MoneyCents] = Field(min_length=1, max_length=20)
    reason: str = Field(min_length=3, max_length=500)


class RefundIn(BaseModel):
    """Give money back on a payment (card refunds go through Stripe)."""

    key: str = Field(min_length=8, max_length=80)
    amount_cents: MoneyCents
    reason: str = Field(min_length=3, max_length=500)
