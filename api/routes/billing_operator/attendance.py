"""Attendance from schools and centres: bulk JSON and CSV import, per-record errors, idempotent."""

from __future__ import annotations

import asyncio
import csv
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, UploadFile, status

from api.deps import AttendanceDep
from api.errors import error_responses
from api.schemas.attendance import AttendanceBatch, IngestOut
from api.security import BillingOperator
from services.attendance import MAX_RECORDS, AttendanceIngest, records_from_csv

router = APIRouter(prefix="/api/attendance", tags=["attendance"])
MAX_CSV_BYTES = 5 * 1024 * 1024
# the file part's media type, in the OpenAPI document (other types answer 415)
CSV_PART = {"requestBody": {"content": {"multipart/form-data": {"encoding": {"file": {"contentType": "text/csv"}}}}}}


def _ingest(ingest: AttendanceIngest, records: list[dict[str, Any]], source: str) -> IngestOut:
    result = ingest.ingest(records, source, datetime.now(UTC).date())
    return IngestOut(accepted=result.accepted, duplicates=result.duplicates, errors=[asdict(e) for e in result.errors])


@router.post("", status_code=status.HTTP_200_OK)
async def post_attendance(body: AttendanceBatch, principal: BillingOperator, ingest: AttendanceDep) -> IngestOut:
    """Record a batch of pointages; sending the same batch again changes nothing."""
    return await asyncio.to_thread(_ingest, ingest, body.records, "api")


@router.post("/csv", responses=error_responses(413, 415), openapi_extra=CSV_PART)
async def import_csv(file: UploadFile, principal: BillingOperator, ingest: AttendanceDep) -> IngestOut:
    """Import a CSV export (`child_ref;activity_code;day;registered`)."""
    if file.content_type not in ("text/csv", "application/vnd.ms-excel", "text/plain"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "Fichier CSV attendu")
    raw = await file.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "Fichier trop volumineux (5 Mo au plus)")
    try:
        records = records_from_csv(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, csv.Error) as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"CSV illisible : {err}") from None
    if len(records) > MAX_RECORDS:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{MAX_RECORDS} lignes au plus")
    return await asyncio.to_thread(_ingest, ingest, records, "csv")
