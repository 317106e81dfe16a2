"""The family's invoices: the list, one invoice with its lines, its PDF."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from sqlmodel import Session

from api.deps import BillingStoreDep, S3Dep, SessionDep, SettingsDep
from api.schemas.billing import InvoiceDetail, InvoiceSummary, LineOut
from api.security import FamilyUser, Principal, not_found
from documents.invoice import render_invoice
from domain.dunning import PAYABLE_STATUSES
from services import invoices
from services.billing import BillingStore
from services.payments import payable_cents
from ville.models.billing import Invoice

router = APIRouter(prefix="/api/family", tags=["family"])


def own_invoice(session: Session, principal: Principal, number: str) -> Invoice:
    """The invoice if it belongs to the caller's account; 404 otherwise (never another family's)."""
    invoice = invoices.by_number(session, number)
    if invoice is None or invoice.account_id != principal.family_account_id:
        raise not_found()
    return invoice


def invoice_summary(i: Invoice) -> InvoiceSummary:
    """The invoice as a line of a list."""
    return InvoiceSummary(
        number=i.number,
        period_key=i.period_key,
        issue_date=i.issue_date,
        due_date=i.due_date,
        status=i.status,
        amount_due_cents=i.amount_due_cents,
        remaining_cents=i.remaining_cents,
    )


def invoice_detail(session: Session, invoice: Invoice) -> InvoiceDetail:
    """Everything the invoice page shows."""
    payable = invoice.status in PAYABLE_STATUSES
    return InvoiceDetail(
        **invoice_summary(invoice).model_dump(),
        tranche=invoice.tranche,
        lines_total_cents=invoice.lines_total_cents,
        previous_unpaid_cents=invoice.previous_unpaid_cents,
        credit_applied_cents=invoice.credit_applied_cents,
        payable_now_cents=payable_cents(session, invoice) if payable else 0,
        payable_online=payable,
        lines=[LineOut.model_validate(ln) for ln in invoices.lines(session, invoice.id)],
    )


@router.get("/invoices")
def my_invoices(principal: FamilyUser, session: SessionDep) -> list[InvoiceSummary]:
    """The family's invoices, newest first."""
    return [invoice_summary(i) for i in invoices.of_account(session, principal.family_account_id)]


@router.get("/invoices/{number}")
def my_invoice(number: str, principal: FamilyUser, session: SessionDep) -> InvoiceDetail:
    """One invoice with its lines per child."""
    return invoice_detail(session, own_invoice(session, principal, number))


@router.get("/invoices/{number}/pdf")
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


def ensure_invoice_pdf(store: BillingStore, s3: Any, bucket: str, base_url: str, number: str, key: str) -> str:
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
