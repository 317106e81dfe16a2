"""Family page: the payments and their outcome."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from api.pages.common import page_router, signed_in
from api.pages.family.payment_plans import family_plans
from api.rendering import render
from api.routes.family.payments import my_payments
from ville.models.people import Role

router = page_router("/famille")


@router.get("/paiements", response_class=HTMLResponse)
def payments_page(request: Request, session: SessionDep) -> Response:
    """The family's payments and their outcome."""
    principal = signed_in(request, Role.family)
    return render(
        request,
        "famille_paiements.html",
        title="Mes paiements",
        payments=my_payments(principal, session),
        plans=family_plans(session, principal),
    )
