"""A case's documents: a presigned S3 form to upload one, the check once uploaded, a short-lived download URL."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import timedelta

from fastapi import APIRouter, HTTPException, status

from api.deps import DbId, ReferralsDep, S3Dep, SettingsDep
from api.errors import field_error
from api.referral_access import Agent, RelayStaff, case_for, now
from api.referral_views import attachment_out
from api.schemas.referrals import AttachmentIn, AttachmentOut, DownloadOut, UploadOut
from api.security import not_found
from domain.referral_cases import CaseStatus, attachment_prefix
from domain.referral_dates import attachments_delete_at
from services.referrals import ReferralService
from ville.models.referrals import ReferralAttachment, ReferralCase, as_utc

router = APIRouter(prefix="/api/rif", tags=["rif"])

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = {"application/pdf", "image/jpeg", "image/png"}
UPLOAD_URL_SECONDS = 15 * 60


@router.post("/cases/{ref}/attachments", status_code=status.HTTP_201_CREATED)
async def start_upload(
    ref: str, body: AttachmentIn, principal: Agent, referrals: ReferralsDep, s3: S3Dep, settings: SettingsDep
) -> UploadOut:
    """A presigned S3 form for one document (PDF, JPEG or PNG, 10 MB at most)."""
    case = case_for(referrals, principal, ref)
    if body.content_type not in ATTACHMENT_TYPES:
        raise field_error("content_type", "Formats acceptés : PDF, JPEG, PNG.", 415)
    if body.size_bytes > MAX_ATTACHMENT_BYTES:
        raise field_error("size_bytes", "Le fichier dépasse 10 Mo.", 413)
    at = now()
    if (
        case.status != CaseStatus.OPEN.value
        or case.attachments_deleted_at is not None
        or at >= attachments_delete_at(as_utc(case.opened_at))
    ):
        raise HTTPException(status.HTTP_409_CONFLICT, "Ce dossier n'accepte plus de pièce jointe.")
    key = f"{attachment_prefix(case.ref)}{secrets.token_hex(16)}"
    assert case.id is not None
    att = ReferralAttachment(case_id=case.id, s3_key=key, filename=re.split(r"[\\/]", body.filename)[-1][:200],
                             content_type=body.content_type, size_bytes=body.size_bytes,
                             uploaded_by_user_id=principal.user_id)  # fmt: skip
    post = await asyncio.to_thread(
        s3.generate_presigned_post,
        Bucket=settings.s3_bucket,
        Key=key,
        Fields={"Content-Type": body.content_type},
        Conditions=[{"Content-Type": body.content_type}, ["content-length-range", 1, body.size_bytes]],
        ExpiresIn=UPLOAD_URL_SECONDS,
    )
    referrals.save_attachment(att)
    return UploadOut(attachment_id=att.id or 0, url=post["url"], fields=post["fields"],
                     expires_at=at + timedelta(seconds=UPLOAD_URL_SECONDS), max_bytes=body.size_bytes)  # fmt: skip


def _attachment(referrals: ReferralService, case: ReferralCase, attachment_id: int) -> ReferralAttachment:
    att = referrals.attachment(attachment_id)
    if att is None or att.case_id != case.id:
        raise not_found()
    return att


@router.post("/cases/{ref}/attachments/{attachment_id}/complete")
async def complete_upload(ref: str, attachment_id: DbId, principal: Agent, referrals: ReferralsDep, s3: S3Dep,
                          settings: SettingsDep) -> AttachmentOut:  # fmt: skip
    """Check the uploaded object (size and type) and mark the attachment uploaded."""
    case = case_for(referrals, principal, ref)
    att = _attachment(referrals, case, attachment_id)
    if att.status != "pending":
        raise HTTPException(status.HTTP_409_CONFLICT, "Pièce jointe déjà traitée.")
    try:
        head = await asyncio.to_thread(s3.head_object, Bucket=settings.s3_bucket, Key=att.s3_key)
    except Exception:
        raise HTTPException(status.HTTP_409_CONFLICT, "Le fichier n'a pas été reçu.") from None
    if head["ContentLength"] > att.size_bytes or head.get("ContentType") != att.content_type:
        await asyncio.to_thread(s3.delete_object, Bucket=settings.s3_bucket, Key=att.s3_key)
        raise field_error("file", "Le fichier reçu ne correspond pas à la déclaration (taille ou format).")
    att.status, att.size_bytes = "uploaded", int(head["ContentLength"])
    referrals.save_attachment(att)
    return attachment_out(att)


@router.get("/cases/{ref}/attachments/{attachment_id}/download")
async def download_attachment(ref: str, attachment_id: DbId, principal: RelayStaff, referrals: ReferralsDep,
                              s3: S3Dep, settings: SettingsDep) -> DownloadOut:  # fmt: skip
    """A 5-minute download URL for an uploaded document."""
    case = case_for(referrals, principal, ref)
    att = _attachment(referrals, case, attachment_id)
    if att.status != "uploaded":
        raise not_found()
    url = await asyncio.to_thread(
        s3.generate_presigned_url, "get_object", Params={"Bucket": settings.s3_bucket, "Key": att.s3_key},
        ExpiresIn=300,
    )  # fmt: skip
    return DownloadOut(url=url, expires_at=now() + timedelta(seconds=300))
