"""The family's yearly statements (attestations annuelles): sums paid per child, the childcare tax credit PDF."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, HTTPException, Response, status
from sqlmodel import Session

from api.deps import SessionDep
from api.routes.family.account import own_account
from api.schemas.billing import StatementChildOut, StatementOut, StatementYearOut
from api.security import FamilyUser, Principal, not_found
from documents.attestation import AttestationDocument, render_attestation
from domain.calendar import PARIS
from domain.payments import CESU_ELIGIBLE_ACTIVITIES
from domain.statement import eligible_for_childcare_credit, parse_statement_ref, statement_ref, totals_per_child
from services import accounts, statements
from ville.models.billing import FamilyAccount

router = APIRouter(prefix="/api/family", tags=["family"])


def _today_paris() -> date:
    return datetime.now(UTC).astimezone(PARIS).date()


@router.get("/statements")
def my_statements(principal: FamilyUser, session: SessionDep) -> list[StatementYearOut]:
    """Years with payments, newest first; the current year's statement is still incomplete."""
    account = own_account(session, principal)
    this_year = _today_paris().year
    out = []
    for year, settlements in sorted(statements.settlements(session, account.id or 0).items(), reverse=True):
        total = sum(s.amount_cents for s in settlements)
        out.append(StatementYearOut(ref=statement_ref(year, account.ref), year=year, total_paid_cents=total,
                                    complete=year < this_year))  # fmt: skip
    return out


def own_statement(session: Session, principal: Principal, ref: str) -> tuple[StatementOut, FamilyAccount]:
    """The statement if it is the caller's account's; 404 otherwise (never another family's)."""
    parsed = parse_statement_ref(ref)
    account = accounts.account(session, principal.family_account_id) if principal.family_account_id else None
    if parsed is None or account is None or parsed[1] != account.ref:
        raise not_found()
    year = parsed[0]
    totals = totals_per_child(statements.settlements(session, account.id or 0).get(year, []), CESU_ELIGIBLE_ACTIVITIES)
    out = [
        StatementChildOut(
            first_name=c.first_name,
            birth_date=c.birth_date,
            paid_cents=totals[c.ref].paid_cents,
            childcare_cents=totals[c.ref].childcare_cents,
            tax_credit_eligible=eligible_for_childcare_credit(c.birth_date, year),
        )
        for c in statements.children(session, account.id)
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


@router.get("/statements/{ref}")
def my_statement(ref: str, principal: FamilyUser, session: SessionDep) -> StatementOut:
    """Sums paid in the year per child, and the share that counts for the childcare tax credit."""
    return own_statement(session, principal, ref)[0]


def statement_pdf(session: Session, principal: Principal, ref: str) -> tuple[str, bytes]:
    """The attestation's file name and PDF (rendered on demand: the renderer is deterministic); 409 if none."""
    statement, account = own_statement(session, principal, ref)
    if not statement.pdf_available:
        raise HTTPException(status.HTTP_409_CONFLICT, statement.pdf_unavailable_reason)
    payer = accounts.payer(session, account.id)
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


@router.get("/statements/{ref}/pdf")
def my_statement_pdf(ref: str, principal: FamilyUser, session: SessionDep) -> Response:
    """The attestation as a PDF download."""
    name, pdf = statement_pdf(session, principal, ref)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
