"""Family pages: yearly statements (attestations) and their PDF."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from api.pages.common import page_router, signed_in
from api.rendering import render
from api.routes.family.statements import my_statements, own_statement, statement_pdf
from ville.models.people import Role

router = page_router("/famille")


@router.get("/attestations", response_class=HTMLResponse)
def statements_page(request: Request, session: SessionDep) -> Response:
    """The years the family paid in, each with its statement."""
    principal = signed_in(request, Role.family)
    years = my_statements(principal, session)
    return render(request, "famille_attestations.html", title="Attestations annuelles", years=years)


@router.get("/attestations/{ref}", response_class=HTMLResponse)
def statement_page(request: Request, ref: str, session: SessionDep) -> Response:
    """Sums paid in the year per child, the childcare share, and the PDF attestation for taxes."""
    principal = signed_in(request, Role.family)
    statement, _ = own_statement(session, principal, ref)
    return render(request, "famille_attestation.html", title=f"Attestation {statement.year}", statement=statement)


@router.get("/attestations/{ref}/pdf")
def statement_download(request: Request, ref: str, session: SessionDep) -> Response:
    """Download the attestation (PDF)."""
    principal = signed_in(request, Role.family)
    name, pdf = statement_pdf(session, principal, ref)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
