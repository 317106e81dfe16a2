"""Contest pages: the family's section of the invoice page (form and statuses), the billing team's queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import S3Dep, SessionDep, SettingsDep, TemporalDep
from api.pages.common import check_csrf, guarded, render, signed_in
from api.pages.operator import BILLING_ROLES, NAV, _page
from api.routes.billing_operator.contests import decide_for_operator, queue_item
from api.routes.family.contests import contest_out, open_for_family, read_upload, today_paris
from api.routes.family.invoices import own_invoice
from api.schemas.billing import InvoiceDetail
from api.schemas.contests import DecisionIn
from api.security import Principal
from domain.contests import OPEN_STATUSES, REASON_LABEL, TEXT_MAX, TEXT_MIN, ContestReason, ContestRefused, DecisionKind
from domain.dunning import PAYABLE_STATUSES
from domain.money import parse_eur
from services import contests
from ville.models.people import Role

router = APIRouter(tags=["pages"], include_in_schema=False)
QUEUE = "/operateur/reclamations"
_ENTRY = (QUEUE, "Réclamations", BILLING_ROLES)
if _ENTRY not in NAV:  # the console's navigation gains the queue for the billing roles
    NAV.insert(next((i + 1 for i, e in enumerate(NAV) if e[0] == "/operateur/paiements"), len(NAV)), _ENTRY)
DECISION_LABEL = {
    DecisionKind.ACCEPT_FULL: "Accepter en totalité",
    DecisionKind.ACCEPT_PARTIAL: "Accepter en partie",
    DecisionKind.REFUSE: "Refuser",
}


def contest_section(session: Session, principal: Principal, detail: InvoiceDetail) -> dict[str, Any]:
    """What the invoice page shows about contests: the family's contests of it and which lines it may contest."""
    assert principal.family_account_id is not None
    rows = contests.of_account(session, principal.family_account_id, detail.number)
    busy = {code for r in rows if r.status in OPEN_STATUSES for code in r.lines}
    labels: dict[str, str] = {}
    amounts: dict[str, int] = {}
    for line in detail.lines:
        labels.setdefault(line.activity_code, line.label)
        amounts[line.activity_code] = amounts.get(line.activity_code, 0) + line.amount_cents
    contestable = [(code, labels[code], amounts[code]) for code in labels if code not in busy and amounts[code] > 0]
    return {
        "contests": [contest_out(r) for r in rows],
        "contestable": contestable if detail.status in PAYABLE_STATUSES else [],
        "reasons": list(REASON_LABEL.items()),
        "text_min": TEXT_MIN,
        "text_max": TEXT_MAX,
        "line_labels": labels,
    }


@router.post("/famille/factures/{number}/reclamations")
async def contest_form(
    request: Request,
    number: str,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    s3: S3Dep,
    csrf: Annotated[str, Form()] = "",
    activity_codes: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    document: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The family's contest form: recorded, then back to the invoice page with a confirmation."""
    try:
        principal = signed_in(request, Role.family)
        check_csrf(request, csrf)
        own_invoice(session, principal, number)  # 404 for another family's invoice, before anything else
        try:
            try:
                chosen = ContestReason(reason)
            except ValueError:
                raise ContestRefused("reason", "Choisissez le motif de la réclamation.") from None
            upload = await read_upload(document)
            await open_for_family(
                s3, session, temporal, settings, principal, number, activity_codes or [], chosen, text, upload
            )
        except ContestRefused as err:
            return render(
                request,
                "famille_reclamation_erreur.html",
                422,
                title="Réclamation non envoyée",
                number=number,
                message=err.message_fr,
            )
    except Exception as exc:
        return guarded(request, exc)
    return RedirectResponse(f"/famille/factures/{number}?reclamation=1#reclamations", 303)


def _queue_page(request: Request, session: Session, status_code: int = 200, **extra: Any) -> HTMLResponse:
    today = today_paris()
    return _page(
        request,
        "operateur_reclamations.html",
        status_code,
        title="Réclamations",
        rows=[queue_item(r, today) for r in contests.open_queue(session)],
        decisions=list(DECISION_LABEL.items()),
        reason_labels={r.value: label for r, label in REASON_LABEL.items()},
        notice="Décision enregistrée et transmise à la famille." if request.query_params.get("fait") else None,
        **extra,
    )


@router.get(QUEUE, response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep) -> Response:
    """Open contests, nearest deadline first, each with its decision form."""
    try:
        signed_in(request, *BILLING_ROLES)
        return _queue_page(request, session)
    except Exception as exc:
        return guarded(request, exc)


def _amounts(form: dict[str, str]) -> dict[str, int]:
    """`montant-<code>` fields in euros ("12,50") as cents; empty fields are left out."""
    out = {}
    for name, value in form.items():
        if name.startswith("montant-") and value.strip():
            out[name.removeprefix("montant-")] = parse_eur(value)
    return out


@router.post(QUEUE + "/{ref}/decision")
async def decision_form(request: Request, ref: str, session: SessionDep, temporal: TemporalDep) -> Response:
    """A billing operator's decision form: handed to the contest's workflow, journalled with the reason."""
    try:
        principal = signed_in(request, *BILLING_ROLES)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        check_csrf(request, form.get("csrf", ""))
        try:
            body = DecisionIn(
                kind=form.get("decision", ""),
                answer=form.get("reponse", ""),
                amounts_by_activity=_amounts(form) if form.get("decision") == DecisionKind.ACCEPT_PARTIAL else {},
                reason=form.get("motif", ""),
            )
        except (ValidationError, ValueError):
            message = (
                "Choisissez une décision, écrivez la réponse à la famille (10 caractères au moins), "
                "le motif pour le journal, et des montants en euros (12,50)."
            )
            return _queue_page(request, session, 422, error=message)
        try:
            await decide_for_operator(session, temporal, principal, ref, body)
        except HTTPException as exc:
            if exc.status_code not in (409, 422):
                raise
            detail = exc.detail
            message = detail.get("message", "") if isinstance(detail, dict) else str(detail)
            return _queue_page(request, session, exc.status_code, error=message)
    except Exception as exc:
        return guarded(request, exc)
    return RedirectResponse(f"{QUEUE}?fait=1", 303)
