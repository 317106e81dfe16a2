"""Family pages: the invoices, one invoice with its lines and contests, its PDF."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api.deps import BillingStoreDep, S3Dep, SessionDep, SettingsDep
from api.pages.common import page_router, signed_in
from api.pages.family.contests import contest_section
from api.pages.family.payment_plans import plan_section
from api.pages.family.reading import period_fr, read_signed_in
from api.rendering import render
from api.routes.family.invoices import ensure_invoice_pdf, invoice_detail, my_invoices, own_invoice
from api.schemas.billing import InvoiceDetail
from api.security import Principal
from domain.dunning import InvoiceStatus
from services.payments import not_payable_reason
from ville.models.people import Role

router = page_router("/famille")


@router.get("/factures", response_class=HTMLResponse)
async def invoices_page(request: Request) -> Response:
    """The family's invoices."""
    invoices = await read_signed_in(request, lambda session, principal: my_invoices(principal, session), Role.family)
    return render(
        request,
        "famille_factures.html",
        title="Mes factures",
        invoices=invoices,
        period=period_fr,
    )


def _invoice_page_data(session: Session, principal: Principal, number: str) -> dict[str, Any]:
    """What the invoice page shows, read on one session: the invoice (the caller's own, else 404), its contests
    and its payment plans."""
    detail = invoice_detail(session, own_invoice(session, principal, number))
    contests, plans = contest_section(session, principal, detail), plan_section(session, principal, detail)
    return {"invoice": detail, **contests, **plans}


@router.get("/factures/{number}", response_class=HTMLResponse)
async def invoice_page(request: Request, number: str, settings: SettingsDep) -> Response:
    """One invoice: lines per child, totals, PDF, and the card form while it is payable online."""
    data = await read_signed_in(
        request, lambda session, principal: _invoice_page_data(session, principal, number), Role.family
    )
    detail: InvoiceDetail = data["invoice"]
    children: dict[str, list[object]] = {}
    for line in detail.lines:
        children.setdefault(line.child_first_name, []).append(line)
    blocked = None if detail.status is InvoiceStatus.CANCELLED else not_payable_reason(detail.status)
    return render(
        request,
        "famille_facture.html",
        title=f"Facture {detail.number}",
        children=children,
        period=period_fr,
        blocked=blocked,
        transferred=detail.status is InvoiceStatus.TRANSFERRED,
        stripe_js_url=settings.stripe_js_url,
        paid=request.query_params.get("paye") == "1",
        **data,
    )


@router.get("/factures/{number}/pdf")
async def invoice_pdf(
    request: Request, number: str, session: SessionDep, s3: S3Dep, settings: SettingsDep, store: BillingStoreDep
) -> Response:
    """Redirect to a short-lived link to the invoice PDF."""
    principal = signed_in(request, Role.family)
    invoice = own_invoice(session, principal, number)
    url = await asyncio.to_thread(
        ensure_invoice_pdf,
        store,
        s3,
        settings.s3_bucket,
        settings.public_base_url,
        invoice.number,
        f"invoices/{invoice.period_key}/{invoice.number}.pdf",
    )
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)
