"""Family pages: contest an invoice line, and what the invoice page shows of the family's contests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from api.deps import S3Dep, SessionDep, SettingsDep, TemporalDep
from api.pages.common import check_csrf, page_router, signed_in
from api.rendering import render
from api.routes.family.contests import contest_out, open_for_family, read_upload
from api.routes.family.invoices import own_invoice
from api.schemas.billing import InvoiceDetail
from api.security import Principal
from domain.contests import OPEN_STATUSES, REASON_LABEL, TEXT_MAX, TEXT_MIN, ContestReason, ContestRefused
from domain.dunning import PAYABLE_STATUSES
from services import contests
from ville.models.people import Role

router = page_router()


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
    return RedirectResponse(f"/famille/factures/{number}?reclamation=1#reclamations", 303)
