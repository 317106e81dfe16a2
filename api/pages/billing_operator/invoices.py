"""Console page: invoices by period and status, each linked to its payment workflow."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep, SettingsDep
from api.pages.common import page_router, signed_in
from api.pages.console import BILLING_ROLES, PERIOD_KEY, console_page, ui_url
from api.routes.billing_operator.invoices import search_invoices
from domain import labels
from domain.dunning import InvoiceStatus
from ville.ids import invoice_payment_id

router = page_router()


@router.get("/operateur/factures", response_class=HTMLResponse)
def invoices_page(
    request: Request, session: SessionDep, settings: SettingsDep, periode: str = "", statut: str = ""
) -> Response:
    """Invoices by period and status (the operators' invoice search), each linked to its payment workflow."""
    principal = signed_in(request, *BILLING_ROLES)
    errors = []
    status_filter = None
    if statut:
        try:
            status_filter = InvoiceStatus(statut)
        except ValueError:
            errors.append("Statut de facture inconnu.")
    if periode and not PERIOD_KEY.match(periode):
        errors.append("Période attendue au format AAAA-MM.")
    rows = [] if errors else search_invoices(principal, session, periode or None, status_filter, None, 200, 0)
    return console_page(
        request,
        "operateur_factures.html",
        422 if errors else 200,
        title="Factures",
        rows=[(i, ui_url(settings, invoice_payment_id(i.number))) for i in rows],
        errors=errors,
        status_fr=labels.INVOICE_STATUS,
        filters={"periode": periode, "statut": statut},
    )
