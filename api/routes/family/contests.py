"""The family's contests (réclamations): contest lines of one's own invoice, follow one's contests."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import StringConstraints
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import S3Dep, SessionDep, SettingsDep, TemporalDep
from api.errors import error_responses, field_error, temporal_refusal
from api.routes.family.invoices import own_invoice
from api.schemas.contests import ContestOut
from api.security import FamilyUser, Principal
from contracts.contests import LineContestInput
from domain.audit.evidence import HEAD_BYTES, MAX_BYTES, content_problem, declared_kind, size_problem
from domain.calendar import PARIS
from domain.contests import REASON_LABEL, ContestReason, ContestRefused, ContestStatus
from services import contests
from services.contests import Document
from ville.models.contests import InvoiceContest
from ville.settings import Settings
from workflows.contest_clients import start_contest

router = APIRouter(prefix="/api/family", tags=["family"])
UNAVAILABLE = "Réclamation impossible pour le moment, réessayez dans quelques minutes."


def contest_out(row: InvoiceContest) -> ContestOut:
    """The public view of a contest row."""
    reason = ContestReason(row.reason)
    return ContestOut(
        id=row.ref,
        invoice_number=row.invoice_number,
        reason=reason,
        reason_label=REASON_LABEL[reason],
        text=row.text,
        lines=dict(row.lines),
        contested_cents=row.contested_cents,
        status=ContestStatus(row.status),
        opened_on=row.opened_on,
        deadline=row.deadline,
        has_document=row.document_key is not None,
        answer=row.answer,
        credited_cents=row.credited_cents,
    )


def today_paris() -> date:
    """The City's today (contest dates are Paris days)."""
    return datetime.now(PARIS).date()


@dataclass(frozen=True)
class Upload:
    """A document as received: the client's declared type and the bytes (at most 10 MB + 1 read)."""

    content_type: str
    data: bytes


def check_document(upload: Upload) -> str:
    """The document's type found in its bytes; ContestRefused when empty, too big or not JPEG/PNG/PDF."""
    problem = size_problem(len(upload.data)) or content_problem(upload.content_type, upload.data[:HEAD_BYTES])
    if problem is not None:
        raise ContestRefused("document", problem)
    kind = declared_kind(upload.content_type)
    assert kind is not None  # content_problem refuses an undeclared or mismatched type
    return kind.content_type


async def read_upload(file: UploadFile | None) -> Upload | None:
    """The uploaded file (None when no file was chosen); never more than 10 MB + 1 byte in memory."""
    if file is None or (not file.filename and not file.size):
        return None
    return Upload(file.content_type or "", await file.read(MAX_BYTES + 1))


async def open_for_family(
    s3: Any,
    session: Session,
    temporal: Client,
    settings: Settings,
    principal: Principal,
    number: str,
    codes: list[str],
    reason: ContestReason,
    text: str,
    upload: Upload | None,
) -> InvoiceContest:
    """Record the contest, store its document under a key drawn here, then start its workflow."""
    invoice = own_invoice(session, principal, number)
    document = None
    if upload is not None:
        content_type = check_document(upload)
        ext = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}[content_type]
        key = f"contests/{invoice.number}/{uuid.uuid4().hex}.{ext}"
        document = Document(key, content_type)
    row = contests.new_contest(session, invoice, codes, reason, text, document, today_paris())
    try:
        if document is not None and upload is not None:
            await asyncio.to_thread(
                s3.put_object,
                Bucket=settings.s3_bucket,
                Key=document.key,
                Body=upload.data,
                ContentType=document.content_type,
            )
        inp = LineContestInput(row.ref, row.invoice_number, row.account_id, dict(row.lines), row.opened_on)
        await start_contest(temporal, settings.task_queue, inp)
    except RPCError as err:
        contests.withdraw(session, row.ref)  # nothing waits for it: the family may try again
        raise temporal_refusal(err, UNAVAILABLE) from err
    return row


# the document part is a JPEG, PNG or PDF file, checked on its bytes whatever is declared: the schema says bytes
# (a list of media types here made schema-driven clients try to build a PDF, which they cannot)
DOCUMENT_PART = {
    "requestBody": {
        "content": {"multipart/form-data": {"encoding": {"document": {"contentType": "application/octet-stream"}}}}
    }
}


@router.post(
    "/invoices/{number}/contests",
    status_code=201,
    responses=error_responses(404, 409, 422),
    openapi_extra=DOCUMENT_PART,
)
async def contest_lines(
    number: str,
    principal: FamilyUser,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    s3: S3Dep,
    reason: Annotated[ContestReason, Form()],
    activity_codes: Annotated[
        list[Annotated[str, StringConstraints(max_length=40)]],
        Form(default_factory=list, max_length=20, description="codes d'activité des lignes contestées"),
    ],
    text: Annotated[str, Form(max_length=2000, description="explication, 10 à 2000 caractères")] = "",
    # typed UploadFile (not Optional) so that the schema's part is a file, never a JSON null; absent: no document
    document: Annotated[UploadFile, File(description="JPEG, PNG ou PDF, 10 Mo au plus")] = None,  # type: ignore[assignment]
) -> ContestOut:
    """Contest one or more lines of one's own invoice, with a reason, an explanation and an optional document."""
    try:
        upload = await read_upload(document)
        row = await open_for_family(
            s3, session, temporal, settings, principal, number, activity_codes, reason, text, upload
        )
    except ContestRefused as err:
        raise field_error(f"body.{err.field}", err.message_fr) from None
    return contest_out(row)


@router.get("/contests")
def my_contests(principal: FamilyUser, session: SessionDep) -> list[ContestOut]:
    """The family's contests, newest first."""
    assert principal.family_account_id is not None
    return [contest_out(c) for c in contests.of_account(session, principal.family_account_id)]
