"""Inspectors' evidence files, for the JSON API and the pages alike: upload grants, checks by bytes, downloads.

Keys are drawn here and recorded (table `audit_evidence`) before any upload; after that the bucket is only
ever read or written for a key that is recorded for the task at hand AND under that task's own prefix.
Nothing named by a client reaches S3 otherwise.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlmodel import Session, select

from domain.audit.checklist import evidence_field
from domain.audit.evidence import (
    HEAD_BYTES,
    MAX_BYTES,
    MIN_BYTES,
    EvidenceKind,
    content_problem,
    evidence_key,
    evidence_prefix,
    size_problem,
)
from ville.models.audit import AuditEvidence, AuditTask
from ville.models.common import utcnow

UPLOAD_SECONDS = 900
NOT_RECEIVED = "Le fichier n'a pas été reçu : déposez-le de nouveau."


@dataclass(frozen=True)
class UploadGrant:
    """A recorded evidence file and the presigned POST (URL and form fields) that puts it in the bucket."""

    evidence_id: int
    key: str
    name: str
    url: str
    fields: dict[str, str]
    expires_at: datetime


def grant_upload(
    session: Session,
    s3: Any,
    bucket: str,
    task: AuditTask,
    inspector_id: int,
    criterion_code: str,
    filename: str,
    kind: EvidenceKind,
) -> UploadGrant:
    """Record a new evidence file under a key drawn here and sign a POST for it (type and 1 B–10 MB in the policy)."""
    assert task.id is not None
    key = evidence_key(task.campaign_id, task.id, criterion_code, uuid.uuid4().hex, kind)
    # S3 itself refuses a body outside the range; the emulator does not, hence the checks at submission
    post = s3.generate_presigned_post(
        bucket,
        key,
        Fields={"Content-Type": kind.content_type},
        Conditions=[{"Content-Type": kind.content_type}, ["content-length-range", MIN_BYTES, MAX_BYTES]],
        ExpiresIn=UPLOAD_SECONDS,
    )
    row = AuditEvidence(
        task_id=task.id,
        criterion_code=criterion_code,
        s3_key=key,
        filename=filename[:200],
        content_type=kind.content_type,
        inspector_id=inspector_id,
    )
    session.add(row)
    session.commit()
    assert row.id is not None
    return UploadGrant(
        row.id, key, row.filename, post["url"], dict(post["fields"]), utcnow() + timedelta(seconds=UPLOAD_SECONDS)
    )


def recorded(session: Session, task: AuditTask) -> dict[str, AuditEvidence]:
    """The task's recorded evidence files under its own prefix, by key."""
    prefix = evidence_prefix(task.campaign_id, task.id or 0)
    rows = session.exec(select(AuditEvidence).where(AuditEvidence.task_id == task.id)).all()
    return {r.s3_key: r for r in rows if r.s3_key.startswith(prefix)}


def names(session: Session, task: AuditTask) -> dict[str, str]:
    """The name the inspector gave each recorded file, by key (keys carry no client text)."""
    return {key: row.filename for key, row in recorded(session, task).items()}


async def check_cited(
    session: Session, s3: Any, bucket: str, task: AuditTask, evidence: dict[str, list[str]]
) -> list[dict[str, str]]:
    """A field problem per cited file that is unknown, missing, empty, too big or not what it claims to be.

    A file refused for its content or size is removed (by its record, never by a client's key): it cannot be
    cited again, the inspector uploads another one.
    """
    known = recorded(session, task)
    problems: list[dict[str, str]] = []
    for code, keys in sorted(evidence.items()):
        for key in keys:
            row = known.get(key)
            if row is None or row.criterion_code != code:  # not ours: the bucket is not even asked
                problems.append({"field": evidence_field(code), "message": f"Preuve inconnue pour le critère {code}."})
                continue
            problem = await _inspect(s3, bucket, row)
            if problem is None:  # the recorded type is now the one the bytes show (a mismatch is refused)
                continue
            problems.append({"field": evidence_field(code), "message": problem})
            if problem != NOT_RECEIVED:
                await remove(session, s3, bucket, row)
    session.commit()
    return problems


async def _inspect(s3: Any, bucket: str, row: AuditEvidence) -> str | None:
    """Size by HEAD, then format by a ranged GET of the first bytes (they must show the recorded type)."""
    try:
        head = await asyncio.to_thread(s3.head_object, Bucket=bucket, Key=row.s3_key)
    except Exception:  # botocore ClientError 404: the file never reached the bucket
        return NOT_RECEIVED
    problem = size_problem(int(head.get("ContentLength", 0)))
    if problem:
        return problem
    got = await asyncio.to_thread(s3.get_object, Bucket=bucket, Key=row.s3_key, Range=f"bytes=0-{HEAD_BYTES - 1}")
    first = await asyncio.to_thread(got["Body"].read)
    return content_problem(row.content_type, first)


async def remove(session: Session, s3: Any, bucket: str, row: AuditEvidence) -> None:
    """Delete a recorded file and its record (the key comes from the record, under the task's prefix)."""
    task = session.get(AuditTask, row.task_id)
    assert task is not None and row.s3_key.startswith(evidence_prefix(task.campaign_id, row.task_id))
    await asyncio.to_thread(s3.delete_object, Bucket=bucket, Key=row.s3_key)
    session.delete(row)


def find(session: Session, task: AuditTask, evidence_id: int) -> AuditEvidence | None:
    """One recorded evidence file of the task, by its id."""
    row = session.get(AuditEvidence, evidence_id)
    if row is None or row.task_id != task.id:
        return None
    return row if row.s3_key.startswith(evidence_prefix(task.campaign_id, row.task_id)) else None


async def read(s3: Any, bucket: str, row: AuditEvidence) -> bytes:
    """The bytes of a recorded file (10 MB at most, checked at submission)."""
    got = await asyncio.to_thread(s3.get_object, Bucket=bucket, Key=row.s3_key)
    return bytes(await asyncio.to_thread(got["Body"].read))


def download_headers(row: AuditEvidence) -> dict[str, str]:
    """Served as an attachment, never cached by a shared cache (`nosniff` is on every response: api/middleware.py)."""
    plain = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in row.filename)
    ascii_name = plain[-80:] or "preuve"
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.filename)}",
        "Cache-Control": "private, no-store",
    }
