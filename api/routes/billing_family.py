"""Facil'familles for families: my invoices, pay by card, SEPA mandate, delivery preference, payments."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import stripe
from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import bindparam
from sqlmodel import Session, col, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.deps import BillingStoreDep, PaymentsDep, S3Dep, SessionDep, SettingsDep, TemporalDep
from api.errors import field_error, temporal_refusal
from api.security import FamilyUser, Principal, not_found
from contracts.billing import CardPaymentRequest, PaymentAttemptResult
from documents.pdf import AttestationDocument, render_attestation, render_invoice
from domain.calendar import PARIS
from domain.dunning import PAYABLE_STATUSES, InvoiceStatus
from domain.ledger import receivable_account
from domain.payments import CESU_ELIGIBLE_ACTIVITIES, PaymentMethod
from domain.sepa import NOT_A_SEPA_MANDATE, is_sepa_mandate_method, mandate_reference, mask_iban
from domain.statement import (
    PaidLine,
    Settlement,
    eligible_for_childcare_credit,
    net_of_refund,
    parse_statement_ref,
    statement_ref,
    totals_per_child,
)
from services.billing import BillingStore, credit_balances
from services.payments import InvoiceNotPayable, ensure_payable, payable_cents
from ville.models.billing import (
    Child,
    DeliveryChannel,
    FamilyAccount,
    Invoice,
    InvoiceLine,
    LedgerPosting,
    MandateStatus,
    Payer,
    Payment,
    PaymentAllocation,
    PaymentStatus,
)
from workflows.clients import pay_invoice_by_card

router = APIRouter(prefix="/api/famille", tags=["famille"])


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


# The families' most viewed reads, built once: SQLAlchemy memoizes a statement's cache key on the object, and
# computing it for a statement built per request was a third of these pages' SQL time (bench/pages.py)
INVOICE_BY_NUMBER = select(Invoice).where(Invoice.number == bindparam("number"))
INVOICES_OF_ACCOUNT = (
    select(Invoice).where(Invoice.account_id == bindparam("account_id")).order_by(col(Invoice.id).desc())
)
LINES_OF_INVOICE = (
    select(*(getattr(InvoiceLine, name) for name in LineOut.model_fields))
    .where(InvoiceLine.invoice_id == bindparam("invoice_id"))
    .order_by(col(InvoiceLine.id))
)


def own_invoice(session: Session, principal: Principal, number: str) -> Invoice:
    """The invoice if it belongs to the caller's account; 404 otherwise (never another family's)."""
    invoice = session.execute(INVOICE_BY_NUMBER, {"number": number}).scalars().first()
    if invoice is None or invoice.account_id != principal.family_account_id:
        raise not_found()
    return invoice


def _summary(i: Invoice) -> InvoiceSummary:
    return InvoiceSummary(
        number=i.number,
        period_key=i.period_key,
        issue_date=i.issue_date,
        due_date=i.due_date,
        status=i.status,
        amount_due_cents=i.amount_due_cents,
        remaining_cents=i.remaining_cents,
    )


@router.get("/factures")
def my_invoices(principal: FamilyUser, session: SessionDep) -> list[InvoiceSummary]:
    """The family's invoices, newest first."""
    rows = session.execute(INVOICES_OF_ACCOUNT, {"account_id": principal.family_account_id}).scalars()
    return [_summary(i) for i in rows]


def invoice_detail(session: Session, invoice: Invoice) -> InvoiceDetail:
    """Everything the invoice page shows."""
    lines = session.execute(LINES_OF_INVOICE, {"invoice_id": invoice.id}).mappings()
    payable = invoice.status in PAYABLE_STATUSES
    return InvoiceDetail(
        **_summary(invoice).model_dump(),
        tranche=invoice.tranche,
        lines_total_cents=invoice.lines_total_cents,
        previous_unpaid_cents=invoice.previous_unpaid_cents,
        credit_applied_cents=invoice.credit_applied_cents,
        payable_now_cents=payable_cents(session, invoice) if payable else 0,
        payable_online=payable,
        lines=[LineOut.model_validate(ln) for ln in lines],
    )


@router.get("/factures/{number}")
def my_invoice(number: str, principal: FamilyUser, session: SessionDep) -> InvoiceDetail:
    """One invoice with its lines per child."""
    return invoice_detail(session, own_invoice(session, principal, number))


@router.get("/factures/{number}/pdf")
async def my_invoice_pdf(
    number: str,
    principal: FamilyUser,
    session: SessionDep,
    s3: S3Dep,
    settings: SettingsDep,
    store: BillingStoreDep,
) -> dict[str, str]:
    """A short-lived link to the invoice PDF (rendered from its immutable data, stored once)."""
    invoice = own_invoice(session, principal, number)
    key = f"invoices/{invoice.period_key}/{invoice.number}.pdf"
    url = await asyncio.to_thread(
        ensure_invoice_pdf,
        store,
        s3,
        settings.s3_bucket,
        settings.public_base_url,
        invoice.number,
        key,
    )
    return {"url": url}


def ensure_invoice_pdf(store: BillingStore, s3: object, bucket: str, base_url: str, number: str, key: str) -> str:
    """Upload the invoice's PDF on first request, then presign a 5-minute download link."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception:
        doc = store.document(number, base_url)
        if doc is None:
            raise not_found() from None
        s3.put_object(Bucket=bucket, Key=key, Body=render_invoice(doc), ContentType="application/pdf")
    return str(
        s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": key, "ResponseContentDisposition": f'inline; filename="{number}.pdf"'},
            ExpiresIn=300,
        )
    )


@router.post("/factures/{number}/carte/setup")
async def card_setup(
    number: str, principal: FamilyUser, session: SessionDep, payments: PaymentsDep, settings: SettingsDep
) -> SetupIntentOut:
    """Prepare Stripe.js to save a card for this payment."""
    invoice = own_invoice(session, principal, number)
    _check_payable(invoice)
    secret = await asyncio.to_thread(payments.setup_intent_secret, invoice.account_id, "card")
    return SetupIntentOut(client_secret=secret, publishable_key=settings.stripe_publishable_key)


def _check_payable(invoice: Invoice) -> None:
    """409 with the page's French message for a transferred, cancelled or settled invoice."""
    try:
        ensure_payable(invoice)
    except InvoiceNotPayable as err:
        raise HTTPException(status.HTTP_409_CONFLICT, err.message_fr) from None


@router.post("/factures/{number}/carte")
async def pay_by_card(
    number: str,
    body: CardPaymentIn,
    principal: FamilyUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> PaymentAttemptResult:
    """Charge the saved card through the invoice's payment workflow and answer with the outcome."""
    invoice = own_invoice(session, principal, number)
    _check_payable(invoice)
    try:
        return await pay_invoice_by_card(
            temporal, settings.task_queue, number, CardPaymentRequest(body.payment_method_id, body.amount_cents)
        )
    except RPCError as err:
        raise temporal_refusal(err, "Paiement impossible pour le moment, réessayez.") from err
    except WorkflowUpdateFailedError as err:
        message = str(err.cause.message) if err.cause is not None else "Paiement impossible."
        raise HTTPException(status.HTTP_409_CONFLICT, message) from None


@router.get("/paiements")
def my_payments(principal: FamilyUser, session: SessionDep) -> list[PaymentOut]:
    """The family's payments and their outcome."""
    rows = session.exec(
        select(Payment, Invoice.number)
        .join(Invoice, col(Invoice.id) == Payment.invoice_id)
        .where(Payment.account_id == principal.family_account_id)
        .order_by(col(Payment.id).desc())
    ).all()
    return [
        PaymentOut(
            id=p.id,
            invoice_number=n,
            method=p.method.value,
            amount_cents=p.amount_cents,
            status=p.status,
            failure_reason=p.failure_reason,
            created_at=p.created_at.isoformat(),
        )
        for p, n in rows
        if p.id is not None
    ]


@router.get("/compte")
def my_account(principal: FamilyUser, session: SessionDep) -> AccountOut:
    """Preferences, mandate, credit and balance of the family account."""
    account = session.get(FamilyAccount, principal.family_account_id)
    if account is None:
        raise not_found()
    postings = session.exec(select(LedgerPosting).where(LedgerPosting.account == receivable_account(account.ref)))
    return AccountOut(
        ref=account.ref,
        delivery_channel=account.delivery_channel,
        sms_opt_in=account.sms_opt_in,
        mandate_status=account.mandate_status,
        credit_cents=credit_balances(session, [account.ref]).get(account.ref, 0),
        balance_cents=sum(p.debit_cents - p.credit_cents for p in postings),
    )


@router.put("/preferences")
def set_preferences(body: PreferencesIn, principal: FamilyUser, session: SessionDep) -> AccountOut:
    """Choose e-mail or post for invoices, and SMS reminders."""
    account = session.get(FamilyAccount, principal.family_account_id)
    if account is None:
        raise not_found()
    account.delivery_channel = body.delivery_channel
    account.sms_opt_in = body.sms_opt_in
    session.add(account)
    session.commit()
    return my_account(principal, session)


@router.post("/mandat/setup")
async def mandate_setup(principal: FamilyUser, payments: PaymentsDep, settings: SettingsDep) -> SetupIntentOut:
    """Prepare Stripe.js to collect the IBAN and the SEPA mandate."""
    assert principal.family_account_id is not None
    secret = await asyncio.to_thread(payments.setup_intent_secret, principal.family_account_id, "sepa_debit")
    return SetupIntentOut(client_secret=secret, publishable_key=settings.stripe_publishable_key)


@router.post("/mandat")
async def mandate_confirm(
    body: MandateConfirmIn, principal: FamilyUser, session: SessionDep, payments: PaymentsDep
) -> AccountOut:
    """Record the mandate once Stripe confirmed the SetupIntent (checked server-side)."""
    account = session.get(FamilyAccount, principal.family_account_id)
    if account is None:
        raise not_found()
    try:
        intent = await asyncio.to_thread(payments.setup_intent, body.setup_intent_id)
    except stripe.InvalidRequestError:
        # an unknown or foreign SetupIntent id: the same answer as an unconfirmed one
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Mandat non confirmé par la banque.") from None
    if intent.customer != account.stripe_customer_id or intent.status != "succeeded":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Mandat non confirmé par la banque.")
    method = await asyncio.to_thread(payments.payment_method, str(intent.payment_method))
    if not is_sepa_mandate_method(method.type):  # a card saved by a SetupIntent is no debit mandate
        raise field_error("body.setup_intent_id", NOT_A_SEPA_MANDATE)
    account.stripe_payment_method_id = str(intent.payment_method)
    account.mandate_status = MandateStatus.active
    account.sepa_rejections = 0
    session.add(account)
    _remember_iban_last4(session, account, method)
    session.commit()
    return my_account(principal, session)


@router.delete("/mandat")
def mandate_revoke(principal: FamilyUser, session: SessionDep) -> AccountOut:
    """Revoke the SEPA mandate: later invoices are paid by other means."""
    account = session.get(FamilyAccount, principal.family_account_id)
    if account is None:
        raise not_found()
    account.mandate_status = MandateStatus.revoked
    session.add(account)
    session.commit()
    return my_account(principal, session)


# --- SEPA mandate summary -------------------------------------------------------------------------------


class MandateOut(BaseModel):
    """The family's SEPA mandate: its status, reference and the debited account, masked."""

    status: MandateStatus
    reference: str | None
    iban_masked: str | None


def _remember_iban_last4(session: Session, account: FamilyAccount, method: Any) -> None:
    """Keep only the last four characters of the debited IBAN (to show it masked), never the IBAN."""
    sepa = getattr(method, "sepa_debit", None)
    last4 = getattr(sepa, "last4", None) if sepa is not None else None
    payer = session.exec(select(Payer).where(Payer.account_id == account.id)).first()
    if payer is not None and last4:
        payer.iban_last4 = str(last4)[-4:]
        session.add(payer)


def mandate_summary(session: Session, account: FamilyAccount) -> MandateOut:
    """What the mandate page shows once a mandate exists."""
    payer = session.exec(select(Payer).where(Payer.account_id == account.id)).first()
    has_method = account.mandate_status is not MandateStatus.none and account.stripe_payment_method_id
    return MandateOut(
        status=account.mandate_status,
        reference=mandate_reference(account.ref, account.stripe_payment_method_id or "") if has_method else None,
        iban_masked=mask_iban(payer.iban_last4) if payer is not None and payer.iban_last4 else None,
    )


@router.get("/mandat")
def my_mandate(principal: FamilyUser, session: SessionDep) -> MandateOut:
    """The SEPA mandate of the family account (reference and masked IBAN)."""
    account = session.get(FamilyAccount, principal.family_account_id)
    if account is None:
        raise not_found()
    return mandate_summary(session, account)


# --- yearly statement (attestation annuelle) --------------------------------------------------------------

# money that did not leave the family's pocket in the year is not "paid" for the tax credit
_NOT_PAID = frozenset({PaymentMethod.CREDIT_NOTE})


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


def _today_paris() -> date:
    return datetime.now(UTC).astimezone(PARIS).date()


def _paid_year(payment: Payment) -> int | None:
    settled = payment.settled_at
    if settled is None:
        return None
    aware = settled.replace(tzinfo=UTC) if settled.tzinfo is None else settled
    return aware.astimezone(PARIS).year


def _settlements(session: Session, account_id: int) -> dict[int, list[Settlement]]:
    """Each year's settlements of the account: payment shares per invoice, net of refunds, with the lines."""
    rows = session.exec(
        select(PaymentAllocation, Payment)
        .join(Payment, col(Payment.id) == col(PaymentAllocation.payment_id))
        .where(
            Payment.account_id == account_id,
            col(Payment.status).in_([PaymentStatus.succeeded, PaymentStatus.refunded]),
        )
    ).all()
    invoice_ids = {a.invoice_id for a, _ in rows}
    lines: dict[int, list[PaidLine]] = defaultdict(list)
    if invoice_ids:
        for ln in session.exec(select(InvoiceLine).where(col(InvoiceLine.invoice_id).in_(invoice_ids))):
            lines[ln.invoice_id].append(PaidLine(ln.child_ref, ln.activity_code, ln.amount_cents))
    years: dict[int, list[Settlement]] = defaultdict(list)
    for allocation, payment in rows:
        year = _paid_year(payment)
        if year is None or payment.method in _NOT_PAID:
            continue
        amount = net_of_refund(allocation.amount_cents, payment.amount_cents, payment.refunded_cents)
        years[year].append(Settlement(amount, lines[allocation.invoice_id]))
    return years


def _own_account(session: Session, principal: Principal) -> FamilyAccount:
    account = session.get(FamilyAccount, principal.family_account_id)
    if account is None:
        raise not_found()
    return account


@router.get("/attestations")
def my_statements(principal: FamilyUser, session: SessionDep) -> list[StatementYearOut]:
    """Years with payments, newest first; the current year's statement is still incomplete."""
    account = _own_account(session, principal)
    this_year = _today_paris().year
    out = []
    for year, settlements in sorted(_settlements(session, account.id or 0).items(), reverse=True):
        total = sum(s.amount_cents for s in settlements)
        out.append(StatementYearOut(ref=statement_ref(year, account.ref), year=year, total_paid_cents=total,
                                    complete=year < this_year))  # fmt: skip
    return out


def own_statement(session: Session, principal: Principal, ref: str) -> tuple[StatementOut, FamilyAccount]:
    """The statement if it is the caller's account's; 404 otherwise (never another family's)."""
    parsed = parse_statement_ref(ref)
    account = session.get(FamilyAccount, principal.family_account_id) if principal.family_account_id else None
    if parsed is None or account is None or parsed[1] != account.ref:
        raise not_found()
    year = parsed[0]
    totals = totals_per_child(_settlements(session, account.id or 0).get(year, []), CESU_ELIGIBLE_ACTIVITIES)
    children = session.exec(select(Child).where(Child.account_id == account.id).order_by(col(Child.birth_date)))
    out = [
        StatementChildOut(
            first_name=c.first_name,
            birth_date=c.birth_date,
            paid_cents=totals[c.ref].paid_cents,
            childcare_cents=totals[c.ref].childcare_cents,
            tax_credit_eligible=eligible_for_childcare_credit(c.birth_date, year),
        )
        for c in children
        if c.ref in totals
    ]
    eligible = sum(c.childcare_cents for c in out if c.tax_credit_eligible)
    reason = None
    if year >= _today_paris().year:
        reason = f"L'attestation {year} sera disponible à partir du 1er janvier {year + 1}."
    elif not eligible:
        reason = (
            f"Aucune somme payée en {year} n'ouvre droit au crédit d'impôt pour frais de garde "
            "(garde d'enfants de moins de 6 ans au 1er janvier)."
        )
    statement = StatementOut(
        ref=statement_ref(year, account.ref),
        year=year,
        account_ref=account.ref,
        children=out,
        total_paid_cents=sum(c.paid_cents for c in out),
        childcare_eligible_cents=eligible,
        pdf_available=reason is None,
        pdf_unavailable_reason=reason,
    )
    return statement, account


@router.get("/attestations/{ref}")
def my_statement(ref: str, principal: FamilyUser, session: SessionDep) -> StatementOut:
    """Sums paid in the year per child, and the share that counts for the childcare tax credit."""
    return own_statement(session, principal, ref)[0]


def statement_pdf(session: Session, principal: Principal, ref: str) -> tuple[str, bytes]:
    """The attestation's file name and PDF (rendered on demand: the renderer is deterministic); 409 if none."""
    statement, account = own_statement(session, principal, ref)
    if not statement.pdf_available:
        raise HTTPException(status.HTTP_409_CONFLICT, statement.pdf_unavailable_reason)
    payer = session.exec(select(Payer).where(Payer.account_id == account.id)).first()
    if payer is None:
        raise not_found()
    eligible = [c for c in statement.children if c.tax_credit_eligible and c.childcare_cents > 0]
    doc = AttestationDocument(
        account_ref=account.ref,
        year=statement.year,
        payer_name=f"{payer.first_name} {payer.last_name}",
        payer_address=payer.address,
        children=tuple((c.first_name, c.birth_date, c.childcare_cents) for c in eligible),
        total_cents=statement.childcare_eligible_cents,
        issue_date=_today_paris(),
    )
    return f"attestation-frais-de-garde-{statement.year}.pdf", render_attestation(doc)


@router.get("/attestations/{ref}/pdf")
def my_statement_pdf(ref: str, principal: FamilyUser, session: SessionDep) -> Response:
    """The attestation as a PDF download."""
    name, pdf = statement_pdf(session, principal, ref)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
